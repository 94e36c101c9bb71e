"""What the engine remembers per camera and per track: plain dataclasses, checkpointed as JSON.

Example:
    >>> from datetime import UTC, datetime
    >>> state = CameraState()
    >>> state.accepts_frame(3, datetime(2025, 1, 1, tzinfo=UTC))
    <FrameOrder.NEXT: 'next'>
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sightline.messages.envelope import Detection


class FrameOrder(StrEnum):
    """How a frame relates to the last one processed for its camera."""

    NEXT = "next"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass
class ZoneVisit:
    """A track's relation to one zone: the runs that debounce enter and exit, and the visit."""

    occupied: bool = False
    inside_run: int = 0
    outside_run: int = 0
    entered_at: datetime | None = None
    dwell_fired: bool = False


@dataclass
class TrackState:
    """One tracked object of one camera."""

    track_id: int
    last_seen: datetime
    last_frame: int
    detection: Detection
    sides: dict[str, int] = field(default_factory=dict)
    """Line name -> the side the anchor was last confirmed on (-1 or +1)."""
    line_quiet_until: dict[str, datetime] = field(default_factory=dict)
    """``line|direction`` -> end of that crossing's cool-down."""
    zones: dict[str, ZoneVisit] = field(default_factory=dict)

    def occupied_zones(self) -> list[str]:
        """Names of the zones this track is in."""
        return [name for name, visit in self.zones.items() if visit.occupied]


@dataclass
class CameraState:
    """One camera: the last frame processed, its tracks, rule cool-downs and counters."""

    last_frame: int | None = None
    last_timestamp: datetime | None = None
    tracks: dict[int, TrackState] = field(default_factory=dict)
    rule_quiet_until: dict[str, datetime] = field(default_factory=dict)
    """``rule|track_id`` -> end of that rule's cool-down for that track."""
    crossings: dict[str, int] = field(default_factory=dict)
    """``line|direction`` -> crossings counted since the engine first ran."""

    def accepts_frame(self, number: int, timestamp: datetime) -> FrameOrder:
        """Classify a frame: the next one, a redelivery, or the first of a restarted edge."""
        if self.last_frame is None or self.last_timestamp is None or number > self.last_frame:
            return FrameOrder.NEXT
        if timestamp > self.last_timestamp:
            return FrameOrder.RESTART
        return FrameOrder.DUPLICATE

    def expired(self, now: datetime, timeout_s: float) -> list[TrackState]:
        """Tracks unseen for longer than ``timeout_s`` of message time."""
        return [t for t in self.tracks.values() if (now - t.last_seen).total_seconds() > timeout_s]

    def forget(self, track: TrackState) -> None:
        """Drop a track and every cool-down keyed on it (memory stays flat)."""
        self.tracks.pop(track.track_id, None)
        suffix = f"|{track.track_id}"
        for key in [k for k in self.rule_quiet_until if k.endswith(suffix)]:
            del self.rule_quiet_until[key]

    def zone_counts(self) -> dict[str, int]:
        """Zone name -> tracks inside it now."""
        counts: dict[str, int] = {}
        for track in self.tracks.values():
            for name in track.occupied_zones():
                counts[name] = counts.get(name, 0) + 1
        return counts
