"""What the engine remembers per camera and per track: plain dataclasses, checkpointed as JSON.

A track's class is a vote over its life: each frame adds the detection's confidence to its
class, and the votes are scaled down to sum to at most ``memory`` (so a long-lived track can
still change its mind, slowly). A car labelled "truck" on the three frames at the line is
still a car.

Example:
    >>> from datetime import UTC, datetime
    >>> state = CameraState()
    >>> state.classify(3, datetime(2025, 1, 1, tzinfo=UTC), None).kind
    <Order.NEXT: 'next'>
    >>> votes: dict[str, float] = {}
    >>> for name, confidence in [("car", 0.9)] * 10 + [("truck", 0.6)] * 3:
    ...     add_vote(votes, name, confidence, memory=30.0)
    >>> winner(votes, "truck")
    'car'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from event_engine.runs import (
    NO_REORDER,
    Classified,
    Order,
    ReorderWindow,
    Run,
    RunBook,
    derived_run_id,
    micros,
)
from sightline.config.engine import TrackingConfig
from sightline.messages.sightings import Sighting

FrameOrder = Order
"""How a frame relates to what was processed of its camera (see :mod:`event_engine.runs`)."""

MAX_CLASSES = 8
"""Classes a track's vote remembers (the weakest beyond are forgotten: memory stays flat)."""
TRAIL_FRAMES = 5
"""A track's speed is measured from a box centre at least this many frames back."""
MIN_VOTE = 0.01
"""The least confidence a detection votes with (a detector that reports 0 still counts)."""


def add_vote(votes: dict[str, float], name: str, confidence: float, memory: float) -> None:
    """Add one detection's vote (its confidence) for ``name``; keep the sum at most
    ``memory`` and at most :data:`MAX_CLASSES` classes."""
    votes[name] = votes.get(name, 0.0) + max(confidence, MIN_VOTE)
    total = sum(votes.values())
    if total > memory:
        scale = memory / total
        for key in votes:
            votes[key] *= scale
    if len(votes) > MAX_CLASSES:  # forget the weakest other class, never this frame's
        weakest = min((key for key in votes if key != name), key=lambda key: (votes[key], key))
        del votes[weakest]


def winner(votes: dict[str, float], latest: str) -> str:
    """The class with the most votes (ties: ``latest`` if among them, else by name)."""
    if not votes:
        return latest
    best = max(votes.values()) - 1e-9
    if votes.get(latest, -1.0) >= best:
        return latest
    return min(name for name, vote in votes.items() if vote >= best)


@lru_cache(maxsize=64)
def _least_longer(seconds: float) -> timedelta | None:
    """The shortest time span whose ``total_seconds()`` is more than ``seconds``: a span is
    longer than ``seconds`` exactly when it is at least this (spans are whole microseconds
    and ``total_seconds`` grows with them); None for a limit out of the ordinary.

    >>> _least_longer(2.0), _least_longer(0.1)
    (datetime.timedelta(seconds=2, microseconds=1), datetime.timedelta(microseconds=100001))
    """
    if not math.isfinite(seconds) or not 0 <= seconds <= 1e9:
        return None
    micros = math.floor(seconds * 1e6) - 4
    if micros / 1e6 > seconds:
        return None
    while micros / 1e6 <= seconds:
        micros += 1
    return timedelta(microseconds=micros)


@dataclass(slots=True)
class ZoneVisit:
    """A track's relation to one zone: the runs that debounce enter and exit, and the visit."""

    occupied: bool = False
    inside_run: int = 0
    outside_run: int = 0
    entered_at: datetime | None = None
    dwell_fired: bool = False
    notes: dict[str, dict[str, float]] = field(default_factory=dict)
    """Detector name -> what that detector remembers of this visit (numbers: checkpointed
    as JSON)."""


