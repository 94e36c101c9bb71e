"""``sightline-edge`` / ``python -m edge_publisher``: run the edge-publisher.

Example:
    .. code-block:: console

        $ sightline-edge --config edge.yaml --record run.jsonl --max-frames 300
"""

from __future__ import annotations

import argparse
import logging
import threading
from functools import partial
from pathlib import Path
from typing import NoReturn

from prometheus_client import CollectorRegistry

from edge_publisher.camera import Camera
from edge_publisher.detector import Detector, DetectorError, offline_defaults
from edge_publisher.logs import capture_native_output, demote_telemetry, quiet_native_logs
from edge_publisher.loop import EdgeLoop
from edge_publisher.metrics import CameraClients, EdgeMetrics, move_metrics
from edge_publisher.progress import ProgressLine
from edge_publisher.record import Recorder
from edge_publisher.run import new_run_id
from edge_publisher.settings import CameraPlan, EdgePublisherSettings
from edge_publisher.source import FrameReader, SourceError, SourceKind
from sightline.errors import ConfigError
from sightline.mqtt.client import MqttClient
from sightline.service import (
    STOP_TIMEOUT_S,
    MainLoop,
    ServiceContext,
    argument_parser,
    config_exit,
    run_service,
)
from sightline.topics import Service

SERVICE = Service.EDGE

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
        help="stop each camera after N processed frames",
    )
    return result


def _refuse(problem: Exception) -> NoReturn:
    log.error("cannot start: %s", problem)
    config_exit("sightline-edge", [str(problem)])


def _client(ctx: ServiceContext, plan: CameraPlan, clients: CameraClients) -> MqttClient:
    """The process's connection for the camera named by ``instance``; a connection of its own
    (its own last will on the camera's status topic) for every other camera.

    Either way its metrics are served labelled ``camera``; /healthz checks every connection
    (``mqtt-<camera>``), handler thread (``worker-<camera>``) and refused-publish state
    (``publishes-<camera>``) besides the process client's ``mqtt``, ``worker``, ``publishes``.
    """
    if not plan.own_client:
        clients.add(plan.camera_id, move_metrics(ctx.client.metrics, ctx.registry))
        return ctx.client
    registry = CollectorRegistry()
    client = MqttClient(plan.mqtt, service=SERVICE, instance=plan.camera_id, registry=registry)
    clients.add(plan.camera_id, registry)
    ctx.health_checks[f"mqtt-{plan.camera_id}"] = lambda: client.connected
    ctx.health_checks[f"worker-{plan.camera_id}"] = lambda: client.worker_alive
    ctx.health_checks[f"publishes-{plan.camera_id}"] = lambda: _accepted(client)
    return client


REFUSED_UNHEALTHY_S = 60.0
"""/healthz fails this long after the broker refused a publish of the edge's."""


def _accepted(client: MqttClient) -> bool:
    """For /healthz: the broker refused none of the client's publishes lately (an envelope
    it refuses is lost: the edge has no message to hold back or dead-letter for it)."""
    return client.publishes_ok and not client.tracker.refused_within(REFUSED_UNHEALTHY_S)


def _reader_healthy(reader: FrameReader) -> bool:
    return reader.healthy


def build(ctx: ServiceContext[EdgePublisherSettings]) -> MainLoop:
    """Open the cameras and the model; return the capture + inference loop.

    Each start is a new run per camera (``source.run_id`` in every envelope); at exit, after
    the clients have stopped, each camera says what it never delivered.

    Exits with status 2 when the model, a class name or a video file is missing.
    """
    settings = ctx.settings
    capture_native_output()
    demote_telemetry()
    ready = threading.Event()
    try:
        plans = settings.camera_plans()
        readers = [
            FrameReader(plan.camera, ready=ready, name=f"reader-{plan.camera_id}") for plan in plans
        ]
        detector = Detector(settings.detector)
    except (SourceError, DetectorError, ConfigError) as exc:
        _refuse(exc)
    recorder = Recorder(ctx.args.record) if ctx.args.record is not None else None
    metrics = EdgeMetrics.from_registry(ctx.registry)
    clients = CameraClients(ctx.registry)
    cameras: list[Camera] = []
    for plan, reader in zip(plans, readers, strict=True):
        # A reader that died takes the process down (a critical thread) or ends the loop
        # (a failed source); until then /healthz names it.
        ctx.health_checks[f"reader-{plan.camera_id}"] = partial(_reader_healthy, reader)
        run_id = new_run_id()
        log.info(
            "run %s of camera %s",
            run_id,
            plan.camera_id,
            extra={"run_id": run_id, "camera_id": plan.camera_id},
        )
        cameras.append(
            Camera(
                plan=plan,
                device_id=settings.device_id,
                client=_client(ctx, plan, clients),
                reader=reader,
                tracker=detector.tracker(),
                frames_config=settings.frames,
                metrics=metrics,
                max_detections=settings.max_detections,
                recorder=recorder,
                max_frames=ctx.args.max_frames,
                run_id=run_id,
                own_client=plan.own_client,
            )
        )
    if all(plan.own_client for plan in plans):
        # The instance is none of the cameras: its connection (status only) is served with
        # an empty ``camera``, so that every client family stays one family on /metrics.
        clients.add("", move_metrics(ctx.client.metrics, ctx.registry))
    files = [r for r in readers if r.kind is SourceKind.FILE]
    loop = EdgeLoop(
        cameras=cameras,
        detector=detector,
        metrics=metrics,
        heartbeat=ctx.heartbeat,
        stopping=ctx.stopping,
        frame_ready=ready,
        batch=settings.detector.batch_cameras,
        progress=ProgressLine(
            sum(r.total_frames for r in files), wanted=len(files) == len(readers)
        ),
    )
    ctx.health_checks["publishes"] = partial(_accepted, ctx.client)  # the cameras sharing it
    for camera in cameras:
        if camera.own_client:
            camera.client.start()

    def summarize() -> None:
        # After the clients have stopped: what they could not deliver by then never will be.
        for camera in cameras:
            if camera.own_client:
                camera.client.stop(STOP_TIMEOUT_S)
        if recorder is not None:
            recorder.close()
        for camera in cameras:
            camera.summarize()

    ctx.on_stop.append(summarize)
    return loop


def main(argv: list[str] | None = None) -> int:
    """Run the edge-publisher; return the exit status."""
    offline_defaults()
    quiet_native_logs()
    return run_service(SERVICE, EdgePublisherSettings, build, argv, parser())


if __name__ == "__main__":
    raise SystemExit(main())
