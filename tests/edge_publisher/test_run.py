"""A run's identity and figures: run ids, the instance name, the stats payload, what was
never delivered."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from edge_publisher.delivery import count_undelivered
from edge_publisher.run import RunStats, new_run_id
from sightline.config.settings import EdgeSettings
from sightline.ids import validate_id
from sightline.mqtt.queue import PublishQueue
from sightline.timestamps import parse_timestamp


def test_run_ids_are_valid_ids_that_differ_between_runs_started_the_same_second() -> None:
    moment = datetime(2026, 11, 27, 15, 49, 32, 999_000, tzinfo=UTC)
    ids = {new_run_id(moment) for _ in range(200)}
    assert len(ids) == 200
    for run_id in ids:
        assert validate_id(run_id) == run_id
        assert re.fullmatch(r"20261127T154932Z-[0-9a-f]{6}", run_id)


@pytest.mark.usefixtures("clean_env")
def test_the_instance_is_the_camera_id_unless_one_is_given() -> None:
    named = {"device_id": "jetson-01", "camera_id": "driveway"}
    assert EdgeSettings.model_validate(named).instance == "driveway"
    assert EdgeSettings.model_validate({"device_id": "jetson-01"}).instance == "jetson-01"
    assert EdgeSettings.model_validate({**named, "instance": "edge-a"}).instance == "edge-a"


def test_stats_carry_the_run_and_the_fps_since_the_last_ones() -> None:
    stats = RunStats("jetson-01", "driveway", "r1", interval_s=10.0)
    first = json.loads(stats.payload(100.0, frames=0, dropped=0))
    assert first["fps"] == 0.0
    assert not stats.due(109.9)
    assert stats.due(110.0)
    second = json.loads(stats.payload(110.0, frames=125, dropped=4))
    assert second == {
        "camera_id": "driveway",
        "device_id": "jetson-01",
        "run_id": "r1",
        "fps": 12.5,
        "frames": 125,
        "dropped": 4,
        "timestamp": second["timestamp"],
    }
    assert parse_timestamp(second["timestamp"]).tzinfo is not None
    final = json.loads(stats.payload(112.0, frames=150, dropped=4, final=True))
    assert (final["fps"], final["frames"]) == (0.0, 150)


def test_undelivered_counts_dropped_and_queued_envelopes_and_frames_apart() -> None:
    outbox = PublishQueue(maxsize=10)
    for _ in range(14):
        outbox.put("detections/cam", b"envelope")
    lost = count_undelivered(outbox, "detections/cam", "detections/cam/frame", frames_offline=3)
    assert (lost.envelopes_dropped, lost.envelopes_queued, lost.envelopes) == (4, 10, 14)
    assert (lost.frames_dropped, lost.frames_queued, lost.frames) == (0, 0, 3)
    assert len(outbox) == 0
    nothing = count_undelivered(PublishQueue(10), "detections/cam", "detections/cam/frame")
    assert not nothing
    assert nothing.as_fields()["undelivered_envelopes"] == 0
