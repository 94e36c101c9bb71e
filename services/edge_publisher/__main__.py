"""``sightline-edge`` / ``python -m edge_publisher``: run the edge-publisher.

Example:
    .. code-block:: console

        $ sightline-edge --config edge.yaml --record run.jsonl --max-frames 300
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import NoReturn

from edge_publisher.detector import Detector, DetectorError, offline_defaults
from edge_publisher.loop import EdgeLoop
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.record import Recorder
from edge_publisher.run import new_run_id
from edge_publisher.source import FrameReader, SourceError
from sightline.config.settings import EdgeSettings
from sightline.service import MainLoop, ServiceContext, argument_parser, config_exit, run_service

SERVICE = "edge-publisher"

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    """The command line: ``--config``, ``--record FILE``, ``--max-frames N``."""
    result = argument_parser(SERVICE, "Camera -> YOLO + ByteTrack -> detection envelopes on MQTT.")
    result.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every envelope to FILE as JSON lines (no frame bytes)",
    )
    result.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="stop after N processed frames",
    )
    return result


def _refuse(problem: Exception) -> NoReturn:
    log.error("cannot start: %s", problem)
    config_exit("sightline-edge", [str(problem)])


def build(ctx: ServiceContext) -> MainLoop:
    """Open the camera and the model; return the capture + inference loop.

    Each start is a new run (``source.run_id`` in every envelope); at exit, after the client
    has stopped, the loop says what it never delivered.

    Exits with status 2 when the model, a class name or the video file is missing.
    """
    settings = ctx.settings
    assert isinstance(settings, EdgeSettings)
    try:
        reader = FrameReader(settings.camera)
        detector = Detector(settings.detector)
    except (SourceError, DetectorError) as exc:
        _refuse(exc)
    recorder = Recorder(ctx.args.record) if ctx.args.record is not None else None
    run_id = new_run_id()
    log.info("run %s of camera %s", run_id, settings.effective_camera_id, extra={"run_id": run_id})
    loop = EdgeLoop(
        settings=settings,
        client=ctx.client,
        reader=reader,
        detector=detector,
        metrics=EdgeMetrics.from_registry(ctx.registry),
        heartbeat=ctx.heartbeat,
        stopping=ctx.stopping,
        recorder=recorder,
        max_frames=ctx.args.max_frames,
        run_id=run_id,
    )

    def summarize() -> None:
        # After the client has stopped: what it could not deliver by then never will be.
        loop.summarize()

    ctx.on_stop.append(summarize)
    return loop


def main(argv: list[str] | None = None) -> int:
    """Run the edge-publisher; return the exit status."""
    offline_defaults()
    return run_service(SERVICE, EdgeSettings, build, argv, parser())


if __name__ == "__main__":
    raise SystemExit(main())
