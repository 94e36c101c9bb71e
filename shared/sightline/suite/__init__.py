"""``sightline``: every service of the suite on one box, and the demo.

Usage::

    sightline --config sightline.yaml     # mode: local, until SIGTERM / Ctrl-C
    sightline demo                        # the bundled video through the whole suite
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from sightline.config.settings import SuiteSettings
from sightline.logs import configure_logging
from sightline.service import load_or_exit


def main(argv: Sequence[str] | None = None) -> int:
    """The ``sightline`` command."""
    parser = argparse.ArgumentParser(
        prog="sightline",
        description="Run every Sightline service on one box (mode: local), or the demo.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["run", "demo"],
        default="run",
        help="run (default): the suite from --config; demo: the bundled sample",
    )
    parser.add_argument("--config", "-c", type=Path, help="suite config (mode: local)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/demo"),
        help="demo only: where its outputs go (cleared first)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from sightline.suite.demo import run_demo

        configure_logging("suite", "demo", "WARNING", "text")
        return run_demo(args.state_dir)

    settings = load_or_exit(SuiteSettings, args.config)
    configure_logging("suite", settings.instance, settings.log.level, settings.log.format)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from sightline.suite.run import run_suite

    return run_suite(settings, stop)
