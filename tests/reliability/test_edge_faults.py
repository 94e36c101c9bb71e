"""Fault 6: the edge with the broker unreachable for part of the run (real video and model)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.messages import decode_envelope
from tests.edge_publisher.edge_process import EdgeProcess, edge_config
from tests.reliability.recorder import Recorder
from tests.support.broker import Broker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # the real model on the bundled video

PROCESSED = "sightline_edge_frames_processed_total"
DROPPED = "sightline_publish_dropped_total"


@pytest.fixture
def edge(broker: Broker, tmp_path: Path) -> Iterator[EdgeProcess]:
    """The edge on the looping bundled video at 12 fps, a 20-message publish queue."""
    config = edge_config(
        camera={"url": str(edge_config()["camera"]["url"]), "loop": True, "fps": 12}
    )
    process = EdgeProcess(
        broker,
        tmp_path,
        config,
        SIGHTLINE_MQTT__PUBLISH_QUEUE_SIZE="20",
        SIGHTLINE_MQTT__RECONNECT_MIN_S="0.5",
    )
    try:
        yield process
    finally:
        process.close()


def test_an_edge_cut_off_from_the_broker_keeps_processing_reports_drops_and_keeps_order(
    broker: Broker, edge: EdgeProcess
) -> None:
    recorder = Recorder(broker, "detections/driveway")
    try:
        edge.start()
        wait_until(lambda: len(recorder.received()) >= 10, 90, "envelopes before the outage")
        broker.stop()
        down_at, down_time = edge.metric(PROCESSED), time.monotonic()
        wait_until(lambda: edge.metric(PROCESSED) >= down_at + 40, 60, "processing offline")
        offline_fps = (edge.metric(PROCESSED) - down_at) / (time.monotonic() - down_time)
        broker.start()
        back = len(recorder.received())
        wait_until(lambda: len(recorder.received()) >= back + 30, 60, "envelopes after it")
        dropped = edge.metric(DROPPED)
        assert edge.stop() == 0
    finally:
        recorder.close()
    numbers = [decode_envelope(p).frame.number for p in recorder.received()]
    missing = set(range(numbers[0], numbers[-1] + 1)) - set(numbers)
    repeats = len(numbers) - len(set(numbers))
    print(
        f"offline: {offline_fps:.1f} fps processed, {dropped:.0f} dropped, {len(missing)} gaps, "
        f"{repeats} QoS 1 redeliveries"
    )
    # In order; a frame in flight when the broker went away may come twice (QoS 1), next to
    # itself, and the engine takes the repeat as a duplicate frame.
    assert numbers == sorted(numbers)
    assert 0 < len(missing) <= dropped
    # At exit it says what never arrived: the envelopes the full queue dropped, nothing else
    # (the broker was back, so the queue was delivered).
    (summary,) = [line for line in edge.log_lines() if line["msg"].startswith("never delivered")]
    assert summary["level"] == "warning"
    assert summary["envelopes_queued_at_exit"] == 0
    assert len(missing) <= summary["envelopes_dropped"] == summary["undelivered_envelopes"]
