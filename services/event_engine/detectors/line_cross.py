"""LINE_CROSS: a track's confirmed side of a line changed (see :mod:`event_engine.crossing`).

Every crossing is counted per line and direction, and per class (Home Assistant's counters);
within the line's ``cooldown_s`` its occurrence is ``quiet``: counted, no rule fires.

Example:
    >>> from datetime import UTC, datetime
    >>> from sightline.config.engine import DeviceConfig
    >>> from sightline.messages.sightings import Sighting, SightingBox, SightingPoint
    >>> from event_engine.scene import Scene
    >>> from event_engine.tracks import CameraState, TrackState
    >>> device = DeviceConfig.model_validate(
    ...     {"lines": [{"type": "vertical", "position_pct": 50, "description": "gate"}]})
    >>> car = Sighting(track_id=7, class_id=2, class_name="car", confidence=0.8,
    ...     bbox=SightingBox(0, 0, 10, 10), center=SightingPoint(5, 5))
    >>> now = datetime(2025, 1, 1, tzinfo=UTC)
    >>> scene, state = Scene.from_config(device, 100, 100), CameraState()
    >>> track, frame = TrackState(7, now, 1, car), Frame(scene, state, 1, now)
    >>> detector = LineCross(device)
    >>> detector.at_line(track, scene.lines[0], -1, frame)  # first side: no crossing yet
    []
    >>> [o.line.direction.value for o in detector.at_line(track, scene.lines[0], 1, frame)]
    ['left_to_right']
    >>> state.crossings
    {'gate|left_to_right': 1}
"""

from __future__ import annotations

from event_engine.crossing import observe_line
from event_engine.detectors import Detector, Frame, register
from event_engine.rules import Occurrence
from event_engine.scene import SceneLine
from event_engine.tracks import TrackState
from sightline.messages.event import EventType, LineRef


@register
class LineCross(Detector):
    """Crossings of lines, counted, with the line's cool-down."""

    name = "line_cross"
    event_types = (EventType.LINE_CROSS,)

    def at_line(
        self, track: TrackState, line: SceneLine, side: int, frame: Frame
    ) -> list[Occurrence]:
        crossing = observe_line(track, line.geometry, side, frame.now, line.config.cooldown_s)
        if crossing is None:
            return []
        state, direction = frame.state, crossing.direction
        key = f"{line.config.label}|{direction}"
        state.crossings[key] = state.crossings.get(key, 0) + 1
        by_class = f"{key}|{track.object_class}"
        state.class_crossings[by_class] = state.class_crossings.get(by_class, 0) + 1
        ref = LineRef(
            name=line.config.label, direction=direction, points=list(line.geometry.points)
        )
        # counted either way; the line's cool-down only quiets the event
        return [frame.occurrence(EventType.LINE_CROSS, track, line=ref, quiet=crossing.quiet)]
