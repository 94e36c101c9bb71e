"""Several cameras in one edge process: the real model, real videos, a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_publisher.settings import EdgePublisherSettings
from sightline.errors import ConfigError
from sightline.messages import DetectionEnvelope, decode_envelope
from tests.edge_publisher.edge_process import MODEL, VIDEO, EdgeProcess
from tests.edge_publisher.test_service import longest_run
from tests.edge_publisher.videos import moving_square_video
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen
from tests.support.service_process import status_now

CAMERAS = ("driveway", "porch")


def two_cameras(first: dict[str, Any], second: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """A two-camera edge config (driveway, porch) for the bundled model, persons only."""
    return {
        "device_id": "jetson-01",
        "cameras": [{"camera_id": "driveway", **first}, {"camera_id": "porch", **second}],
        "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
        "frames": {"interval_s": 1.0, "on_detection": False},
        **sections,
    }


def envelopes(messages: list[Seen], camera: str) -> list[DetectionEnvelope]:
    return [decode_envelope(m.payload) for m in messages if m.topic == f"detections/{camera}"]


def status(camera: str) -> str:
    return f"sightline/edge-publisher/{camera}/status"


@pytest.mark.slow
def test_one_edge_with_two_cameras_publishes_both_with_their_own_frames_runs_and_tracks(
    broker: Broker, collector: Collector, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    frames = 60
    config = two_cameras({"url": str(VIDEO)}, {"url": str(VIDEO), "stats_interval_s": 0.5})
    edge = EdgeProcess(broker, tmp_path, config, "--max-frames", str(frames), instance=None)
    edge.start()
    processes.append(edge)
    assert edge.wait(180) == 0, edge.log_text()
    seen = collector.wait_for(
        lambda ms: all(
            len(envelopes(ms, c)) >= frames and status_now(status(c), b"offline")(ms)
            for c in CAMERAS
        ),
        timeout=30,
    )
    driveway, porch = (envelopes(seen, camera) for camera in CAMERAS)

    for camera, received in zip(CAMERAS, (driveway, porch), strict=True):
        assert [e.frame.number for e in received] == list(range(frames)), camera
        assert {(e.source.device_id, e.source.camera_id) for e in received} == {
            ("jetson-01", camera)
        }
        assert len({e.source.run_id for e in received}) == 1
        assert min(len(e.detections) for e in received[5:]) >= 5, camera
        assert longest_run(received) >= 40, camera
        # Its own tracker: ids count from 1 for each camera.
        ids = {d.track_id for e in received for d in e.detections if d.track_id is not None}
        assert min(ids) == 1, camera
    assert driveway[0].source.run_id != porch[0].source.run_id
    # The same video through two trackers of their own: the same ids frame by frame (one
    # tracker shared by both would see every person twice and number them apart).
    assert [[d.track_id for d in e.detections] for e in driveway] == [
        [d.track_id for d in e.detections] for e in porch
    ]
    # Each camera's status and stats, under its own id; offline at a clean exit.
    for camera in CAMERAS:
        final = [
            json.loads(m.payload)
            for m in seen
            if m.topic == f"sightline/edge-publisher/{camera}/stats"
        ][-1]
        assert (final["camera_id"], final["frames"], final["fps"]) == (camera, frames, 0.0)
    summaries = [line for line in edge.log_lines() if line["msg"].startswith("processed")]
    assert sorted(line["camera_id"] for line in summaries) == sorted(CAMERAS)


@pytest.mark.slow
def test_when_a_two_camera_edge_dies_each_camera_goes_offline_by_its_own_last_will(
    broker: Broker, collector: Collector, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    video = moving_square_video(tmp_path / "squares.avi", frames=25)
    other = moving_square_video(tmp_path / "other.avi", frames=30, width=160, height=120)
    config = two_cameras(
        {"url": str(video), "loop": True, "fps": 10},
        {"url": str(other), "loop": True, "fps": 5},
    )
    edge = EdgeProcess(broker, tmp_path, config, instance=None)
    edge.start()
    processes.append(edge)

    def both(ms: list[Seen]) -> bool:
        return all(
            len(envelopes(ms, c)) >= 10 and status_now(status(c), b"online")(ms) for c in CAMERAS
        )

    seen = collector.wait_for(both, timeout=90)
    paced = {c: envelopes(seen, c) for c in CAMERAS}
    assert {(e.frame.width, e.frame.height) for e in paced["porch"]} == {(160, 120)}
    assert {(e.frame.width, e.frame.height) for e in paced["driveway"]} == {(320, 240)}
    for received in paced.values():
        assert [e.frame.number for e in received] == list(range(len(received)))

    edge.kill()
    collector.wait_for(
        lambda ms: all(status_now(status(c), b"offline")(ms) for c in CAMERAS), timeout=30
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"camera_id": "a", "cameras": [{"camera_id": "b"}]},
            "give either camera/camera_id or cameras",
        ),
        ({"cameras": [{"camera_id": "b"}, {"camera_id": "b"}]}, "cameras.1.camera_id"),
        ({"cameras": [{"camera_id": "engine"}]}, "cameras.0.camera_id: 'engine' is reserved"),
        (
            {"cameras": [{"camera_id": "b", "mqtt": {"username": "b"}}]},
            "cameras.0.mqtt: camera 'b' is this edge's instance",
        ),
    ],
)
def test_a_bad_camera_list_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, ConfigError), match=message):
        EdgePublisherSettings.model_validate({"device_id": "jetson-01", **config})


def test_each_camera_of_the_list_gets_its_own_login_and_client_id() -> None:
    settings = EdgePublisherSettings.model_validate(
        {
            "device_id": "jetson-01",
            "mqtt": {"username": "driveway", "client_id": "edge-1"},
            "cameras": [
                {
                    "camera_id": "driveway",
                    "url": "a.mp4",
                    "roi": {"x1": 0, "y1": 0, "x2": 9, "y2": 9},
                },
                {"camera_id": "porch", "url": "b.mp4", "fps": 5, "mqtt": {"username": "porch"}},
            ],
        }
    )
    first, second = settings.camera_plans()
    assert settings.instance == "driveway"
    assert (first.own_client, first.mqtt.username, first.mqtt.client_id) == (
        False,
        "driveway",
        "edge-1",
    )
    assert (second.own_client, second.mqtt.username, second.mqtt.client_id) == (
        True,
        "porch",
        "edge-1-porch",
    )
    assert (first.roi is not None, second.roi, second.camera.fps) == (True, None, 5)
    assert settings.camera_ids == ["driveway", "porch"]