@dataclass(slots=True)
class TrackState:
    """One tracked object of one camera."""

    track_id: int
    last_seen: datetime
    last_frame: int
    detection: Sighting
    sides: dict[str, int] = field(default_factory=dict)
    """Line name -> the side the anchor was last confirmed on (-1 or +1)."""
    line_quiet_until: dict[str, datetime] = field(default_factory=dict)
    """``line|direction`` -> end of that crossing's cool-down."""
    zones: dict[str, ZoneVisit] = field(default_factory=dict)
    class_votes: dict[str, float] = field(default_factory=dict)
    """Class name -> summed (and scaled) confidence of the detections labelled so."""
    raw_class: str = ""
    """The class the detector gave the last detection ("" before the first)."""
    marks: list[tuple[int, float, float, datetime]] = field(default_factory=list)
    """``(frame, x, y, time)`` of the box centre every :data:`TRAIL_FRAMES` frames (the last
    two): the speed is measured over 5 to 10 frames, so box jitter hardly moves it."""
    continued_from: int | None = None
    """The id this object had when the engine first saw it, if the tracker switched it."""
    notes: dict[str, dict[str, float]] = field(default_factory=dict)
    """Detector name -> what that detector remembers of this track (numbers: checkpointed
    as JSON; they follow an id switch)."""

    def shift_back(self, step: timedelta) -> None:
        """Move every time this track holds ``step`` earlier (the edge's clock was set right
        after running ahead): its last sighting, speed marks, zone entries and cool-downs.
        Detectors' ``notes`` hold no times."""
        self.last_seen -= step
        self.marks = [(frame, x, y, at - step) for frame, x, y, at in self.marks]
        self.line_quiet_until = {key: at - step for key, at in self.line_quiet_until.items()}
        for visit in self.zones.values():
            if visit.entered_at is not None:
                visit.entered_at -= step

    @property
    def object_class(self) -> str:
        """The class this track is taken to be for rules, events and counts: the vote."""
        return winner(self.class_votes, self.raw_class or self.detection.class_name)

    def occupied_zones(self) -> list[str]:
        """Names of the zones this track is in."""
        return [name for name, visit in self.zones.items() if visit.occupied]

    @property
    def velocity(self) -> tuple[float, float]:
        """Box centre speed in px/s, from the oldest mark to the last box."""
        if not self.marks:
            return 0.0, 0.0
        _, x0, y0, then = self.marks[0]
        elapsed = (self.last_seen - then).total_seconds()
        if elapsed <= 0:
            return 0.0, 0.0
        x, y = centre(self.detection)
        return (x - x0) / elapsed, (y - y0) / elapsed

    def update(self, detection: Sighting, number: int, now: datetime, memory: float) -> None:
        """Take this frame's detection: its vote, the speed, and (with the voted class) as
        the track's detection."""
        marks = self.marks
        if not marks or number - marks[-1][0] >= TRAIL_FRAMES:
            marks.append((number, *centre(detection), now))
            if len(marks) > 2:
                del marks[0]
        name, votes = detection.class_name, self.class_votes
        if len(votes) == 1 and name in votes:  # the usual case: one class all along
            vote = votes[name]
            if vote < memory:
                vote += detection.confidence
                votes[name] = vote if vote < memory else memory
            voted = name
        else:
            add_vote(votes, name, detection.confidence, memory)
            voted = winner(votes, name)
        self.raw_class = name
        if voted != name:
            detection = replace(detection, class_name=voted)
        self.last_seen, self.last_frame, self.detection = now, number, detection


