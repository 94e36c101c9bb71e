"""Event v1: what the event-engine decided, on ``events/<camera_id>/<event_type>``.

Example:
    >>> event_id = make_event_id("driveway", EventType.LINE_CROSS, "car-in", 42, 1200, "entry")
    >>> event_id == make_event_id("driveway", "LINE_CROSS", "car-in", 42, 1200, "entry")
    True
    >>> EventType.ZONE_ENTER.topic_level
    'zone_enter'
    >>> EventType.ZONE_DWELL.info.title, EventType.ZONE_DWELL.info.reference
    ('stayed in a zone', 'zone')
    >>> EventType.ZONE_DWELL.info.icon
    'mdi:timer-sand'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sightline.ids import EventId, Identifier
from sightline.messages.base import Message, Timestamp, VersionedMessage
from sightline.messages.geometry import BBox, Point


class EventType(StrEnum):
    """The kinds of event the engine publishes."""

    LINE_CROSS = "LINE_CROSS"
    ZONE_ENTER = "ZONE_ENTER"
    ZONE_EXIT = "ZONE_EXIT"
    ZONE_DWELL = "ZONE_DWELL"

    @property
    def topic_level(self) -> str:
        """The event type as the last level of its topic: lower case."""
        return self.value.lower()

    @property
    def info(self) -> EventTypeInfo:
        """Its record in :data:`EVENT_TYPES`."""
        return EVENT_TYPES[self]


@dataclass(frozen=True)
class EventTypeInfo:
    """What every place that lists event types needs to know of one.

    Attributes:
        title: what the object did, for people (e-mail subjects): ``crossed a line``.
        ha_event_type: its name among a Home Assistant event entity's ``event_types``
            (lower_snake).
        reference: which part of the event names where it happened: ``line`` or ``zone``.
        icon: the Material Design icon of Home Assistant's event entity for it.
    """

    title: str
    ha_event_type: str
    reference: Literal["line", "zone"]
    icon: str = "mdi:bell-ring"


EVENT_TYPES: Mapping[EventType, EventTypeInfo] = {
    EventType.LINE_CROSS: EventTypeInfo(
        "crossed a line", "line_cross", "line", "mdi:transit-connection-horizontal"
    ),
    EventType.ZONE_ENTER: EventTypeInfo(
        "entered a zone", "zone_enter", "zone", "mdi:location-enter"
    ),
    EventType.ZONE_EXIT: EventTypeInfo("left a zone", "zone_exit", "zone", "mdi:location-exit"),
    EventType.ZONE_DWELL: EventTypeInfo("stayed in a zone", "zone_dwell", "zone", "mdi:timer-sand"),
}
"""The registry of event types: a new :class:`EventType` member needs its record here (a
test fails otherwise); e-mail titles, the broker ACL's topics and Home Assistant's event
types and icons are derived from it. What the engine decides for each is its detector
(``event_engine.detectors``: one module per type, found by :class:`EventType`)."""


class Direction(StrEnum):
    """The direction of a line crossing."""

    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    TOP_TO_BOTTOM = "top_to_bottom"
    BOTTOM_TO_TOP = "bottom_to_top"
    IN = "in"
    OUT = "out"


class ActionKind(StrEnum):
    """The actions a rule can ask for: the registry's keys. Each is a field of
    :class:`EventActions` of the same name (checked when this module loads); the notifier
    registers what it does for each (``notifier.actions``), the frame-store does ``snapshot``.

    Example:
        >>> [kind.value for kind in ActionKind]
        ['json_log', 'email_immediate', 'email_digest', 'snapshot']
    """

    JSON_LOG = "json_log"
    EMAIL_IMMEDIATE = "email_immediate"
    EMAIL_DIGEST = "email_digest"
    SNAPSHOT = "snapshot"


class EventActions(Message):
    """What a rule asks the other services to do with an event, as the event carries it:
    one field per :class:`ActionKind`.

    Unknown actions (from a newer engine) are kept and ignored: an older consumer still does
    the actions it knows, and re-encodes the event with the others intact.

    Example:
        >>> actions = EventActions.model_validate({"email_immediate": True, "sms": True})
        >>> actions.email_immediate, actions.model_extra
        (True, {'sms': True})
    """

    json_log: bool = Field(default=False, description="Append the event to the JSON log.")
    email_immediate: bool = Field(default=False, description="Send an e-mail now.")
    email_digest: list[str] = Field(
        default_factory=list,
        description="Digests that collect this event; `true` means the digest named 'default'.",
    )
    snapshot: bool = Field(default=True, description="Store a clean and an annotated snapshot.")

    @field_validator("email_digest", mode="before")
    @classmethod
    def _digest_names(cls, value: object) -> object:
        if value is True:
            return ["default"]
        if value is False or value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value


def _check_action_fields() -> None:
    """Every ActionKind is a field of EventActions and every field an ActionKind."""
    fields, kinds = set(EventActions.model_fields), {kind.value for kind in ActionKind}
    if fields != kinds:
        raise TypeError(
            f"EventActions fields and ActionKind differ: fields only {sorted(fields - kinds)}, "
            f"ActionKind only {sorted(kinds - fields)}"
        )


_check_action_fields()


class Actions(EventActions):
    """A rule's ``actions:`` in a config file: unknown actions are refused there (a typo must
    not silently do nothing). An event built from a rule carries them as
    :class:`EventActions`.

    Example:
        >>> from pydantic import ValidationError
        >>> try:
        ...     Actions.model_validate({"sms": True})
        ... except ValidationError as exc:
        ...     exc.errors()[0]["type"], exc.errors()[0]["loc"]
        ('extra_forbidden', ('sms',))
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class EventObject(Message):
    """The tracked object the event is about."""

    track_id: int = Field(ge=0)
    continued_from: int | None = Field(
        default=None,
        ge=0,
        description="The id the tracker first gave this object, if it "
        "switched ids and the engine continued the track (optional; absent: no switch).",
    )
    class_name: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)
    bbox: BBox
    center: Point


