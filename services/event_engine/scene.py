"""A device's lines and zones laid out in pixels for one frame size, with their filters.

Example:
    >>> from sightline.config.engine import DeviceConfig
    >>> device = DeviceConfig.model_validate(
    ...     {"lines": [{"type": "vertical", "position_pct": 50, "description": "entry"}]})
    >>> Scene.from_config(device, 1280, 720).lines[0].geometry.points
    ((640.0, 0.0), (640.0, 720.0))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from event_engine.geometry import LineGeometry, ZoneGeometry
from event_engine.zones import edge_evidence
from sightline.config.base import Anchor
from sightline.config.engine import DeviceConfig, LineConfig, ZoneConfig
from sightline.messages.sightings import Sighting, SightingBox


def admits(config: LineConfig | ZoneConfig, detection: Sighting) -> bool:
    """Whether a line's or zone's class filter and minimum confidence let ``detection`` in."""
    if config.classes is not None and detection.class_name not in config.classes:
        return False
    return detection.confidence >= config.min_confidence


@dataclass(frozen=True, slots=True)
class SceneLine:
    """A configured line and its pixels."""

    config: LineConfig
    geometry: LineGeometry


@dataclass(frozen=True, slots=True)
class SceneZone:
    """A configured zone and its pixels."""

    config: ZoneConfig
    geometry: ZoneGeometry

    def evidence(self, box: SightingBox, inside: bool, occupied: bool) -> bool | None:
        """What a frame where ``box``'s anchor is (or is not) ``inside`` the polygon says
        about a visit that is (or is not) ``occupied``: see :func:`edge_evidence`."""
        if inside == occupied:
            return inside  # agrees with the visit: no depth needed (the common case)
        x = (box.x1 + box.x2) / 2
        y = (box.y1 + box.y2) / 2 if self.config.anchor is Anchor.CENTER else box.y2
        margin = self.geometry.margin(max(box.x2 - box.x1, box.y2 - box.y1))
        return edge_evidence(inside, occupied, depth=self.geometry.depth(x, y), margin=margin)


@dataclass(frozen=True, slots=True)
class Scene:
    """Every line and zone of a device, for frames of one size."""

    lines: tuple[SceneLine, ...]
    zones: tuple[SceneZone, ...]
    line_names: tuple[str, ...] = field(init=False)
    """Each line's name, in order (read for every box of every frame)."""
    zone_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "line_names", tuple(line.geometry.name for line in self.lines))
        object.__setattr__(self, "zone_names", tuple(zone.geometry.name for zone in self.zones))

    @classmethod
    def from_config(cls, device: DeviceConfig, width: int, height: int) -> Scene:
        """Lay ``device``'s lines and zones out on a ``width`` x ``height`` frame."""
        return cls(
            tuple(SceneLine(c, LineGeometry.from_config(c, width, height)) for c in device.lines),
            tuple(SceneZone(c, ZoneGeometry.from_config(c, width, height)) for c in device.zones),
        )

    def zone(self, name: str) -> SceneZone | None:
        """The zone called ``name``, if configured."""
        return next((z for z in self.zones if z.config.label == name), None)
