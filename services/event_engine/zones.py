"""A track's visit of a zone: ``ZONE_ENTER`` after ``min_frames`` inside, ``ZONE_EXIT`` after
``exit_frames`` outside, ``ZONE_DWELL`` once per visit after ``dwell_s``.

Inside and outside are decided with a spatial hysteresis first (:func:`edge_evidence`): a
track not in the zone is inside once its anchor is ``margin`` deep, a track in the zone is
outside once its anchor is ``margin`` out; in between (the band along the edge) the frame
is no evidence either way, so a box jittering on the edge enters once and exits once.

Example:
    >>> from datetime import UTC, datetime
    >>> visit = ZoneVisit()
    >>> now = datetime(2025, 1, 1, tzinfo=UTC)
    >>> [c.kind for c in observe_zone(visit, True, now, min_frames=1, exit_frames=2, dwell_s=None)]
    [<ZoneChangeKind.ENTER: 'enter'>]
    >>> edge_evidence(True, False, depth=3.0, margin=8.0) is None  # 3 px in: not yet
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from event_engine.tracks import ZoneVisit


class ZoneChangeKind(StrEnum):
    """What happened to a visit."""

    ENTER = "enter"
    EXIT = "exit"
    DWELL = "dwell"


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A change of a visit, with how long the object had been inside."""

    kind: ZoneChangeKind
    dwell_s: float | None = None
    reason: str | None = None


def edge_evidence(inside: bool, occupied: bool, *, depth: float, margin: float) -> bool | None:
    """What one frame says about a visit, with the edge hysteresis.

    ``inside``: the anchor is in the polygon; ``occupied``: the visit is in the zone now;
    ``depth``: the anchor's distance to the zone's nearest edge. A frame that agrees with
    the visit is evidence at any depth; one that disagrees only ``margin`` or more past
    the edge; else ``None`` (in the band).
    """
    if inside == occupied or depth >= margin:
        return inside
    return None


def observe_zone(
    visit: ZoneVisit,
    inside: bool | None,
    now: datetime,
    *,
    min_frames: int,
    exit_frames: int,
    dwell_s: float | None,
) -> list[ZoneChange]:
    """Feed one frame's inside/outside of a track to its visit; the changes it caused.

    ``inside`` None (in the edge band) leaves the enter and exit runs as they are.
    """
    changes: list[ZoneChange] = []
    if inside is None:
        pass
    elif inside:
        visit.inside_run += 1
        visit.outside_run = 0
        if not visit.occupied and visit.inside_run >= min_frames:
            visit.occupied = True
            visit.entered_at = now
            visit.dwell_fired = False
            changes.append(ZoneChange(ZoneChangeKind.ENTER, dwell_s=0.0))
    else:
        visit.outside_run += 1
        visit.inside_run = 0
        if visit.occupied and visit.outside_run >= exit_frames:
            changes.append(end_visit(visit, now, reason="left"))
    if visit.occupied and not visit.dwell_fired and dwell_s is not None:
        assert visit.entered_at is not None
        stayed = (now - visit.entered_at).total_seconds()
        if stayed >= dwell_s:
            visit.dwell_fired = True
            changes.append(ZoneChange(ZoneChangeKind.DWELL, dwell_s=round(stayed, 3)))
    return changes


def end_visit(visit: ZoneVisit, now: datetime, reason: str) -> ZoneChange:
    """Close an occupied visit (``left`` the zone, or the track was ``lost``)."""
    entered = visit.entered_at or now
    visit.occupied = False
    visit.entered_at = None
    visit.dwell_fired = False
    visit.inside_run = 0
    stayed = max(0.0, (now - entered).total_seconds())
    return ZoneChange(ZoneChangeKind.EXIT, dwell_s=round(stayed, 3), reason=reason)
