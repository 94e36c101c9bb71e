"""Tracks end by wall clock when a camera's edge went offline or silent (no stale zones)."""

from __future__ import annotations

import json
import time

from event_engine.engine import Engine
from event_engine.handler import (
    MAX_UNKNOWN_DEVICES,
    OTHER_DEVICES,
    UNANNOUNCED_SILENCE_S,
    EnvelopeHandler,
)
from event_engine.state_publisher import StatePublisher
from sightline.messages import Event, encode
from tests.event_engine.walks import Box, envelope, rule, settings

ZONE = {"name": "z", "points": [[400, 300], [800, 300], [800, 600], [400, 600]], "units": "px"}
CONFIG = settings({"zones": [ZONE], "events": [rule("out", "ZONE_EXIT")], "track_timeout_s": 0.5})


def handler_with_a_track() -> tuple[EnvelopeHandler, list[Event], list[bytes]]:
    events: list[Event] = []
    states: list[bytes] = []

    def publish(topic: str, payload: object, retain: bool) -> None:
        if isinstance(payload, Event):
            events.append(payload)
        elif retain and isinstance(payload, bytes):
            states.append(payload)

    engine = Engine(CONFIG)
    handler = EnvelopeHandler(engine, publish, lambda *a: None)
    handler.states = StatePublisher(engine, publish)
    for number in range(3):
        handler.handle("detections/cam", encode(envelope(number, [Box.at_foot(4, 600, 500)])))
    return handler, events, states


def test_an_edge_that_said_online_and_went_quiet_is_due_after_track_timeout_s() -> None:
    handler, _, _ = handler_with_a_track()
    handler.edge_status("cam", b"online")
    now = time.monotonic()
    assert handler.due("cam", connected=True, now=now + 0.3) is None
    assert handler.due("cam", connected=True, now=now + 0.8) is not None
    assert handler.due("cam", connected=False, now=now + 0.8) is None  # the engine is deaf
    handler.connected()  # back: the silence counts from the reconnect
    assert handler.due("cam", connected=True, now=time.monotonic() + 0.3) is None


def test_a_seed_edge_that_never_said_its_status_gets_a_longer_silence() -> None:
    handler, _, _ = handler_with_a_track()
    now = time.monotonic()
    assert handler.due("cam", connected=True, now=now + 5) is None
    assert handler.due("cam", connected=True, now=now + UNANNOUNCED_SILENCE_S + 1) is not None


def test_an_edge_gone_offline_ends_its_tracks_at_once_unless_envelopes_still_come() -> None:
    handler, events, states = handler_with_a_track()
    handler.edge_status("cam", b"offline")
    assert handler.due("cam", connected=False) == "its edge is offline"
    handler.handle("detections/cam", encode(envelope(3, [Box.at_foot(4, 600, 500)])))
    assert handler.due("cam", connected=True) is None  # a buffered backlog still arrives
    handler.edge_status("cam", b"online")
    handler.edge_status("cam", b"offline")
    assert handler.tick(connected=True) == 1
    assert [(e.event_type.value, e.zone and e.zone.reason, e.frame_number) for e in events] == [
        ("ZONE_EXIT", "lost", 3)
    ]
    assert json.loads(states[-1])["zones"] == {"z": 0}
    assert handler.engine.states["cam"].tracks == {}
    assert handler.tick(connected=True) == 0  # nothing left to end


def test_unknown_devices_are_dead_lettered_once_each_and_their_labels_are_bounded() -> None:
    rejected: list[str] = []
    handler = EnvelopeHandler(
        Engine(CONFIG), lambda *a: None, lambda topic, payload, reason: rejected.append(reason)
    )
    for index in range(MAX_UNKNOWN_DEVICES + 10):
        for number in range(2):
            handler.handle(None, encode(envelope(number, [], device=f"stranger-{index}")))
    assert len(rejected) == MAX_UNKNOWN_DEVICES
    labels = {
        sample.labels["device_id"]
        for metric in handler.metrics.unknown_devices.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert len(labels) == MAX_UNKNOWN_DEVICES + 1
    assert OTHER_DEVICES in labels
