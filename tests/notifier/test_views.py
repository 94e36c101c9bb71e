"""What an e-mail says of each event type: keyed by ``EventType``, titles from the registry."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from notifier import views
from notifier.views import EventView, place_total, summarise
from sightline.messages import Event
from sightline.messages.event import EVENT_TYPES, EventType
from tests.notifier.support import make_event

SUMMARIES = {
    EventType.LINE_CROSS: 'car crossed "gate" (left to right)',
    EventType.ZONE_ENTER: 'car entered "porch"',
    EventType.ZONE_EXIT: 'car left "porch" after 42 s',
    EventType.ZONE_DWELL: 'car stayed in "porch" for 42 s',
}
"""The types views.py phrases; any other reads as :func:`generic`."""

TOTALS = {
    EventType.LINE_CROSS: ("gate: left to right", None),
    EventType.ZONE_ENTER: (None, "porch: entered"),
    EventType.ZONE_EXIT: (None, "porch: left"),
    EventType.ZONE_DWELL: (None, "porch: stayed"),
}


def event_of(event_type: EventType, dwell_s: float | None = 42.0) -> Event:
    """An event of ``event_type`` at the place its registry record names (line or zone)."""
    data = make_event(1).model_dump(mode="json")
    data["event_type"] = event_type.value
    if EVENT_TYPES[event_type].reference == "line":
        data["line"] = {"name": "gate", "direction": "left_to_right"}
    else:
        data["line"] = None
        data["zone"] = {"name": "porch", "dwell_s": dwell_s}
    return Event.model_validate(data)


def generic(event_type: EventType) -> str:
    """How a type views.py does not phrase reads: its registry title, then its place."""
    if EVENT_TYPES[event_type].reference == "line":
        return f'car {EVENT_TYPES[event_type].title} "gate" (left to right)'
    return f'car {EVENT_TYPES[event_type].title} "porch" (42 s)'


def generic_total(event_type: EventType) -> tuple[str | None, str | None]:
    place = "gate" if EVENT_TYPES[event_type].reference == "line" else "porch"
    total = f"{place}: {EVENT_TYPES[event_type].title}"
    return (total, None) if place == "gate" else (None, total)


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_reads_as_one_line_naming_its_place(event_type: EventType) -> None:
    event = event_of(event_type)

    assert summarise(event) == SUMMARIES.get(event_type, generic(event_type))
    assert (place_total(event, "line"), place_total(event, "zone")) == TOTALS.get(
        event_type, generic_total(event_type)
    )


@pytest.mark.parametrize("event_type", list(EventType))
def test_a_type_views_does_not_phrase_reads_as_its_registry_title_with_its_place(
    event_type: EventType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PHRASES", {})  # as for a type added after views.py
    event = event_of(event_type)

    assert summarise(event) == generic(event_type)
    assert (place_total(event, "line"), place_total(event, "zone")) == generic_total(event_type)


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_has_its_registry_title_in_the_view(event_type: EventType) -> None:
    view = EventView.from_event(event_of(event_type), ZoneInfo("Europe/Berlin"))

    assert view.what == EVENT_TYPES[event_type].title
    assert view.headline == view.summary[:1].upper() + view.summary[1:]


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        (EventType.ZONE_ENTER, 'car entered "porch"'),
        (EventType.ZONE_EXIT, 'car left "porch"'),
        (EventType.ZONE_DWELL, 'car stayed in "porch"'),
    ],
)
def test_a_zone_event_without_a_dwell_time_leaves_it_out(
    event_type: EventType, expected: str
) -> None:
    assert summarise(event_of(event_type, dwell_s=None)) == expected


def test_every_phrased_type_is_an_event_type_in_the_registry() -> None:
    assert set(views.PHRASES) <= set(EVENT_TYPES)
    assert set(SUMMARIES) == set(views.PHRASES)
