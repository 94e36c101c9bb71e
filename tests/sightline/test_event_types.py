"""The event-type registry: every :class:`EventType` member has its record, and what is
derived from it (e-mail titles, topics) covers every member."""

from __future__ import annotations

import re

import pytest

from sightline.messages.event import EVENT_TYPES, EventType
from sightline.topics import Topics


@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_has_a_record(kind: EventType) -> None:
    assert kind in EVENT_TYPES, f"{kind} has no EventTypeInfo in messages/event.py EVENT_TYPES"
    info = kind.info
    assert info.title
    assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", info.ha_event_type), info.ha_event_type
    assert info.reference in ("line", "zone")
    assert re.fullmatch(r"mdi:[a-z0-9-]+", info.icon), info.icon
    assert str(Topics().event("driveway", kind)) == f"events/driveway/{kind.topic_level}"


def test_the_registry_names_nothing_but_members_and_no_two_alike() -> None:
    assert set(EVENT_TYPES) == set(EventType)
    assert len({info.title for info in EVENT_TYPES.values()}) == len(EVENT_TYPES)
    assert len({info.ha_event_type for info in EVENT_TYPES.values()}) == len(EVENT_TYPES)
