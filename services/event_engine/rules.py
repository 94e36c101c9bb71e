"""Rules: which configured ``events:`` entries an occurrence fires, and the events they make.

An *occurrence* is what the geometry decided (a track crossed a line, entered a zone); an
*event* is an occurrence that a rule matched, with the rule's name and actions. The
occurrence's detection carries the track's voted class (see :mod:`event_engine.tracks`), so
rules, the event and the counts agree on what the object is.

Example:
    >>> from datetime import UTC, datetime
    >>> from sightline.messages.sightings import Sighting, SightingBox, SightingPoint
    >>> car = Sighting(track_id=7, class_id=2, class_name="car", confidence=0.8,
    ...     bbox=SightingBox(0, 0, 10, 10), center=SightingPoint(5, 5))
    >>> seen = Occurrence(EventType.ZONE_ENTER, 9, car, 3, datetime(2025, 1, 1, tzinfo=UTC),
    ...     continued_from=7)
    >>> rule = RuleConfig.model_validate({"name": "cars", "match": {"event_type": "ZONE_ENTER",
    ...     "classes": ["car"]}})
    >>> event = make_event(fire([rule], seen, {})[0], seen, "cam", "pi")
    >>> event.object.track_id, event.object.continued_from, event.object.class_name
    (9, 7, 'car')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sightline.config.engine import RuleConfig
from sightline.messages.event import (
    Actions,
    Event,
    EventActions,
    EventObject,
    EventType,
    LineRef,
    ZoneRef,
    make_event_id,
)
from sightline.messages.sightings import Sighting


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Something a track did, before any rule looked at it."""

    event_type: EventType
    track_id: int
    detection: Sighting
    frame_number: int
    timestamp: datetime
    line: LineRef | None = None
    zone: ZoneRef | None = None
    run_id: str = ""
    """The edge run the track belongs to (see :mod:`event_engine.runs`)."""
    continued_from: int | None = None
    """The id the tracker first gave the object, if the track continues a switched one."""
    quiet: bool = False
    """Counted, but within the line's cool-down: no rule fires for it (Home Assistant's
    counters still move)."""

    @property
    def place(self) -> str:
        """The line's or zone's name."""
        ref = self.line or self.zone
        return ref.name if ref is not None else ""


def _matches(rule: RuleConfig, occurrence: Occurrence) -> bool:
    detection = occurrence.detection
    wanted = rule.match
    if wanted.event_type is not occurrence.event_type:
        return False
    if wanted.line is not None and (occurrence.line is None or occurrence.line.name != wanted.line):
        return False
    if wanted.zone is not None and (occurrence.zone is None or occurrence.zone.name != wanted.zone):
        return False
    if wanted.direction is not None and (
        occurrence.line is None or occurrence.line.direction is not wanted.direction
    ):
        return False
    if wanted.classes is not None and detection.class_name not in wanted.classes:
        return False
    return detection.confidence >= wanted.min_confidence


def fire(
    rules: Iterable[RuleConfig], occurrence: Occurrence, quiet_until: dict[str, datetime]
) -> list[RuleConfig]:
    """The rules ``occurrence`` fires, honouring each rule's cool-down per track.

    ``quiet_until`` (``rule|track_id`` -> time) is updated for the rules that fire.
    """
    fired: list[RuleConfig] = []
    if occurrence.quiet:
        return fired
    for rule in rules:
        if not _matches(rule, occurrence):
            continue
        key = f"{rule.name}|{occurrence.track_id}"
        until = quiet_until.get(key)
        if until is not None and occurrence.timestamp < until:
            continue
        if rule.match.cooldown_s > 0:
            quiet_until[key] = occurrence.timestamp + timedelta(seconds=rule.match.cooldown_s)
        fired.append(rule)
    return fired


_CARRIED: dict[int, tuple[Actions, EventActions]] = {}
_MAX_CARRIED = 256


def carried(actions: Actions) -> EventActions:
    """A rule's ``actions`` as an event carries them: what ``Event``'s own validator makes
    of them (the wire form), made once per rule instead of once per event (it is frozen)."""
    cached = _CARRIED.get(id(actions))
    if cached is not None and cached[0] is actions:
        return cached[1]
    result = EventActions.model_validate(actions.model_dump())
    if len(_CARRIED) >= _MAX_CARRIED:  # bounded: a reload makes new rules
        _CARRIED.clear()
    _CARRIED[id(actions)] = (actions, result)
    return result


def make_event(rule: RuleConfig, occurrence: Occurrence, camera_id: str, device_id: str) -> Event:
    """The event v1 of ``rule`` firing on ``occurrence``, with a deterministic id: the same
    decision in the same edge run always gets the same id, another run another one."""
    detection = occurrence.detection
    direction = occurrence.line.direction if occurrence.line is not None else ""
    event_id = make_event_id(
        camera_id,
        occurrence.event_type,
        rule.name,
        occurrence.track_id,
        occurrence.frame_number,
        occurrence.place,
        direction,
        occurrence.run_id,
    )
    return Event(
        event_id=event_id,
        event_type=occurrence.event_type,
        rule=rule.name,
        camera_id=camera_id,
        device_id=device_id,
        timestamp=occurrence.timestamp,
        frame_number=occurrence.frame_number,
        object=EventObject(
            track_id=occurrence.track_id,
            continued_from=occurrence.continued_from,
            class_name=detection.class_name,
            confidence=detection.confidence,
            bbox=detection.bbox.model(),
            center=detection.center.model(),
        ),
        line=occurrence.line,
        zone=occurrence.zone,
        actions=carried(rule.actions),
    )
