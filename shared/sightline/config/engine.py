"""The event-engine's sections: lines, zones, rules, per device (the seed's ``devices:``).

Zone and line labels and rule names become Home Assistant ids (slugged, see
:func:`sightline.ids.slug`), so two of a kind whose slugs meet are refused here:

Example:
    >>> from pydantic import ValidationError
    >>> from sightline.validation import describe_errors
    >>> box = {"x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 50}
    >>> zones = [{"name": "Back Yard", **box}, {"name": "back-yard", **box}]
    >>> try:
    ...     DeviceConfig.model_validate({"zones": zones})
    ... except ValidationError as exc:
    ...     print(*describe_errors(exc))
    zones: 'Back Yard' and 'back-yard' would be the same Home Assistant id 'back_yard'; rename one
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sightline.config.base import Anchor, StrictModel
from sightline.ids import Identifier, refuse_slug_collisions
from sightline.messages.event import Actions, Direction, EventType
from sightline.validation import describe_errors

Units = Literal["px", "pct"]
PointXY = tuple[float, float]

_AXIS_DIRECTIONS = {
    "vertical": {Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT},
    "horizontal": {Direction.TOP_TO_BOTTOM, Direction.BOTTOM_TO_TOP},
    "polyline": {Direction.IN, Direction.OUT},
}


Place = Literal["line", "zone"]

_DETECTOR_OPTIONS: dict[Place, dict[str, type[BaseModel]]] | None = None


def set_detector_options(models: Mapping[Place, Mapping[str, type[BaseModel]]]) -> None:
    """Which ``options.<name>`` lines and zones take, each checked by its model: the
    event-engine sets it once its detectors are registered (``event_engine.detectors``), so
    a new detector's settings need no field here. Before (a process without the engine),
    options are taken unchecked; after, an unknown name is refused.
    """
    global _DETECTOR_OPTIONS
    _DETECTOR_OPTIONS = {
        "line": dict(models.get("line", {})),
        "zone": dict(models.get("zone", {})),
    }


def _check_options(
    place: Place, options: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]] | None:
    if _DETECTOR_OPTIONS is None:
        return options  # no detectors here to check them: the engine does
    known = _DETECTOR_OPTIONS[place]
    for name, value in (options or {}).items():
        model = known.get(name)
        if model is None:
            names = ", ".join(sorted(known)) or "none"
            raise ValueError(f"{name}: no {place} detector takes options (known: {names})")
        try:
            model.model_validate(value)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{name}.{line}" for line in describe_errors(exc))) from None
    return options


def _options_field(place: Place) -> Any:
    return Field(
        default=None,
        description=f"Per detector (``options: {{loitering: {{...}}}}``): its settings for this "
        f"{place}, checked by the detector's own model.",
    )


def _check_points(points: list[PointXY], units: Units, minimum: int) -> None:
    if len(points) < minimum:
        raise ValueError(f"points: needs at least {minimum} points, got {len(points)}")
    for index, (x, y) in enumerate(points):
        if units == "pct" and not (0 <= x <= 100 and 0 <= y <= 100):
            raise ValueError(f"points[{index}]: percent coordinates must lie in 0..100")
        if units == "px" and (x < 0 or y < 0):
            raise ValueError(f"points[{index}]: pixel coordinates must not be negative")


class LineConfig(StrictModel):
    """A line objects cross: the seed's axis line, or a polyline.

    Examples (YAML):
        ``{type: vertical, position_pct: 50, description: driveway entry}``
        ``{type: polyline, name: gate, points: [[10, 60], [90, 70]], units: pct, in_side: left}``
    """

    type: Literal["vertical", "horizontal", "polyline"] = Field(description="Shape of the line.")
    name: str | None = Field(default=None, max_length=128, description="Rules refer to it.")
    description: str | None = Field(
        default=None, max_length=128, description="The seed's name field; used when no name."
    )
    position_pct: float | None = Field(
        default=None, ge=0, le=100, description="Vertical: x; horizontal: y; percent of frame."
    )
    points: list[PointXY] | None = Field(default=None, description="Polyline vertices.")
    units: Units = Field(default="pct", description="Units of points: px or pct.")
    in_side: Literal["left", "right"] = Field(
        default="left",
        description="Polyline: side that is 'in', seen walking from the first to the last point.",
    )
    anchor: Anchor = Field(default=Anchor.BOTTOM_CENTER, description="Point of the box tested.")
    min_distance_px: float = Field(
        default=8.0, ge=0, description="A crossing counts once the anchor is this far past."
    )
    end_tolerance_px: float = Field(
        default=8.0,
        ge=0,
        description="Polyline: how far past its free ends the line still has sides; further "
        "out the side is unknown, so walking around an end is not a crossing.",
    )
    cooldown_s: float = Field(
        default=2.0,
        ge=0,
        description="Same track, same line, same direction: no event for this long (the "
        "crossing is still counted).",
    )
    classes: list[str] | None = Field(
        default=None, description="Class names counted; all if unset."
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    options: dict[str, dict[str, Any]] | None = _options_field("line")

    @field_validator("options")
    @classmethod
    def _options(
        cls, options: dict[str, dict[str, Any]] | None
    ) -> dict[str, dict[str, Any]] | None:
        return _check_options("line", options)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.name is None and self.description is None:
            raise ValueError("name: a line needs a name (or the seed's description)")
        if self.type == "polyline":
            if self.points is None:
                raise ValueError("points: a polyline needs points")
            _check_points(self.points, self.units, 2)
            if self.position_pct is not None:
                raise ValueError("position_pct: only for vertical and horizontal lines")
        elif self.position_pct is None:
            raise ValueError(f"position_pct: a {self.type} line needs position_pct")
        elif self.points is not None:
            raise ValueError(f"points: a {self.type} line takes position_pct, not points")
        return self

    @property
    def label(self) -> str:
        """The name rules and events use."""
        return self.name or self.description or ""

    @property
    def directions(self) -> set[Direction]:
        """The directions this line can report."""
        return _AXIS_DIRECTIONS[self.type]


class ZoneConfig(StrictModel):
    """An area: the seed's percent rectangle, or a polygon.

    Examples (YAML):
        ``{x1_pct: 20, y1_pct: 30, x2_pct: 80, y2_pct: 90, description: garden}``
        ``{name: porch, points: [[100, 400], [600, 380], [640, 700], [80, 710]], units: px}``
    """

    name: str | None = Field(default=None, max_length=128, description="Rules refer to it.")
    description: str | None = Field(default=None, max_length=128, description="The seed's name.")
    x1_pct: float | None = Field(default=None, ge=0, le=100, description="Rectangle left.")
    y1_pct: float | None = Field(default=None, ge=0, le=100, description="Rectangle top.")
    x2_pct: float | None = Field(default=None, ge=0, le=100, description="Rectangle right.")
    y2_pct: float | None = Field(default=None, ge=0, le=100, description="Rectangle bottom.")
    points: list[PointXY] | None = Field(default=None, description="Polygon vertices.")
    units: Units = Field(default="pct", description="Units of points: px or pct.")
    anchor: Anchor = Field(default=Anchor.BOTTOM_CENTER, description="Point of the box tested.")
    margin_px: float = Field(
        default=8.0,
        ge=0,
        description="Edge hysteresis: enter once the anchor is this far inside, exit once "
        "this far outside (the larger of this and margin_box wins).",
    )
    margin_box: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Edge hysteresis as a fraction of the box's longer side (scales with "
        "how near the object is).",
    )
    min_frames: int = Field(default=1, ge=1, description="Frames inside before ZONE_ENTER.")
    exit_frames: int = Field(default=3, ge=1, description="Frames outside before ZONE_EXIT.")
    dwell_s: float | None = Field(default=None, gt=0, description="ZONE_DWELL after this long.")
    classes: list[str] | None = Field(
        default=None, description="Class names counted; all if unset."
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    options: dict[str, dict[str, Any]] | None = _options_field("zone")

    @field_validator("options")
    @classmethod
    def _options(
        cls, options: dict[str, dict[str, Any]] | None
    ) -> dict[str, dict[str, Any]] | None:
        return _check_options("zone", options)

    @field_validator("x2_pct")
    @classmethod
    def _x_ordered(cls, x2: float | None, info: ValidationInfo) -> float | None:
        x1 = info.data.get("x1_pct")
        if x2 is not None and x1 is not None and x2 <= x1:
            raise ValueError("must be greater than x1_pct")
        return x2

    @field_validator("y2_pct")
    @classmethod
    def _y_ordered(cls, y2: float | None, info: ValidationInfo) -> float | None:
        y1 = info.data.get("y1_pct")
        if y2 is not None and y1 is not None and y2 <= y1:
            raise ValueError("must be greater than y1_pct")
        return y2

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.name is None and self.description is None:
            raise ValueError("name: a zone needs a name (or the seed's description)")
        rect = (self.x1_pct, self.y1_pct, self.x2_pct, self.y2_pct)
        given = [value is not None for value in rect]
        if any(given) and not all(given):
            raise ValueError("x1_pct: a rectangle needs all of x1_pct, y1_pct, x2_pct, y2_pct")
        if all(given) and self.points is not None:
            raise ValueError("points: give a rectangle (x1_pct..y2_pct) or points, not both")
        if not all(given):
            if self.points is None:
                raise ValueError("points: a zone needs x1_pct..y2_pct or polygon points")
            _check_points(self.points, self.units, 3)
        return self

    @property
    def label(self) -> str:
        """The name rules and events use."""
        return self.name or self.description or ""

    def polygon(self, width: int, height: int) -> list[PointXY]:
        """The zone's vertices in pixels of a ``width`` x ``height`` frame."""
        if self.points is None:
            x1, y1 = self.x1_pct or 0.0, self.y1_pct or 0.0
            x2, y2 = self.x2_pct or 0.0, self.y2_pct or 0.0
            pts: list[PointXY] = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
            return [(x * width / 100, y * height / 100) for x, y in pts]
        if self.units == "pct":
            return [(x * width / 100, y * height / 100) for x, y in self.points]
        return list(self.points)


