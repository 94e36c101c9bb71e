"""Faults 5 and 7: a service stopped in the middle of work (SIGTERM or SIGKILL), restarted.

The whole suite runs (engine, notifier, frame-store); one of them is stopped while the
stream is still in flight. Afterwards every reference event is on the bus, in the JSON log
exactly once, and has a snapshot announcement (with a frame, or ``frame_ref: null`` and a
reason).
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.running import RunningSuite, Service
from tests.reliability.stream import Stream
from tests.reliability.suite import (
    Publisher,
    announcements,
    bus_events,
    frame_messages,
    json_log_ids,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector
from tests.support.service_process import status_now
from tests.support.waiting import wait_until


@pytest.mark.parametrize(
    ("service", "signum", "exit_status", "min_pictures"),
    [
        (Service.ENGINE, signal.SIGTERM, 0, 1),
        (Service.NOTIFIER, signal.SIGTERM, 0, 1),
        # the frame-store's ring of recent frames is memory: stopped, it may have none left
        (Service.FRAME_STORE, signal.SIGTERM, 0, 0),
        (Service.FRAME_STORE, signal.SIGKILL, -signal.SIGKILL, 0),
    ],
)
def test_a_service_stopped_mid_stream_and_restarted_loses_and_doubles_nothing(
    broker: Broker,
    collector: Collector,
    stream: Stream,
    reference: list[dict[str, Any]],
    tmp_path: Path,
    suite: RunningSuite,
    service: Service,
    signum: signal.Signals,
    exit_status: int,
    min_pictures: int,
) -> None:
    publisher = Publisher(broker)
    half = len(stream.messages) // 2
    try:
        suite.start()
        publisher.send(frame_messages(stream.messages))
        publisher.send(stream.messages[:half])
        wait_until(lambda: len(bus_events(collector)) >= 4, 30, "events before the stop")
        assert suite.signal(service, signum) == exit_status
        if signum is signal.SIGTERM:
            collector.wait_for(status_now(service.status_topic, b"offline"))
        publisher.send(stream.messages[half:])
        suite.start(service)
        suite.wait_done(reference)
    finally:
        publisher.close()
        suite.close()

    wanted = {e["event_id"] for e in reference}
    assert {e["event_id"] for e in bus_events(collector)} == wanted
    assert Counter(json_log_ids(tmp_path)) == Counter(wanted)
    announced = {a["event_id"]: a for a in announcements(collector)}
    assert set(announced) == wanted
    assert all(a["frame_ref"] is not None or a["reason"] for a in announced.values())
    assert sum(a["frame_ref"] is not None for a in announced.values()) >= min_pictures
