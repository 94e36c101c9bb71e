"""The latest frames of each camera, bounded by count and by bytes.

Example:
    >>> ring = FrameRing(max_frames=2, max_bytes=1024)
    >>> for number in (1, 2, 3):
    ...     _ = ring.add(RecentFrame(number=number, jpeg=b"x" * 10))
    >>> ring.numbers
    [2, 3]
    >>> ring.nearest(4, window=1).number
    3
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sightline.messages import BBox


@dataclass(frozen=True)
class RecentFrame:
    """One frame of a camera's stream: its number, its JPEG bytes, and where each tracked
    object was in it (so an event drawn on a neighbouring frame shows the object there)."""

    number: int
    jpeg: bytes
    boxes: dict[int, BBox] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """What the frame costs in the ring, in bytes."""
        return len(self.jpeg)


class FrameTooLargeError(ValueError):
    """A single frame is larger than the ring may hold."""


@dataclass
class FrameRing:
    """One camera's recent frames, oldest first, keyed by frame number.

    A frame number lower than the newest one starts a new edge run (numbers restart at 0),
    so the ring is emptied first: numbers of two runs never mix.
    """

    max_frames: int
    max_bytes: int
    _frames: OrderedDict[int, RecentFrame] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def add(self, frame: RecentFrame) -> list[RecentFrame]:
        """Keep ``frame``; return the frames evicted to stay within the bounds.

        Raises:
            FrameTooLargeError: the frame alone is larger than ``max_bytes``.
        """
        if frame.size > self.max_bytes:
            raise FrameTooLargeError(
                f"frame {frame.number} is {frame.size} bytes; the ring holds at most "
                f"{self.max_bytes} bytes per camera"
            )
        evicted: list[RecentFrame] = []
        newest = self.newest_number
        if newest is not None and frame.number < newest:
            evicted.extend(self._frames.values())
            self._frames.clear()
            self._bytes = 0
        previous = self._frames.pop(frame.number, None)
        if previous is not None:
            self._bytes -= previous.size
        self._frames[frame.number] = frame
        self._bytes += frame.size
        while len(self._frames) > self.max_frames or self._bytes > self.max_bytes:
            _, oldest = self._frames.popitem(last=False)
            self._bytes -= oldest.size
            evicted.append(oldest)
        return evicted

    def get(self, number: int) -> RecentFrame | None:
        """The frame with exactly this number, if kept."""
        return self._frames.get(number)

    def nearest(self, number: int, window: int) -> RecentFrame | None:
        """The kept frame closest to ``number`` and at most ``window`` away (earlier wins a tie)."""
        best: RecentFrame | None = None
        for candidate in self._frames.values():
            distance = abs(candidate.number - number)
            if distance > window:
                continue
            if best is None or distance < abs(best.number - number):
                best = candidate
        return best

    @property
    def newest_number(self) -> int | None:
        """The number of the newest frame kept, if any."""
        return next(reversed(self._frames)) if self._frames else None

    @property
    def numbers(self) -> list[int]:
        """The numbers kept, oldest first."""
        return list(self._frames)

    @property
    def total_bytes(self) -> int:
        """The bytes kept."""
        return self._bytes


@dataclass
class RecentFrames:
    """A :class:`FrameRing` per camera, safe to use from several threads."""

    max_frames: int
    max_bytes: int
    _rings: dict[str, FrameRing] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, camera_id: str, frame: RecentFrame) -> list[RecentFrame]:
        """Keep ``frame`` in the camera's ring; see :meth:`FrameRing.add`."""
        with self._lock:
            ring = self._rings.get(camera_id)
            if ring is None:
                ring = self._rings[camera_id] = FrameRing(self.max_frames, self.max_bytes)
            return ring.add(frame)

    def nearest(self, camera_id: str, number: int, window: int) -> RecentFrame | None:
        """The camera's kept frame nearest ``number`` within ``window``; exact first."""
        with self._lock:
            ring = self._rings.get(camera_id)
            if ring is None:
                return None
            return ring.get(number) or ring.nearest(number, window)

    def newest_number(self, camera_id: str) -> int | None:
        """The number of the camera's newest frame, if any."""
        with self._lock:
            ring = self._rings.get(camera_id)
            return None if ring is None else ring.newest_number
