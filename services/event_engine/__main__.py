"""``sightline-engine``: the event-engine's command line.

Example:
    .. code-block:: shell

        sightline-engine --config processor.yaml
        sightline-engine --config processor.yaml --replay detections.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from event_engine.engine import Engine
from event_engine.replay import replay
from event_engine.service import build
from sightline.config import EngineSettings
from sightline.logs import configure_logging
from sightline.service import argument_parser, config_exit, load_or_exit, run_service
from sightline.topics import Service

SERVICE = Service.ENGINE


def parser() -> argparse.ArgumentParser:
    """The base parser plus ``--replay FILE``."""
    result = argument_parser(SERVICE, "Sightline event-engine: detections -> events")
    result.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FILE",
        help="replay recorded envelopes (JSON lines or mosquitto_sub -v) without a broker; "
        "print one event per line on stdout",
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the engine (or a replay); return the exit status."""
    options = parser()
    args = options.parse_args(argv)
    if args.replay is not None:
        settings = load_or_exit(EngineSettings, args.config, options.prog, require=True)
        configure_logging(SERVICE, settings.instance, settings.log.level, settings.log.format)
        problems = geometry_problems(settings)
        if problems:
            config_exit(options.prog, problems)
        if not args.replay.is_file():
            config_exit(options.prog, [f"--replay {args.replay}: no such file"])
        replay(settings, args.replay, sys.stdout)
        return 0
    return run_service(SERVICE, EngineSettings, build, argv, options, check=geometry_problems)


def geometry_problems(settings: EngineSettings) -> list[str]:
    """The lines, zones and rules that cannot be laid out on a frame (``--check``)."""
    return Engine(settings).check_geometry()


if __name__ == "__main__":
    raise SystemExit(main())