class MatchConfig(StrictModel):
    """Which events a rule fires on."""

    event_type: EventType = Field(description=f"One of {', '.join(EventType)}.")
    line: str | None = Field(default=None, description="Line name; any line when unset.")
    zone: str | None = Field(default=None, description="Zone name; any zone when unset.")
    classes: list[str] | None = Field(default=None, description="Class names; all when unset.")
    direction: Direction | None = Field(default=None, description="LINE_CROSS only.")
    cooldown_s: float = Field(default=0.0, ge=0, description="Quiet time per rule and track.")
    min_confidence: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        reference = self.event_type.info.reference
        if reference == "line" and self.zone is not None:
            raise ValueError(f"zone: a {self.event_type} rule matches a line, not a zone")
        if reference == "zone" and self.line is not None:
            raise ValueError(f"line: a {self.event_type} rule matches a zone, not a line")
        if self.direction is not None and self.event_type is not EventType.LINE_CROSS:
            raise ValueError("direction: only LINE_CROSS rules have a direction")
        return self


class RuleConfig(StrictModel):
    """The seed's ``events:`` entry: ``{name, match, actions}``."""

    name: Identifier = Field(description="The rule's name, copied into its events.")
    match: MatchConfig
    actions: Actions = Field(default_factory=Actions)


