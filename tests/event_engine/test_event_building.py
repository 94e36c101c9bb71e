"""Events built on the hot path are the events pydantic's full validation builds."""

from __future__ import annotations

from datetime import UTC, datetime

from event_engine.rules import Occurrence, carried, fire, make_event
from sightline.config.engine import RuleConfig
from sightline.messages import encode
from sightline.messages.envelope import Detection
from sightline.messages.event import Event, EventActions, EventType


def test_an_event_carries_its_rules_actions_as_validation_would() -> None:
    person = Detection.model_validate(
        {
            "track_id": 4,
            "class_id": 0,
            "class_name": "person",
            "confidence": 0.9,
            "bbox": {"x1": 0, "y1": 0, "x2": 10, "y2": 30},
            "center": {"x": 5, "y": 15},
        }
    )
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
