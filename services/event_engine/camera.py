"""One camera's envelopes in, events out: frame order, tracks, lines, zones, rules.

What each line or zone decides is up to the detectors (:mod:`event_engine.detectors`, one
per event type, found by the registry): this module orders frames, keeps tracks, lays out
the scene, asks the detectors and hands their occurrences to the rules.

Example:
    >>> from sightline.config.engine import DeviceConfig
    >>> tracker = CameraTracker("pi", "porch", DeviceConfig(), CameraState(), FrameGapDetector())
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from event_engine import detectors
from event_engine.batch import SceneBatch
from event_engine.detectors import Detector, Frame
from event_engine.rules import Occurrence, fire, make_event
from event_engine.runs import Classified, ReorderWindow, derived_run_id
from event_engine.scene import Scene, admits
from event_engine.sequence import FrameGapDetector
from event_engine.shapes import reconcile
from event_engine.tracks import (
    MAX_SWITCH_PAIRS,
    CameraState,
    FrameOrder,
    TrackState,
    continuable,
    find_switches,
)
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from sightline.messages.event import Event
from sightline.messages.sightings import Sighting, Sightings
from sightline.timestamps import format_timestamp

log = logging.getLogger(__name__)

FRAME_JUMP_SLACK = 1000
"""Frame numbers may jump by this much within a run, plus :data:`MAX_FPS` per second of
capture time: an edge that lost its link drops frames, never more than it captured."""
MAX_FPS = 1000
FUTURE_TOLERANCE_S = 300.0
"""A camera whose last frame is stamped more than this ahead of the engine's clock is
suspect (see ``CameraTracker._from_the_future``)."""

detectors.load()  # every detector registered, its options checkable, before a config loads


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    """What one envelope did: how it was ordered, what it decided, what rules made of it."""

    order: FrameOrder
    occurrences: list[Occurrence] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class CameraTracker:
    """The tracks, lines and zones of one (device, camera)."""

    def __init__(
        self,
        device_id: str,
        camera_id: str,
        config: DeviceConfig,
        state: CameraState,
        gaps: FrameGapDetector,
    ) -> None:
        self.device_id = device_id
        self.camera_id = camera_id
        self.config = config
        self.state = state
        self._gaps = gaps
        reconcile(state, config)  # memory of lines and zones changed since is forgotten
        self._scenes: dict[tuple[int, int], Scene] = {}
        self._batches: dict[tuple[int, int], SceneBatch] = {}
        self._said_capped = False
        self._said_full = False
        running = detectors.detectors(config)
        self._at_line = _watching(running, "at_line")
        self._at_zone = _watching(running, "at_zone")
        self._at_end = _watching(running, "ended")

    def scene(self, width: int, height: int) -> Scene:
        """The lines and zones for frames of this size (built once per size)."""
        key = (width, height)
        if key not in self._scenes:
            self._scenes[key] = Scene.from_config(self.config, width, height)
        return self._scenes[key]

    def batch(self, scene: Scene, width: int, height: int) -> SceneBatch:
        """The stacked geometry for frames of this size (built once per size)."""
        key = (width, height)
        if key not in self._batches:
            self._batches[key] = SceneBatch.from_scene(scene, width, height)
        return self._batches[key]

    def process(self, envelope: Sightings, wall: datetime | None = None) -> FrameOutcome:
        """Process one envelope of this camera (``wall``: the engine's clock now).

        Raises:
            MessageError: a frame number that jumps further than the edge could have run.
        """
        number, now = envelope.frame.number, envelope.source.timestamp
        window = self.window
        decided = self.state.classify(number, now, envelope.source.run_id, window)
        if decided.kind is FrameOrder.DUPLICATE and self._from_the_future(now, wall):
            decided = Classified(
                FrameOrder.RESTART, envelope.source.run_id or derived_run_id(number, now)
            )
        order = decided.kind
        if order is FrameOrder.DUPLICATE:
            return FrameOutcome(order)
        if order is FrameOrder.LATE:
            return self._late(envelope, decided, window)
        if order is FrameOrder.NEXT:
            self._check_jump(number, now)
        if decided.clock_back and order is FrameOrder.NEXT:
            self._clock_set_right(envelope)
        self._say(decided, number, now)
        scene = self.scene(envelope.frame.width, envelope.frame.height)
        self.state.frame_size = (envelope.frame.width, envelope.frame.height)
        self.state.device_id = self.device_id
        frame = Frame(scene, self.state, number, now)
        occurrences: list[Occurrence] = []
        if order is FrameOrder.RESTART:
            self._gaps.reset(self.camera_id)
            for track in list(self.state.tracks.values()):
                occurrences += self._end_track(track, frame)  # in the run that ended
        self._gaps.observe(self.camera_id, number, window.frames)
        self.state.accept(decided, number, now, window)
        for track in self.state.expired(now, self.config.track_timeout_s):
            occurrences += self._end_track(track, frame)
        size = (envelope.frame.width, envelope.frame.height)
        occurrences += self._observe(_tracked(envelope.detections), frame, size)
        occurrences += self._make_room(frame)
        return FrameOutcome(order, occurrences, self._events(occurrences))

    @property
    def window(self) -> ReorderWindow:
        """How late a frame may arrive and still be used (``tracking.reorder_*``)."""
        tracking = self.config.tracking
        return ReorderWindow(tracking.reorder_frames, tracking.reorder_s)

    def _late(
        self, envelope: Sightings, decided: Classified, window: ReorderWindow
    ) -> FrameOutcome:
        """A frame that arrived after later ones: used for the tracks it is news for (last
        updated before it); it fills its gap, ends no track and moves no clock."""
        number, now = envelope.frame.number, envelope.source.timestamp
        self._gaps.observe(self.camera_id, number, window.frames)
        self.state.accept(decided, number, now, window)
        tracks = self.state.tracks
        news = [
            detection
            for detection in _tracked(envelope.detections)
            if detection.track_id in tracks and tracks[detection.track_id].last_frame < number
        ]
        size = (envelope.frame.width, envelope.frame.height)
        occurrences = self._observe(news, Frame(self.scene(*size), self.state, number, now), size)
        return FrameOutcome(FrameOrder.LATE, occurrences, self._events(occurrences))

    def end_all(self) -> FrameOutcome:
        """End every track now (the edge went offline or silent): zones left as ``lost``,
        decided at the last frame processed."""
        number, now = self.state.last_frame, self.state.last_timestamp
        if number is None or now is None or not self.state.tracks:
            return FrameOutcome(FrameOrder.NEXT)
        width, height = self.state.frame_size or (1920, 1080)
        frame = Frame(self.scene(width, height), self.state, number, now)
        occurrences: list[Occurrence] = []
        for track in list(self.state.tracks.values()):
            occurrences += self._end_track(track, frame)
        return FrameOutcome(FrameOrder.NEXT, occurrences, self._events(occurrences))

    def _events(self, occurrences: list[Occurrence]) -> list[Event]:
        return [
            make_event(rule, occurrence, self.camera_id, self.device_id)
            for occurrence in occurrences
            for rule in fire(self.config.events, occurrence, self.state.rule_quiet_until)
        ]

    def _from_the_future(self, now: datetime, wall: datetime | None) -> bool:
        """Whether the camera's last frame is stamped in the future while this one is not:
        then the last frame was a poison (a clock far ahead, within max_clock_ahead_s), and
        taking live frames for its duplicates would mute the camera. Logged at WARNING."""
        last = self.state.last_timestamp
        if wall is None or last is None:
            return False
        limit = wall + timedelta(seconds=FUTURE_TOLERANCE_S)
        if last <= limit or now > limit:
            return False
        log.warning(
            "the last frame of %s is stamped %s, in the future; frame %s (%s) starts a new "
            "run instead of being taken for a duplicate",
            self.camera_id,
            format_timestamp(last),
            self.state.last_frame,
            format_timestamp(now),
            extra={"camera_id": self.camera_id},
        )
        return True

    def _clock_set_right(self, envelope: Sightings) -> None:
        """The edge's clock fell back within a run by more than ``track_timeout_s`` (it ran
        ahead, then was set right): the tracks whose last sighting is stamped after this
        frame would hold times ahead of every frame to come, so none would end, dwell,
        leave its zone or cool down until message time caught up with them, hours later
        maybe. Their times move back by the step instead, and they go on (or end in
        ``track_timeout_s``) as with a clock that was always right. Logged at WARNING."""
        now, last = envelope.source.timestamp, self.state.last_timestamp
        if last is None or (last - now).total_seconds() <= self.config.track_timeout_s:
            return
        step = last - now
        ahead = [track for track in self.state.tracks.values() if track.last_seen > now]
        for track in ahead:
            self.state.shift_back(track, step)
        log.warning(
            "camera %s: the edge's clock fell back %.1f s (more than track_timeout_s %g); "
            "the times of %d tracks move back with it",
            self.camera_id,
            step.total_seconds(),
            self.config.track_timeout_s,
            len(ahead),
            extra={"camera_id": self.camera_id},
        )

    def _check_jump(self, number: int, now: datetime) -> None:
        last, then = self.state.last_frame, self.state.last_timestamp
        if last is None or then is None:
            return
        seconds = max(0.0, (now - then).total_seconds())
        allowed = FRAME_JUMP_SLACK + MAX_FPS * seconds
        if number - last > allowed:
            raise MessageError(
                f"frame.number: {number} jumps {number - last} frames past frame {last} in "
                f"{seconds:.3f} s of capture time (at most {allowed:.0f}); refused so that "
                "one bad number cannot mute the camera"
            )

    def _say(self, decided: Classified, number: int, now: datetime) -> None:
        """Log a restart, a resumed run or a clock that fell back (never silently)."""
        if decided.kind is not FrameOrder.RESTART and not decided.clock_back:
            return  # the common case: nothing to say (and no timestamps to format)
        before = self.state.run_id
        extra = {
            "camera_id": self.camera_id,
            "run_id": decided.run_id,
            "previous_run_id": before,
            "frame_number": number,
            "timestamp": format_timestamp(now),
            "last_frame": self.state.last_frame,
            "last_timestamp": (
                format_timestamp(self.state.last_timestamp) if self.state.last_timestamp else None
            ),
        }
        if decided.kind is FrameOrder.RESTART:
            what = "resumed its earlier run" if decided.resumed is not None else "restarted"
            clock = "; its clock is behind the last frame's" if decided.clock_back else ""
            level = logging.WARNING if decided.clock_back or decided.resumed else logging.INFO
            log.log(
                level,
                "edge %s (run %s -> %s) at frame %d%s: its tracks end",
                what,
                before or "-",
                decided.run_id,
                number,
                clock,
                extra=extra,
            )
        elif decided.clock_back:
            log.warning(
                "edge clock went backwards within run %s at frame %d (%s after %s)",
                decided.run_id,
                number,
                extra["timestamp"],
                extra["last_timestamp"],
                extra=extra,
            )

    def _observe(
        self, detections: list[Sighting], frame: Frame, size: tuple[int, int]
    ) -> list[Occurrence]:
        """Update the tracks of ``detections`` and ask the detectors at each line and zone."""
        if not detections:
            return []
        scene, number, now = frame.scene, frame.number, frame.now
        boxes = [(d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2) for d in detections]
        sides, insides = self.batch(scene, *size).evaluate(boxes)
        occurrences: list[Occurrence] = []
        switched = self._switches(detections, number, now)
        lines = list(zip(scene.lines, scene.line_names, sides, strict=True))
        zones = list(zip(scene.zones, scene.zone_names, insides, strict=True))
        for index, raw in enumerate(detections):
            track = self._track(raw, switched, number, now)
            detection = track.detection  # with the track's voted class
            track_sides, visits = track.sides, track.zones
            for line, name, line_sides in lines:
                side = line_sides[index]
                if side == 0 or track_sides.get(name) == side:
                    continue  # in the band, or still on the same side: nothing can happen
                if admits(line.config, detection):
                    for detector in self._at_line:
                        occurrences += detector.at_line(track, line, side, frame)
            for zone, name, zone_insides in zones:
                inside = zone_insides[index]
                if not inside and name not in visits:
                    continue  # never inside: no visit to keep
                if admits(zone.config, detection):
                    for detector in self._at_zone:
                        occurrences += detector.at_zone(track, zone, inside, frame)
        return occurrences

    def _switches(
        self, detections: list[Sighting], number: int, now: datetime
    ) -> dict[int, TrackState]:
        """New track id -> the lost track it continues (the tracker switched ids)."""
        newcomers = [d for d in detections if d.track_id not in self.state.tracks]
        if not newcomers:
            return {}
        present = {d.track_id for d in detections}
        lost = [
            track
            for track in self.state.tracks.values()
            if track.track_id not in present and track.last_frame < number
        ]
        if len(lost) * len(newcomers) > MAX_SWITCH_PAIRS and not self._said_capped:
            self._say_capped(lost, newcomers, number, now)
        chosen = find_switches(lost, newcomers, number, now, self.config.tracking)
        return {new.track_id: old for old, new in chosen if new.track_id is not None}

    def _say_capped(
        self, lost: list[TrackState], newcomers: list[Sighting], number: int, now: datetime
    ) -> None:
        """Say (once per camera: the edge may do it every frame) that the id switches of
        this frame are weighed among the latest lost tracks only, if they are (only the
        lost tracks that may be continued count; looked at only when all of them are over
        the budget, the rare case)."""
        weighed = continuable(lost, number, now, self.config.tracking)
        if len(weighed) * len(newcomers) <= MAX_SWITCH_PAIRS:
            return
        self._said_capped = True
        log.warning(
            "camera %s: %d new track ids and %d lost tracks in frame %d; ids are "
            "continued among the latest lost tracks only (%d pairs weighed at most)",
            self.camera_id,
            len(newcomers),
            len(weighed),
            number,
            MAX_SWITCH_PAIRS,
            extra={"camera_id": self.camera_id},
        )

    def _track(
        self, detection: Sighting, switched: dict[int, TrackState], number: int, now: datetime
    ) -> TrackState:
        """The track ``detection`` updates (new, or continuing a lost one), updated."""
        track_id = detection.track_id
        assert track_id is not None
        track = self.state.tracks.get(track_id)
        if track is None:
            track = self.state.tracks[track_id] = TrackState(track_id, now, number, detection)
            lost = switched.get(track_id)
            if lost is not None:
                self.state.continue_track(lost, track)
                log.info(
                    "track %d continues track %d (the tracker switched ids)",
                    track_id,
                    lost.track_id,
                    extra={"camera_id": self.camera_id, "frame_number": number},
                )
        track.update(detection, number, now, self.config.tracking.class_memory)
        return track

    def _make_room(self, frame: Frame) -> list[Occurrence]:
        """Past ``tracking.max_tracks``, end the tracks unseen longest (never one of this
        frame's); said once per camera."""
        excess = len(self.state.tracks) - self.config.tracking.max_tracks
        if excess <= 0:
            return []
        idle = [track for track in self.state.tracks.values() if track.last_frame < frame.number]
        idle.sort(key=lambda track: (track.last_frame, track.track_id))
        if not self._said_full:
            self._said_full = True
            log.warning(
                "camera %s keeps %d tracks at frame %d, over tracking.max_tracks (%d): the "
                "tracks unseen longest end now, as lost (said once per camera)",
                self.camera_id,
                len(self.state.tracks),
                frame.number,
                self.config.tracking.max_tracks,
                extra={"camera_id": self.camera_id},
            )
        occurrences: list[Occurrence] = []
        for track in idle[:excess]:
            occurrences += self._end_track(track, frame)
        return occurrences

    def _end_track(self, track: TrackState, frame: Frame) -> list[Occurrence]:
        """A track ended: what the detectors decide of it (zones left as ``lost``), then it
        is forgotten."""
        occurrences: list[Occurrence] = []
        for detector in self._at_end:
            occurrences += detector.ended(track, frame)
        self.state.forget(track)
        return occurrences


def _watching(running: list[Detector], hook: str) -> list[Detector]:
    """The detectors that implement ``hook``, in the order they run."""
    return [detector for detector in running if detector.watches(hook)]


def _tracked(detections: list[Sighting]) -> list[Sighting]:
    """Detections with a track id, one per id (untracked boxes never feed line or zone state)."""
    seen: dict[int, Sighting] = {}
    for detection in detections:
        if detection.track_id is not None and detection.track_id not in seen:
            seen[detection.track_id] = detection
    return list(seen.values())
