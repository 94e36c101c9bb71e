"""Fault 1: the event-engine SIGKILLed mid-stream and restarted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tests.event_engine.engine_process import STATUS_TOPIC as ENGINE_STATUS
from tests.reliability.stream import CAMERAS, Stream
from tests.reliability.suite import Publisher, bus_events, make_engine
from tests.support.broker import Broker
from tests.support.mqtt import Collector
from tests.support.service_process import status_now
from tests.support.waiting import wait_until


def test_an_engine_killed_mid_stream_and_restarted_publishes_the_reference_and_no_zone_twice(
    broker: Broker,
    collector: Collector,
    stream: Stream,
    reference: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    engine = make_engine(broker, tmp_path)
    publisher = Publisher(broker)
    cameras = len(CAMERAS)
    try:
        engine.start()
        collector.wait_for(status_now(ENGINE_STATUS, b"online"), timeout=30)
        # Up to frame 20: the first walkers have crossed the line, not yet entered the zone.
        publisher.send(stream.messages[: 21 * cameras])
        wait_until(lambda: count(collector, "LINE_CROSS") >= cameras, 30, "the first crossings")
        # Frames 21..30: the walkers enter the zone at frame 24; killed right after that.
        publisher.send(stream.messages[21 * cameras : 31 * cameras])
        wait_until(lambda: count(collector, "ZONE_ENTER") >= cameras, 30, "the first entries")
        engine.close()  # SIGKILL
        publisher.send(stream.messages[31 * cameras :])
        engine.start()
        wanted = {e["event_id"] for e in reference}
        wait_until(
            lambda: len({e["event_id"] for e in bus_events(collector)}) >= len(wanted),
            60,
            "as many distinct events on the bus as in the reference",
        )
        assert engine.stop() == 0
        # marker: the engine's own "offline" comes after every event it published (one client,
        # in order), so stragglers, if any, are in the collector once it is seen
        collector.wait_for(status_now(ENGINE_STATUS, b"offline"), timeout=30)
    finally:
        publisher.close()
        engine.close()

    events = bus_events(collector)
    repeated = [i for i, n in Counter(e["event_id"] for e in events).items() if n > 1]
    print(f"events re-published with the same event_id after the SIGKILL: {len(repeated)}")
    entries = {e["event_id"]: e for e in events if e["event_type"] == "ZONE_ENTER"}
    per_visit = Counter((e["camera_id"], e["object"]["track_id"]) for e in entries.values())
    assert max(per_visit.values()) == 1, "a zone entered twice under two event ids"
    assert {e["event_id"] for e in events} == wanted


def count(collector: Collector, event_type: str) -> int:
    """Distinct events of ``event_type`` on the bus."""
    return len({e["event_id"] for e in bus_events(collector) if e["event_type"] == event_type})
