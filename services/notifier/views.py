"""What the templates see: events and digests as plain values, times in the user's zone.

What an event's line says is keyed by :class:`~sightline.messages.event.EventType`: the
types this module phrases (:data:`PHRASES`) read naturally (``car entered "porch"``); any
other type, a new one included, reads as its registry title
(:data:`~sightline.messages.event.EVENT_TYPES`) with its line or zone, so adding an event
type needs no edit here.

Example:
    >>> title(EventType.LINE_CROSS)
    'crossed a line'
    >>> PHRASES[EventType.ZONE_DWELL].verb
    'stayed in'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self
from zoneinfo import ZoneInfo

from sightline.messages import Event
from sightline.messages.event import EVENT_TYPES, EventType
from sightline.timestamps import in_zone


@dataclass(frozen=True)
class Phrase:
    """How one event type reads at its line or zone.

    Attributes:
        verb: before the place's name: ``crossed`` "gate", ``stayed in`` "porch".
        total: its row in the digest's totals per place (``porch: stayed``); None: the
            line's direction (``gate: left to right``).
        dwell: the word that joins a zone's dwell time (``for 42 s``), None to leave it out.
    """

    verb: str
    total: str | None
    dwell: str | None = None


PHRASES: Mapping[EventType, Phrase] = {
    EventType.LINE_CROSS: Phrase("crossed", None),
    EventType.ZONE_ENTER: Phrase("entered", "entered"),
    EventType.ZONE_EXIT: Phrase("left", "left", dwell="after"),
    EventType.ZONE_DWELL: Phrase("stayed in", "stayed", dwell="for"),
}
"""The event types that read better than their registry title; optional for a new type."""


def title(event_type: EventType) -> str:
    """What the object did, from the event-type registry (``crossed a line``); a type
    missing there (a test makes sure none is) reads as its name in lower case."""
    info = EVENT_TYPES.get(event_type)
    return info.title if info is not None else event_type.value.lower().replace("_", " ")


TIME_FORMAT = "%a %d %b %Y, %H:%M:%S %Z"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    """``when`` in ``zone``, as a person reads it: ``Wed 15 Jan 2025, 15:30:22 CET``."""
    return in_zone(when, zone).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class EventView:
    """One event, ready to print."""

    event_id: str
    camera: str
    rule: str
    what: str
    object_class: str
    confidence_pct: int
    track_id: int
    where: str
    summary: str
    time: str
    short_time: str
    image_cid: str | None = None
    image_note: str | None = None
    line: str | None = None
    """``gate: left to right`` for a line crossing (for the digest's totals per line)."""
    zone: str | None = None
    """``porch: entered`` for a zone event (for the digest's totals per zone)."""

    @property
    def headline(self) -> str:
        """The summary with a capital first letter (names keep their case)."""
        return self.summary[:1].upper() + self.summary[1:]

    @classmethod
    def from_event(
        cls,
        event: Event,
        zone: ZoneInfo,
        image_cid: str | None = None,
        image_note: str | None = None,
    ) -> Self:
        """The view of ``event``; ``image_cid`` names its inline picture, if any."""
        return cls(
            event_id=event.event_id,
            camera=event.camera_id,
            rule=event.rule,
            what=title(event.event_type),
            object_class=event.object.class_name,
            confidence_pct=round(event.object.confidence * 100),
            track_id=event.object.track_id,
            where=describe_place(event),
            summary=summarise(event),
            time=local_time(event.timestamp, zone),
            short_time=in_zone(event.timestamp, zone).strftime("%H:%M:%S"),
            image_cid=image_cid,
            image_note=image_note,
            line=place_total(event, "line"),
            zone=place_total(event, "zone"),
        )


def place_total(event: Event, kind: str) -> str | None:
    """The row of the digest's totals ``event`` counts in: ``gate: left to right`` (a line
    crossing, ``kind="line"``) or ``porch: entered`` (a zone); None when it has no such
    place. A type without a :data:`PHRASES` entry counts under its title."""
    place = event.line if kind == "line" else event.zone if kind == "zone" else None
    if place is None:
        return None
    phrase = PHRASES.get(event.event_type)
    if phrase is None:
        row = title(event.event_type)
    elif phrase.total is None and event.line is not None:
        row = event.line.direction.value.replace("_", " ")
    else:
        row = phrase.total or title(event.event_type)
    return f"{place.name}: {row}"


def describe_place(event: Event) -> str:
    """``line "gate", left to right`` or ``zone "garden" (42 s)``."""
    if event.line is not None:
        return f'line "{event.line.name}", {event.line.direction.value.replace("_", " ")}'
    if event.zone is not None:
        text = f'zone "{event.zone.name}"'
        if event.zone.dwell_s is not None:
            text += f" after {event.zone.dwell_s:.0f} s"
        if event.zone.reason:
            text += f" ({event.zone.reason})"
        return text
    return "-"


def summarise(event: Event) -> str:
    """One line a person reads: ``car crossed "gate" (left to right)``, ``car stayed in
    "porch" for 42 s``; a type without a :data:`PHRASES` entry reads as its registry title
    with the place: ``person loitered in a zone "porch" (42 s)``."""
    what = event.object.class_name
    phrase = PHRASES.get(event.event_type)
    verb = phrase.verb if phrase else title(event.event_type)
    if event.line is not None:
        direction = event.line.direction.value.replace("_", " ")
        return f'{what} {verb} "{event.line.name}" ({direction})'
    if event.zone is None:
        return f"{what} {title(event.event_type)}"
    text = f'{what} {verb} "{event.zone.name}"'
    if event.zone.dwell_s is None:
        return text
    dwell = f"{event.zone.dwell_s:.0f} s"
    if phrase is None:
        return f"{text} ({dwell})"
    return f"{text} {phrase.dwell} {dwell}" if phrase.dwell else text


def period_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """``Wed 15 Jan 2025, 15:00 - 16:00 CET`` (an en dash between), the date once when both ends share it."""
    local_start, local_end = in_zone(start, zone), in_zone(end, zone)
    if local_start.date() == local_end.date():
        return (
            f"{local_start:%a %d %b %Y, %H:%M} \N{EN DASH} {local_end:%H:%M} {local_end.tzname()}"
        )
    return f"{local_start:%a %d %b %Y, %H:%M} \N{EN DASH} {local_end:%a %d %b %Y, %H:%M %Z}"


@dataclass(frozen=True)
class DigestView:
    """A digest: counts per camera, rule, class, line and direction, zone; the events; the
    pictures (chosen by :func:`notifier.photos.choose_photos`)."""

    name: str
    period: str
    zone_name: str
    total: int
    by_camera: list[tuple[str, int]]
    by_rule: list[tuple[str, int]]
    by_class: list[tuple[str, int]]
    events: list[EventView]
    photos: list[EventView]
    by_line: list[tuple[str, int]] = field(default_factory=list)
    by_zone: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def from_events(
        cls, name: str, start: datetime, end: datetime, events: list[EventView], zone: ZoneInfo
    ) -> Self:
        """Summarise ``events`` collected between ``start`` and ``end``; with several cameras
        the totals per line and zone name the camera too."""
        cameras = len({e.camera for e in events}) > 1

        def where(e: EventView, place: str | None) -> str | None:
            return f"{e.camera} \N{MIDDLE DOT} {place}" if cameras and place else place

        return cls(
            name=name,
            period=period_text(start, end, zone),
            zone_name=in_zone(end, zone).tzname() or str(zone),
            total=len(events),
            by_camera=Counter(e.camera for e in events).most_common(),
            by_rule=Counter(e.rule for e in events).most_common(),
            by_class=Counter(e.object_class for e in events).most_common(),
            events=events,
            photos=[e for e in events if e.image_cid is not None],
            by_line=totals(where(e, e.line) for e in events),
            by_zone=totals(where(e, e.zone) for e in events),
        )


def totals(places: Iterable[str | None]) -> list[tuple[str, int]]:
    """How many of each place, by name (so a line's two directions stand together).

    Example:
        >>> totals(["gate: right to left", None, "gate: left to right", "gate: left to right"])
        [('gate: left to right', 2), ('gate: right to left', 1)]
    """
    return sorted(Counter(p for p in places if p is not None).items())
