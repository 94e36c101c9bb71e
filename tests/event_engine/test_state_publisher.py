"""Home Assistant's per-class counts follow the objects a camera tracks, also when nobody
crosses a line or enters a zone."""

from __future__ import annotations

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
