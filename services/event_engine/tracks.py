"""What the engine remembers per camera and per track: plain dataclasses, checkpointed as JSON.

Example:
    >>> from datetime import UTC, datetime
    >>> state = CameraState()
    >>> state.classify(3, datetime(2025, 1, 1, tzinfo=UTC), None).kind
    <Order.NEXT: 'next'>
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from event_engine.runs import Classified, Order, Run, RunBook, derived_run_id, micros
from sightline.messages.envelope import Detection

FrameOrder = Order
"""How a frame relates to what was processed of its camera (see :mod:`event_engine.runs`)."""


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

    @property
    def object_class(self) -> str:
        """The class this track is taken to be for rules, events and counts."""
        return self.detection.class_name

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
    class_crossings: dict[str, int] = field(default_factory=dict)
    """``line|direction|class`` -> crossings of objects of that class since the engine first ran."""
    device_id: str | None = None
    """The device whose envelopes it was filed under last."""
    frame_size: tuple[int, int] | None = None
    """Width and height of the last frame (to end tracks without a new frame)."""
    runs: RunBook = field(default_factory=RunBook)
    """The edge's current run (its identity goes into event ids) and a few ended ones."""

    @property
    def run_id(self) -> str:
        """The current run's identity ("" before the first frame)."""
        return self.runs.current.run_id if self.runs.current is not None else ""

    def classify(self, number: int, timestamp: datetime, run_id: str | None) -> Classified:
        """Classify a frame: the next one, a redelivery, or the first of a restarted edge."""
        if self.runs.current is None and self.last_frame is not None and self.last_timestamp:
            # A checkpoint from before run identities: its run goes on from its last frame.
            start = derived_run_id(self.last_frame, self.last_timestamp)
            self.runs.current = Run.start(
                start, False, self.last_frame, micros(self.last_timestamp)
            )
        return self.runs.classify(number, timestamp, run_id)

    def accept(self, decided: Classified, number: int, timestamp: datetime) -> None:
        """Take a NEXT or RESTART frame as the camera's last one."""
        self.runs.accept(decided, number, timestamp)
        self.last_frame, self.last_timestamp = number, timestamp

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
