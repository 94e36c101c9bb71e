"""Hostile input to the frame-store process: ids that climb out of its root, a decompression
bomb, and a flood of camera ids nobody configured.

Each is refused with one dead letter naming the field; nothing is written outside the root,
the memory does not grow with the bomb's claimed size, and a thousand unknown cameras do not
create a thousand frame rings, Home Assistant entities or metric series.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sightline.messages import BBox, encode
from tests.frame_store.media import bomb, frame_message, jpeg_of, line_event
from tests.frame_store.process import FrameStoreProcess
from tests.frame_store.test_service import CAMERA, send_event, send_frames, wait_announced
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import wait_until

BOX = BBox(x1=500, y1=200, x2=560, y2=330)
DEADLETTER = "sightline/deadletter/frame-store"
BOMB_GROWTH_LIMIT_KB = 64 * 1024
"""Decoding the bomb would take 12000 x 12000 x 3 bytes = 412 MiB; refusing it takes nothing."""


@pytest.fixture
def service(broker: Broker, tmp_path: Path) -> Iterator[FrameStoreProcess]:
    """A frame-store whose snapshot root is one level below ``tmp_path/site``."""
    started = FrameStoreProcess(
        broker, tmp_path, root=tmp_path / "site" / "snapshots", max_cameras=5, frame_wait_s=1
    )
    yield started
    started.close()


def letters(collector: Collector) -> list[dict[str, str]]:
    return [json.loads(m.payload) for m in collector.on(DEADLETTER)]


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of a live process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def every_file(directory: Path) -> set[str]:
    return {
        str(Path(root, name).relative_to(directory))
        for root, _, names in os.walk(directory)
        for name in names
    }


def test_ids_that_climb_out_of_the_root_are_dead_lettered_and_nothing_is_written_outside(
    broker: Broker, collector: Collector, service: FrameStoreProcess, tmp_path: Path
) -> None:
    service.start_online(collector)
    before = every_file(tmp_path)
    climbing = line_event(CAMERA, 40, BOX).model_copy(update={"camera_id": ".."})
    climbing_frame = json.loads(frame_message(CAMERA, 40, np.zeros((48, 64, 3), np.uint8)))
    climbing_frame["source"]["camera_id"] = ".."  # the models refuse to build it: edit the JSON
    sent = [
        ("detections/../frame", json.dumps(climbing_frame).encode()),
        ("events/../line_cross", encode(climbing)),
    ]
    for event_id in ("..", "../x", "."):
        event = line_event(CAMERA, 40, BOX).model_copy(update={"event_id": event_id})
        sent.append((f"events/{CAMERA}/line_cross", encode(event)))
    for topic, payload in sent:
        publish(broker.host, broker.port, topic, [payload])
    good = line_event(CAMERA, 40, BOX)
    send_frames(broker, [40])
    send_event(broker, good)

    [announced] = wait_announced(collector)

    assert announced.event_id == good.event_id
    reasons = [letter["reason"] for letter in letters(collector)]
    assert [r.split(" ")[0].rstrip(":") for r in reasons] == [  # the field first
        "topic",
        "topic",
        "event_id",
        "event_id",
        "event_id",
    ], reasons
    written = every_file(tmp_path) - before
    outside = {f for f in written if not f.startswith(("site/snapshots/", "state/", "broker/"))}
    assert outside == set()
    assert {Path(f).parts[2] for f in written if f.startswith("site/")} == {CAMERA}
    assert not (tmp_path / "site" / "2025-01-15").exists()


def test_a_jpeg_bomb_is_refused_from_its_header_and_the_memory_does_not_grow(
    broker: Broker, collector: Collector, service: FrameStoreProcess, tmp_path: Path
) -> None:
    service.start_online(collector)
    send_frames(broker, [40])  # warm up: a real frame decoded, annotated, stored, announced
    send_event(broker, line_event(CAMERA, 40, BOX))
    wait_announced(collector)
    assert service.process is not None
    before = memory_kb(service.process.pid)

    claimed = json.loads(frame_message(CAMERA, 50, np.zeros((8, 8, 3), np.uint8)))
    claimed["frame"].update(width=12000, height=12000)
    claimed["frame_data"]["base64"] = base64.b64encode(bomb()).decode()
    payload = json.dumps(claimed).encode()
    publish(broker.host, broker.port, f"detections/{CAMERA}/frame", [payload])
    send_event(broker, line_event(CAMERA, 50, BOX, track_id=8))  # would pick the bomb's frame
    second = wait_announced(collector, 2)[1]

    after = memory_kb(service.process.pid)
    print(f"frame-store memory before the bomb {before}, after {after} (kB)")
    [letter] = letters(collector)
    assert letter["reason"].startswith("frame_data: the JPEG states 12000x12000")
    assert second.frame_number != 50  # never decoded: the event took another frame or none
    assert after["VmHWM"] - before["VmHWM"] < BOMB_GROWTH_LIMIT_KB, (before, after)


def test_a_thousand_unknown_cameras_get_no_rings_no_entities_and_no_metric_series(
    broker: Broker, collector: Collector, service: FrameStoreProcess
) -> None:
    service.start_online(collector)
    tiny = jpeg_of(np.zeros((48, 64, 3), np.uint8))
    assert len(tiny) < 1000
    for n in range(1000):
        payload = json.loads(frame_message(f"cam-{n:04d}", 1, np.zeros((48, 64, 3), np.uint8)))
        publish(
            broker.host,
            broker.port,
            f"detections/cam-{n:04d}/frame",
            [json.dumps(payload).encode()],
        )

    wait_until(lambda: len(letters(collector)) >= 995, 120, "995 dead letters")

    refused = letters(collector)
    assert len(refused) == 995
    assert all("max_cameras=5" in letter["reason"] for letter in refused)
    assert {letter["topic"] for letter in refused} == {
        f"detections/cam-{n:04d}/frame" for n in range(5, 1000)
    }
    late = Collector(broker.host, broker.port, "homeassistant/#")
    try:
        retained = late.wait_for(lambda ms: len(ms) >= 5, timeout=10)
    finally:
        late.close()
    assert sorted(m.topic for m in retained) == [
        f"homeassistant/image/sightline_cam_{n:04d}/snapshot/config" for n in range(5)
    ]
    assert service.metric("sightline_frame_store_cameras") == 5
    assert service.metric("sightline_frames_kept_total") == 5
    metrics = service.metrics_text()
    assert "cam-0999" not in metrics
    assert "cam-0000" not in metrics  # no series per camera, known or not
