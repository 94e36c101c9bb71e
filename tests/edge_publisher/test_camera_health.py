"""Every camera of a multi-camera edge on /metrics and /healthz: the real model, real videos,
a real Mosquitto with the shipped ACL and a login per camera."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from edge_publisher.__main__ import build
from edge_publisher.settings import EdgePublisherSettings
from edge_publisher.source import FrameReader, SourceError
from sightline.config.edge import CameraConfig
from sightline.health import Heartbeat
from sightline.mqtt.client import MqttClient
from sightline.service import ServiceContext
from tests.edge_publisher.edge_process import MODEL, EdgeProcess
from tests.edge_publisher.videos import moving_square_video
from tests.support.broker import Broker, acl_broker, password
from tests.support.waiting import wait_until

PROMTOOL = shutil.which("promtool") or "promtool"  # tools/setup.sh installs it: never skipped


def sample(text: str, name: str, camera: str) -> float | None:
    """The value of ``name{camera="..."}`` (its only label) in a /metrics text."""
    prefix = f'{name}{{camera="{camera}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else None


@pytest.mark.slow
def test_each_cameras_client_is_on_metrics_and_healthz_and_a_failed_reader_ends_the_edge(
    tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    broker = acl_broker(tmp_path / "acl", ("driveway", "porch"))
    try:
        videos = {
            name: moving_square_video(tmp_path / f"{name}.avi", frames=20)
            for name in ("driveway", "porch", "garage")
        }
        config = {
            "device_id": "jetson-01",
            "mqtt": {"username": "driveway", "password": password("driveway")},
            "cameras": [
                {"camera_id": "driveway", "url": str(videos["driveway"]), "loop": True, "fps": 8},
                {
                    "camera_id": "porch",
                    "url": str(videos["porch"]),
                    "loop": True,
                    "fps": 8,
                    "mqtt": {"username": "porch", "password": password("porch")},
                },
                {
                    # Not a user of the broker: refused at every connect.
                    "camera_id": "garage",
                    "url": str(videos["garage"]),
                    "loop": True,
                    "fps": 8,
                    "mqtt": {"username": "garage", "password": "wrong"},
                },
            ],
            "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
            "frames": {"interval_s": 1.0, "on_detection": False},
        }
        edge = EdgeProcess(broker, tmp_path / "edge", config, instance=None)
        edge.start()
        processes.append(edge)

        def published(camera: str) -> float:
            try:  # the health server starts once the model is loaded
                text = edge.metrics_text()
            except OSError:
                return 0.0
            return sample(text, "sightline_mqtt_published_total", camera) or 0.0

        wait_until(
            lambda: published("driveway") >= 5 and published("porch") >= 5,
            timeout=120,
            what="both logged-in cameras publish through their own clients",
        )
        text = edge.metrics_text()
        # Each camera's own client, labelled: the two that logged in, and the refused one.
        assert sample(text, "sightline_mqtt_connected", "driveway") == 1.0
        assert sample(text, "sightline_mqtt_connected", "porch") == 1.0
        assert sample(text, "sightline_mqtt_connected", "garage") == 0.0
        assert sample(text, "sightline_mqtt_published_total", "garage") == 0.0
        assert (sample(text, "sightline_publish_queue_depth", "garage") or 0.0) > 0
        # No unlabelled client series is left behind, and the exposition is valid.
        assert not [
            line for line in text.splitlines() if line.startswith("sightline_mqtt_connected ")
        ]
        lint = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        # /healthz names exactly the camera whose connection is down.
        status, body = edge.healthz()
        assert (status, json.loads(body)["failing"]) == (503, ["mqtt-garage"])

        # Porch's file vanishes: its reader cannot open it again, and the edge goes down
        # (a supervisor restarts it) instead of running on without the camera.
        videos["porch"].unlink()
        assert edge.wait(60) == 1, edge.log_text()
        failures = [
            line
            for line in edge.log_text().splitlines()
            if line.startswith("{") and "main loop failed" in line
        ]
        assert len(failures) == 1, edge.log_text()
        assert f"cannot open {str(videos['porch'])!r}" in json.loads(failures[0])["exception"]
    finally:
        broker.stop()


def test_a_reader_is_healthy_until_its_source_fails(tmp_path: Path) -> None:
    video = moving_square_video(tmp_path / "v.avi", frames=5)
    reader = FrameReader(CameraConfig(url=str(video), loop=True), name="reader-test")
    assert reader.healthy  # not started yet: the loop starts it
    reader.start()
    try:
        assert reader.next(timeout=30) is not None
        assert reader.healthy
        video.unlink()

        def failed() -> bool:
            try:
                reader.next(timeout=0.2)
            except SourceError:
                return True
            return False

        wait_until(failed, timeout=30, what="the reader reports the vanished file")
        assert not reader.healthy
    finally:
        reader.stop()


def test_a_reader_that_failed_after_the_loop_took_every_frame_is_not_finished(
    tmp_path: Path,
) -> None:
    """A loop as fast as the decoding takes each frame as it comes: when the looping file
    then cannot be opened again, the camera must not pass for ended (the edge would exit
    0, as after a file's last frame), but fail."""
    video = moving_square_video(tmp_path / "v.avi", frames=5)
    reader = FrameReader(CameraConfig(url=str(video), loop=True), name="reader-fast")
    reader.start()
    try:
        assert reader.next(timeout=30) is not None
        video.unlink()
        with contextlib.suppress(SourceError):
            while reader.healthy:  # take every frame as soon as it is there
                reader.next(timeout=0.2)
        assert not reader.finished
        with pytest.raises(SourceError, match="cannot open"):
            reader.next(timeout=0)
    finally:
        reader.stop()


def test_a_reader_that_ends_its_file_or_is_stopped_stays_healthy(tmp_path: Path) -> None:
    video = moving_square_video(tmp_path / "v.avi", frames=3)
    ended = FrameReader(CameraConfig(url=str(video)), name="reader-ended")
    ended.start()
    frames = 0
    while not ended.finished:
        frames += ended.next(timeout=5) is not None
    assert frames == 3
    ended.stop()
    assert ended.healthy

    stopped = FrameReader(CameraConfig(url=str(video), loop=True), name="reader-stopped")
    stopped.start()
    assert stopped.next(timeout=30) is not None
    stopped.stop()
    assert stopped.healthy


def test_an_instance_that_is_no_camera_keeps_every_client_family_one_family(
    broker: Broker, tmp_path: Path
) -> None:
    videos = [moving_square_video(tmp_path / f"{i}.avi", frames=3) for i in range(2)]
    settings = EdgePublisherSettings.model_validate(
        {
            "device_id": "jetson-01",
            "instance": "edge-1",
            "mqtt": {"url": broker.url},
            "cameras": [
                {"camera_id": "driveway", "url": str(videos[0])},
                {"camera_id": "porch", "url": str(videos[1])},
            ],
            "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
        }
    )
    registry = CollectorRegistry()
    ctx: ServiceContext[EdgePublisherSettings] = ServiceContext(
        "edge-publisher",
        settings,
        MqttClient(
            settings.effective_mqtt(),
            service="edge-publisher",
            instance=settings.instance,
            registry=registry,
        ),
        registry,
        Heartbeat(30.0),
        threading.Event(),
        tmp_path / "state",
        argparse.Namespace(record=None, max_frames=None),
    )
    build(ctx)
    try:
        text = generate_latest(registry).decode()
    finally:
        for hook in ctx.on_stop:
            hook()
    connected = [line for line in text.splitlines() if line.startswith("sightline_mqtt_connected")]
    # One family: the instance's own connection under an empty camera, none unlabelled.
    assert sorted(line.split("}")[0] for line in connected) == [
        'sightline_mqtt_connected{camera=""',
        'sightline_mqtt_connected{camera="driveway"',
        'sightline_mqtt_connected{camera="porch"',
    ]
    assert {"reader-driveway", "reader-porch", "mqtt-driveway", "mqtt-porch"} <= set(
        ctx.health_checks
    )
    lint = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_envelopes_the_broker_refuses_fail_healthz_and_are_counted_as_lost_at_exit(
    tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    """A camera with no login of its own publishes with the edge's, which the shipped ACL
    lets write only its own camera's topics: every porch envelope is refused. The edge has
    nothing to hold back for them, so it must say so: /healthz, and the exit summary."""
    broker = acl_broker(tmp_path / "acl", ("driveway",))
    try:
        videos = {name: moving_square_video(tmp_path / f"{name}.avi", 20) for name in ("a", "b")}
        config = {
            "device_id": "jetson-01",
            "mqtt": {"username": "driveway", "password": password("driveway")},
            "cameras": [
                {"camera_id": name, "url": str(videos[video]), "loop": True, "fps": 8}
                for name, video in (("driveway", "a"), ("porch", "b"))
            ],
            "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
            "frames": {"enabled": False},
        }
        edge = EdgeProcess(broker, tmp_path / "edge", config, instance=None)
        edge.start()
        processes.append(edge)

        def refused() -> bool:
            try:
                status, body = edge.healthz()
            except OSError:  # the health server starts once the model is loaded
                return False
            return status == 503 and "publishes-porch" in json.loads(body)["failing"]

        wait_until(refused, timeout=120, what="/healthz says the broker refuses publishes")
        wait_until(
            lambda: edge.log_text().count("refused a publish to detections/porch") >= 3,
            timeout=60,
            what="porch's envelopes refused",
        )
        assert edge.stop() == 0
        said = {
            line["camera_id"]: line
            for line in edge.log_lines()
            if "undelivered_envelopes" in line and "camera_id" in line
        }
        assert said["porch"]["level"] == "warning"
        assert said["porch"]["envelopes_refused"] == said["porch"]["frames"] > 0
        assert said["porch"]["undelivered_envelopes"] == said["porch"]["frames"]
        assert said["driveway"]["undelivered_envelopes"] == 0
        assert said["driveway"]["frames"] > 0
    finally:
        broker.stop()