class TrackingConfig(StrictModel):
    """How the engine mends what a tracker breaks: id switches, late frames, class flicker.

    Example (YAML, the defaults): ``tracking: {continue_within_s: 1.5, continue_distance: 1.0,
    lost_frames: 2, reorder_frames: 50, reorder_s: 5.0, class_memory: 30, max_tracks: 1000}``
    """

    continue_within_s: float = Field(
        default=1.5,
        ge=0,
        description="A new track that appears at most this long (message time) after a lost "
        "track of the same class was last seen, near where it was heading, continues it; "
        "0 turns id-switch mending off.",
    )
    continue_distance: float = Field(
        default=1.0,
        ge=0,
        description="How near, in diagonals of the lost track's last box, the new track's box "
        "centre must be to the path from the lost box to where it was heading.",
    )
    lost_frames: int = Field(
        default=2,
        ge=1,
        description="A track counts as lost (and may be continued) once it has been missing "
        "from this many of the camera's frames, the current one included (ByteTrack shows a "
        "new id from its second frame on); a track in the current frame never is.",
    )
    reorder_frames: int = Field(
        default=50,
        ge=0,
        description="A frame that arrives late, at most this many frame numbers behind the "
        "last one processed, is still used (0: late frames are dropped as duplicates).",
    )
    reorder_s: float = Field(
        default=5.0,
        ge=0,
        description="... and captured at most this many seconds before the last one.",
    )
    class_memory: float = Field(
        default=30.0,
        gt=0,
        description="A track's class is a confidence-weighted vote; the votes are scaled down "
        "to sum to at most this (about this many confident frames), so a track can still "
        "change its mind slowly.",
    )
    max_tracks: int = Field(
        default=1_000,
        ge=1,
        description="Tracks a camera keeps at most; past it, the tracks unseen longest end at "
        'once (zones: exit "lost"), never one in the current frame. A tracker that '
        "renumbers a crowd every frame would otherwise keep track_timeout_s of them "
        "(150,000 at 30 fps), each frame and each checkpoint growing with them.",
    )


