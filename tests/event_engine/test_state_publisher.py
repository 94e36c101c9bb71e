"""Home Assistant's per-class counts follow the objects a camera tracks, also when nobody
crosses a line or enters a zone."""

from __future__ import annotations

import json

from event_engine.engine import Engine
from event_engine.state_publisher import StatePublisher
from tests.event_engine.walks import Box, envelope, settings


def test_a_person_walking_in_outside_every_zone_moves_the_counts() -> None:
    engine = Engine(settings({}))
    sent: list[str] = []
    states = StatePublisher(engine, lambda topic, body, retain: sent.append(topic))
    moves = []
    for number, boxes in enumerate(
        [
            [],
            [Box.at_foot(1, 100, 500)],
            [Box.at_foot(1, 110, 500)],
            [Box.at_foot(1, 120, 500), Box.at_foot(2, 600, 500, class_name="car")],
        ]
    ):
        engine.process(envelope(number, boxes))
        moves.append(states.objects_moved("cam"))
    assert moves == [True, True, False, True]  # first look, a person, same, a car too
    assert states.objects_moved("nowhere") is False


def test_counts_that_moved_without_an_event_are_published_once_when_due() -> None:
    engine = Engine(settings({}))
    sent: list[bytes] = []
    states = StatePublisher(engine, lambda topic, body, retain: sent.append(body), every_s=3600)
    engine.process(envelope(0, []))
    states.changed("pi", "cam")
    states.flush()
    for number in range(1, 4):  # someone walks in, outside every zone: no event
        engine.process(envelope(number, [Box.at_foot(1, 100 + number, 500)]))
        states.seen("pi", "cam")
        states.flush(force=False)  # not due yet
    assert len(sent) == 1
    states.flush()
    assert len(sent) == 2
    assert json.loads(sent[-1])["objects"] == {"person": 1}
    states.seen("pi", "cam")
    states.flush()
    assert len(sent) == 2  # looked again: nothing moved, nothing published