class LineRef(Message):
    """The line that was crossed, and in which direction."""

    name: str = Field(min_length=1, max_length=128)
    direction: Direction
    points: list[tuple[float, float]] | None = Field(
        default=None, max_length=256, description="The line in pixels, so it can be drawn."
    )


class ZoneRef(Message):
    """The zone that was entered, left or dwelt in."""

    name: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, description="For ZONE_EXIT: `left` or `lost`.")
    dwell_s: float | None = Field(default=None, ge=0, description="For ZONE_DWELL and ZONE_EXIT.")
    points: list[tuple[float, float]] | None = Field(
        default=None, max_length=256, description="The zone's polygon in pixels, to draw it."
    )


class Event(VersionedMessage):
    """Event v1."""

    version: Literal[1] = 1
    event_id: EventId
    event_type: EventType
    rule: str = Field(min_length=1, max_length=128)
    camera_id: Identifier
    device_id: Identifier
    timestamp: Timestamp
    frame_number: int = Field(ge=0)
    object: EventObject
    line: LineRef | None = None
    zone: ZoneRef | None = None
    actions: EventActions = Field(default_factory=EventActions)

    @field_validator("actions", mode="before")
    @classmethod
    def _as_carried(cls, value: Any) -> Any:
        # A rule's strict Actions becomes the wire form, so that an event compares equal to
        # itself decoded. (The field named ``object`` hides the builtin in this class.)
        if isinstance(value, BaseModel) and type(value) is not EventActions:
            return value.model_dump()
        return value


def make_event_id(camera_id: str, event_type: str, rule: str, *parts: object) -> str:
    """A deterministic event id: the same decision always gets the same id.

    Args:
        camera_id: the camera.
        event_type: the event type.
        rule: the rule's name.
        *parts: whatever else identifies the decision (track id, frame number, line or
            zone name, direction).

    Returns:
        ``<camera>-<type>-<24 hex digits>``, readable in a log and stable across restarts.
    """
    text = "\x1f".join(str(p) for p in (camera_id, str(event_type), rule, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"{camera_id}-{str(event_type).lower()}-{digest}"