class DeviceConfig(StrictModel):
    """One edge device's camera and what to watch for in it."""

    camera_id: Identifier | None = Field(default=None, description="Default: the device id.")
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    events: list[RuleConfig] = Field(default_factory=list, description="The rules.")
    tracking: TrackingConfig = Field(
        default_factory=TrackingConfig,
        description="Id switches, late frames and class votes (see docs/engine-behaviour.md).",
    )
    track_timeout_s: float = Field(
        default=5.0, gt=0, description="A track unseen this long (message time) has ended."
    )
    silence_s: float | None = Field(
        default=None,
        gt=0,
        description="Wall-clock seconds without an envelope (while the engine is connected) "
        "after which the camera's tracks end as lost; default: track_timeout_s for an edge "
        "that reports its status, 60 for one that does not (a seed-format edge).",
    )
    max_clock_ahead_s: float = Field(
        default=86_400.0,
        gt=0,
        description="An envelope stamped further ahead of the engine's clock is refused "
        "(dead letter naming source.timestamp).",
    )
    not_before: datetime = Field(
        default=datetime(2020, 1, 1, tzinfo=UTC),
        description="An envelope stamped before this is refused: an edge clock that was "
        "never set (1970 before NTP).",
    )

    @field_validator("not_before")
    @classmethod
    def _aware(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2020-01-01T00:00:00Z)")
        return moment.astimezone(UTC)

    @model_validator(mode="after")
    def _references(self) -> Self:
        for kind, labels in (
            ("lines", [line.label for line in self.lines]),
            ("zones", [zone.label for zone in self.zones]),
        ):
            for index, label in enumerate(labels):
                if label in labels[:index]:
                    raise ValueError(f"{kind}[{index}].name: {label!r} is used twice")
            refuse_slug_collisions(labels, kind)  # each is a Home Assistant entity id
        refuse_slug_collisions([rule.name for rule in self.events], "events")
        lines = {line.label: line for line in self.lines}
        zones = {zone.label: zone for zone in self.zones}
        rule_names: set[str] = set()
        for index, rule in enumerate(self.events):
            where = f"events[{index}]"
            if rule.name in rule_names:
                raise ValueError(f"{where}.name: rule {rule.name!r} is defined twice")
            rule_names.add(rule.name)
            match = rule.match
            if match.line is not None and match.line not in lines:
                raise ValueError(
                    f"{where}.match.line: no line named {match.line!r} "
                    f"(lines: {', '.join(sorted(lines)) or 'none'})"
                )
            if match.zone is not None and match.zone not in zones:
                raise ValueError(
                    f"{where}.match.zone: no zone named {match.zone!r} "
                    f"(zones: {', '.join(sorted(zones)) or 'none'})"
                )
            if match.direction is not None and match.line is not None:
                allowed = lines[match.line].directions
                if match.direction not in allowed:
                    raise ValueError(
                        f"{where}.match.direction: line {match.line!r} reports "
                        f"{' or '.join(sorted(allowed))}, never {match.direction}"
                    )
            if match.event_type is EventType.ZONE_DWELL:
                targets = [zones[match.zone]] if match.zone else list(zones.values())
                if not any(zone.dwell_s for zone in targets):
                    raise ValueError(f"{where}.match.zone: ZONE_DWELL needs a zone with dwell_s")
        return self


class HomeAssistantConfig(StrictModel):
    """MQTT discovery for Home Assistant."""

    enabled: bool = Field(default=True, description="Publish discovery configs.")
    node_prefix: str = Field(default="sightline", description="Prefix of HA node ids.")
    classes: list[str] | None = Field(
        default=None,
        description="Object classes with a count and an occupancy per camera and zone and a "
        "crossing counter per line and direction; unset: the classes the camera's rules, lines "
        "and zones name, else person and car.",
    )
    configuration_url: str | None = Field(
        default=None,
        description="The devices' 'Visit' link in Home Assistant (e.g. the console, "
        "http://<host>:8090/); none when unset.",
    )
    support_url: str | None = Field(
        default=None, description="The discovery origin's support link; none when unset."
    )
