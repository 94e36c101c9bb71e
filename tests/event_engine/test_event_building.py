"""The hot path's shortcuts decide as the plain code does: events as pydantic's full
validation builds them, track expiry to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from event_engine.rules import Occurrence, carried, fire, make_event
from event_engine.tracks import CameraState, TrackState
from sightline.config.engine import RuleConfig
from sightline.messages import encode
from sightline.messages.event import Event, EventActions, EventType
from sightline.messages.sightings import Sighting, SightingBox, SightingPoint


def _person(track_id: int) -> Sighting:
    return Sighting(
        track_id=track_id,
        class_id=0,
        class_name="person",
        confidence=0.9,
        bbox=SightingBox(0.0, 0.0, 10.0, 30.0),
        center=SightingPoint(5.0, 15.0),
    )


def test_an_event_carries_its_rules_actions_as_validation_would() -> None:
    person = _person(4)
    seen = Occurrence(EventType.ZONE_ENTER, 4, person, 12, datetime(2025, 1, 1, tzinfo=UTC))
    rule = RuleConfig.model_validate(
        {
            "name": "door",
            "match": {"event_type": "ZONE_ENTER"},
            "actions": {"email_digest": True, "json_log": True},
        }
    )
    event = make_event(fire([rule], seen, {})[0], seen, "cam", "pi")
    validated = Event.model_validate(
        {**event.model_dump(exclude={"actions"}), "actions": rule.actions}
    )
    assert type(event.actions) is EventActions
    assert event == validated
    assert event.actions.model_fields_set == validated.actions.model_fields_set
    assert encode(event) == encode(validated)
    assert event.actions.email_digest == ["default"]
    assert carried(rule.actions) is carried(rule.actions)  # made once per rule


def test_tracks_expire_exactly_when_they_are_unseen_for_longer_than_the_timeout() -> None:
    person = _person(1)
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    for timeout in (0.0, 0.1, 0.3, 1.0, 2.0, 2.5, 1 / 3, 7.000001, 59.9999995):
        state = CameraState()
        ages = {}
        for index, micros in enumerate(range(int(timeout * 1e6) - 3, int(timeout * 1e6) + 4)):
            age = timedelta(microseconds=max(micros, 0))
            state.tracks[index] = TrackState(index, now - age, 0, person)
            ages[index] = age
        expected = [i for i, age in ages.items() if age.total_seconds() > timeout]
        assert [t.track_id for t in state.expired(now, timeout)] == expected, timeout
        assert expected  # the boundary is inside the ages tried
