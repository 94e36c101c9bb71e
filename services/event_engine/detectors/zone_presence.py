"""ZONE_ENTER, ZONE_EXIT, ZONE_DWELL: a track's visit of a zone (see :mod:`event_engine.zones`).

It keeps each track's :class:`~event_engine.tracks.ZoneVisit` (what Home Assistant's zone
counts read, and what other zone detectors read after it: it runs first). A track that ends
leaves its zones as ``lost``, its dwell measured up to when it was last seen.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from sightline.config.engine import DeviceConfig
    >>> from sightline.messages.sightings import Sighting, SightingBox, SightingPoint
    >>> from event_engine.scene import Scene
    >>> from event_engine.tracks import CameraState, TrackState
    >>> device = DeviceConfig.model_validate({"zones": [{"name": "porch", "x1_pct": 0,
    ...     "y1_pct": 0, "x2_pct": 50, "y2_pct": 50, "dwell_s": 5}]})
    >>> dog = Sighting(track_id=3, class_id=16, class_name="dog", confidence=0.9,
    ...     bbox=SightingBox(10, 10, 20, 20), center=SightingPoint(15, 15))
    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> scene, state = Scene.from_config(device, 100, 100), CameraState()
    >>> track, detector = TrackState(3, t0, 1, dog), ZonePresence(device)
    >>> [o.event_type.value for o in detector.at_zone(track, scene.zones[0], True,
    ...     Frame(scene, state, 1, t0))]
    ['ZONE_ENTER']
    >>> later = t0 + timedelta(seconds=6)
    >>> [o.zone.dwell_s for o in detector.at_zone(track, scene.zones[0], True,
    ...     Frame(scene, state, 2, later))]
    [6.0]
    >>> [o.zone.reason for o in detector.ended(track, Frame(scene, state, 3, later))]
    ['lost']
"""

from __future__ import annotations

from event_engine.detectors import Detector, Frame, register
from event_engine.rules import Occurrence
from event_engine.scene import SceneZone
from event_engine.tracks import TrackState, ZoneVisit
from event_engine.zones import ZoneChange, ZoneChangeKind, end_visit, observe_zone
from sightline.messages.event import EventType, ZoneRef

ZONE_EVENT = {
    ZoneChangeKind.ENTER: EventType.ZONE_ENTER,
    ZoneChangeKind.EXIT: EventType.ZONE_EXIT,
    ZoneChangeKind.DWELL: EventType.ZONE_DWELL,
}


@register
class ZonePresence(Detector):
    """Visits of zones: enter after ``min_frames``, exit after ``exit_frames``, dwell once."""

    name = "zone_presence"
    event_types = tuple(ZONE_EVENT.values())
    order = 0

    def at_zone(
        self, track: TrackState, zone: SceneZone, inside: bool, frame: Frame
    ) -> list[Occurrence]:
        name = zone.geometry.name
        visit = track.zones.get(name)
        occupied = visit is not None and visit.occupied
        evidence = zone.evidence(track.detection.bbox, inside, occupied)
        if visit is None:
            if not evidence:
                return []  # in the edge band, not yet margin deep
            visit = track.zones[name] = ZoneVisit()
        config = zone.config
        changes = observe_zone(
            visit,
            evidence,
            frame.now,
            min_frames=config.min_frames,
            exit_frames=config.exit_frames,
            dwell_s=config.dwell_s,
        )
        if not visit.occupied and evidence is False:
            del track.zones[name]
        return [zone_occurrence(change, track, name, frame) for change in changes]

    def ended(self, track: TrackState, frame: Frame) -> list[Occurrence]:
        return [
            zone_occurrence(end_visit(visit, track.last_seen, "lost"), track, name, frame)
            for name, visit in track.zones.items()
            if visit.occupied and frame.scene.zone(name) is not None
        ]


def zone_occurrence(change: ZoneChange, track: TrackState, name: str, frame: Frame) -> Occurrence:
    """The occurrence of a visit's ``change``, with the zone's polygon to draw it."""
    zone = frame.scene.zone(name)
    points = list(zone.geometry.points) if zone is not None else None
    dwell = change.dwell_s if change.kind is not ZoneChangeKind.ENTER else None
    ref = ZoneRef(name=name, reason=change.reason, dwell_s=dwell, points=points)
    return frame.occurrence(ZONE_EVENT[change.kind], track, zone=ref)
