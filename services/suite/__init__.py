"""``sightline``: every service of the suite on one box, and the demo.

Usage::

    sightline --config sightline.yaml     # mode: local, until SIGTERM / Ctrl-C
    sightline demo                        # the bundled video through the whole suite
    sightline check FILE...               # validate any service's config; exit 0 or 2
    sightline preview --config engine.yaml --camera ID [--image F | --video F] --out P.png
    sightline --version
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from sightline import __version__
from sightline.config.settings import SuiteSettings
from sightline.logs import configure_logging
from sightline.service import CONFIG_HELP, load_or_exit
from sightline.topics import Service


def main(argv: Sequence[str] | None = None) -> int:
    """The ``sightline`` command."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["preview"]:
        # the console draws it; services never import each other, so run its command
        command = [sys.executable, "-m", f"{Service.CONSOLE.module}.preview", *arguments[1:]]
        return subprocess.run(command, check=False).returncode
    if arguments[:1] == ["check"]:
        from suite.check import check_main

        return check_main(arguments[1:])
    parser = argparse.ArgumentParser(
        prog="sightline",
        description="Run every Sightline service on one box (mode: local), or the demo.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["run", "demo", "check", "preview"],
        default="run",
        help="run (default): the suite from --config; demo: the bundled sample, no config "
        "needed; check FILE...: validate configs (sightline check --help); preview: draw a "
        "camera's lines and zones on a picture (sightline preview --help)",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="FILE",
        help=f"suite config (mode: local). {CONFIG_HELP}",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/demo"),
        help="demo only: where its outputs go (cleared first)",
    )
    parser.add_argument(
        "--assets",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="demo only: the directory holding samples/ and models/ (default: the current "
        "directory, i.e. run it from the repository's root)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(arguments)
    if args.command == "demo":
        from suite.demo import run_demo

        configure_logging(Service.SUITE, "demo", "WARNING", "text")
        return run_demo(args.state_dir, args.assets)

    settings = load_or_exit(SuiteSettings, args.config, parser.prog, require=True)
    configure_logging(Service.SUITE, settings.instance, settings.log.level, settings.log.format)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from suite.run import run_suite

    return run_suite(settings, stop)