def centre(detection: Sighting) -> tuple[float, float]:
    """The centre of a detection's box."""
    box = detection.bbox
    return (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2


def heading_distance(lost: TrackState, detection: Sighting, now: datetime) -> float:
    """How far ``detection``'s box centre is from the path ``lost`` was on: the segment from
    its last box centre to where its speed would have taken it by ``now``, in diagonals of
    its last box.

    >>> from datetime import UTC, datetime, timedelta
    >>> from sightline.messages.sightings import SightingBox, SightingPoint
    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> def box(x: float) -> Sighting:
    ...     return Sighting(track_id=1, class_id=0, class_name="car", confidence=0.9,
    ...         bbox=SightingBox(x, 0, x + 30, 40), center=SightingPoint(x + 15, 20))
    >>> lost = TrackState(1, t0, 0, box(0))
    >>> lost.update(box(0), 0, t0, 30.0)
    >>> lost.update(box(10), 1, t0 + timedelta(seconds=0.1), 30.0)  # 100 px/s to the right
    >>> later = t0 + timedelta(seconds=1.1)
    >>> heading_distance(lost, box(110), later)  # where it was heading
    0.0
    >>> heading_distance(lost, box(-90), later)  # behind it: 100 px / 50 px
    2.0
    """
    (x0, y0), (x, y) = centre(lost.detection), centre(detection)
    elapsed = max(0.0, (now - lost.last_seen).total_seconds())
    vx, vy = lost.velocity
    dx, dy = vx * elapsed, vy * elapsed
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else min(1.0, max(0.0, ((x - x0) * dx + (y - y0) * dy) / length))
    box = lost.detection.bbox
    diagonal = max(1.0, math.hypot(box.x2 - box.x1, box.y2 - box.y1))
    return math.hypot(x - (x0 + t * dx), y - (y0 + t * dy)) / diagonal


MAX_SWITCH_PAIRS = 10_000
"""Pairs of a lost track and a newcomer weighed at most in one frame. A real scene weighs
far fewer (40 lost tracks and 40 newcomers at once: 1,600); a tracker that renumbers a
crowd every frame, or a hostile edge sending 1,000 new ids a frame, would otherwise cost
the engine seconds of CPU per envelope (every camera waits for it)."""
MAX_SWITCH_LOST = 100
"""Lost tracks weighed at most in one frame (the latest lost first) when the pairs are over
:data:`MAX_SWITCH_PAIRS`."""


def switch_candidates(
    lost: list[TrackState], newcomers: list[Sighting]
) -> tuple[list[TrackState], list[Sighting]]:
    """The lost tracks and newcomers :func:`find_switches` weighs: all of them, unless
    that is over :data:`MAX_SWITCH_PAIRS` pairs; then the :data:`MAX_SWITCH_LOST` lost last
    (latest first, then by id) and the newcomers of the lowest ids, within the budget.

    >>> from datetime import UTC, datetime
    >>> from sightline.messages.sightings import SightingBox, SightingPoint
    >>> def seen(track_id: int) -> Sighting:
    ...     return Sighting(track_id=track_id, class_id=0, class_name="car", confidence=0.9,
    ...         bbox=SightingBox(0, 0, 10, 10), center=SightingPoint(5, 5))
    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> lost = [TrackState(i, t0, i % 7, seen(i)) for i in range(1_000)]
    >>> old, new = switch_candidates(lost, [seen(5_000 + i) for i in range(1_000)])
    >>> len(old), len(new), len(old) * len(new) <= MAX_SWITCH_PAIRS
    (100, 100, True)
    >>> old[0].last_frame, old[0].track_id, new[0].track_id
    (6, 6, 5000)
    >>> [len(side) for side in switch_candidates(lost[:3], [seen(9)])]  # within: all
    [3, 1]
    """
    if len(lost) * len(newcomers) <= MAX_SWITCH_PAIRS:
        return lost, newcomers
    latest = sorted(lost, key=lambda track: (-track.last_frame, track.track_id))
    latest = latest[:MAX_SWITCH_LOST]
    first = sorted(newcomers, key=lambda new: new.track_id or 0)
    return latest, first[: MAX_SWITCH_PAIRS // max(1, len(latest))]


def continuable(
    lost: list[TrackState], number: int, now: datetime, tracking: TrackingConfig
) -> list[TrackState]:
    """The lost tracks a newcomer of frame ``number`` may continue: missing from at least
    ``lost_frames`` frames, last seen at most ``continue_within_s`` ago."""
    return [
        old
        for old in lost
        if number - old.last_frame >= tracking.lost_frames
        and 0 <= (now - old.last_seen).total_seconds() <= tracking.continue_within_s
    ]


def find_switches(
    lost: list[TrackState],
    newcomers: list[Sighting],
    number: int,
    now: datetime,
    tracking: TrackingConfig,
) -> list[tuple[TrackState, Sighting]]:
    """Which new tracks continue which lost ones (a tracker that switched ids).

    A lost track (missing from at least ``lost_frames`` frames, last seen at most
    ``continue_within_s`` ago) of the same (voted) class as a newcomer, whose path passes
    within ``continue_distance`` box diagonals of the newcomer's box, is continued by it.
    Nearest pairs first (ties by track ids): each lost track and each newcomer at most once,
    the same answer for the same input. At most :data:`MAX_SWITCH_PAIRS` pairs are weighed
    (:func:`switch_candidates`); the newcomers left out start tracks of their own.
    """
    if tracking.continue_within_s <= 0:
        return []
    eligible, newcomers = switch_candidates(continuable(lost, number, now, tracking), newcomers)
    pairs: list[tuple[float, int, int, TrackState, Sighting]] = []
    for old in eligible:
        for new in newcomers:
            if new.class_name != old.object_class:
                continue
            distance = heading_distance(old, new, now)
            if distance <= tracking.continue_distance:
                assert new.track_id is not None
                pairs.append((distance, old.track_id, new.track_id, old, new))
    pairs.sort(key=lambda pair: pair[:3])
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    chosen: list[tuple[TrackState, Sighting]] = []
    for _, old_id, new_id, old, new in pairs:
        if old_id in taken_old or new_id in taken_new:
            continue
        taken_old.add(old_id)
        taken_new.add(new_id)
        chosen.append((old, new))
    return chosen


@dataclass(slots=True)
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
    shapes: dict[str, str] = field(default_factory=dict)
    """``line:<name>`` / ``zone:<name>`` -> the fingerprint of the line or zone the tracks'
    memory of it was measured against (see :mod:`event_engine.shapes`)."""

    @property
    def run_id(self) -> str:
        """The current run's identity ("" before the first frame)."""
        return self.runs.current.run_id if self.runs.current is not None else ""

    def classify(
        self,
        number: int,
        timestamp: datetime,
        run_id: str | None,
        window: ReorderWindow = NO_REORDER,
    ) -> Classified:
        """Classify a frame: the next one, a late one, a redelivery, or the first of a
        restarted edge."""
        if self.runs.current is None and self.last_frame is not None and self.last_timestamp:
            # A checkpoint from before run identities: its run goes on from its last frame.
            start = derived_run_id(self.last_frame, self.last_timestamp)
            self.runs.current = Run.start(
                start, False, self.last_frame, micros(self.last_timestamp)
            )
        return self.runs.classify(number, timestamp, run_id, window)

    def accept(
        self,
        decided: Classified,
        number: int,
        timestamp: datetime,
        window: ReorderWindow = NO_REORDER,
    ) -> None:
        """Take a NEXT or RESTART frame as the camera's last one (a LATE one as processed)."""
        self.runs.accept(decided, number, timestamp, window)
        if decided.kind is not Order.LATE:
            self.last_frame, self.last_timestamp = number, timestamp

    def expired(self, now: datetime, timeout_s: float) -> list[TrackState]:
        """Tracks unseen for longer than ``timeout_s`` of message time."""
        least = _least_longer(timeout_s)
        if least is not None:
            try:
                cutoff = now - least
            except OverflowError:
                pass
            else:  # one comparison a track: exactly the test below (see _least_longer)
                return [t for t in self.tracks.values() if t.last_seen <= cutoff]
        return [t for t in self.tracks.values() if (now - t.last_seen).total_seconds() > timeout_s]

    def shift_back(self, track: TrackState, step: timedelta) -> None:
        """Move ``track``'s times and its rule cool-downs ``step`` earlier (see
        :meth:`TrackState.shift_back`)."""
        track.shift_back(step)
        for key in self._cool_downs(track):
            self.rule_quiet_until[key] -= step

    def forget(self, track: TrackState) -> None:
        """Drop a track and every cool-down keyed on it (memory stays flat)."""
        self.tracks.pop(track.track_id, None)
        for key in self._cool_downs(track):
            del self.rule_quiet_until[key]

    def _cool_downs(self, track: TrackState) -> list[str]:
        """The keys of :attr:`rule_quiet_until` that are ``track``'s (``rule|track_id``)."""
        suffix = f"|{track.track_id}"
        return [key for key in self.rule_quiet_until if key.endswith(suffix)]

    def continue_track(self, old: TrackState, new: TrackState) -> None:
        """``new`` is ``old`` under a new id: it takes its line sides, zone visits (with their
        dwell start), class votes, speed, cool-downs and detectors' notes; ``old`` is gone
        (no zone exits)."""
        new.last_seen, new.last_frame, new.detection = old.last_seen, old.last_frame, old.detection
        new.sides = dict(old.sides)
        new.line_quiet_until = dict(old.line_quiet_until)
        new.zones = old.zones
        new.class_votes = dict(old.class_votes)
        new.raw_class = old.raw_class
        new.marks = list(old.marks)
        new.continued_from = old.continued_from if old.continued_from is not None else old.track_id
        new.notes = {name: dict(note) for name, note in old.notes.items()}
        self.tracks.pop(old.track_id, None)
        suffix, renamed = f"|{old.track_id}", f"|{new.track_id}"
        for key in [k for k in self.rule_quiet_until if k.endswith(suffix)]:
            until = self.rule_quiet_until.pop(key)
            self.rule_quiet_until[key[: -len(suffix)] + renamed] = until

    def zone_counts(self) -> dict[str, int]:
        """Zone name -> tracks inside it now."""
        counts: dict[str, int] = {}
        for track in self.tracks.values():
            for name in track.occupied_zones():
                counts[name] = counts.get(name, 0) + 1
        return counts
