"""Notice frames that never arrived, so that a loss is never silent (the engine's frame-gap
detection; its counters ``sightline_frame_gaps`` and ``sightline_frames_missing``).

A skipped frame number is *missing*. With a reorder window of ``window`` frames, a missing
frame may still arrive late: it is then no longer missing (:attr:`FrameGapDetector.missing`
goes down). It is reported (log and metrics) once it falls ``window`` frames behind the
newest frame without having arrived; with ``window=0`` at once.

Example:
    >>> gaps = FrameGapDetector()
    >>> [gaps.observe("cam", n) for n in (1, 2, 5, 5, 3)]
    [None, None, 2, None, None]
    >>> gaps.missing["cam"]
    2
    >>> late = FrameGapDetector()
    >>> [late.observe("cam", n, window=10) for n in (1, 2, 5, 3)]
    [None, None, 2, None]
    >>> late.missing["cam"], late.filled["cam"]
    (1, 1)
    >>> gaps.reset("cam"); gaps.observe("cam", 0) is None
    True
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> counted = FrameGapDetector(GapMetrics.from_registry(registry))
    >>> counted.observe("cam", 1), counted.observe("cam", 4)
    (None, 2)
    >>> registry.get_sample_value("sightline_frames_missing_total", {"camera_id": "cam"})
    2.0
"""

from __future__ import annotations

import logging
from bisect import insort
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
"""At most this many missing frames per camera wait for a late arrival (memory stays flat)."""


class GapCounters(Protocol):
    """Where gaps are counted: :class:`GapMetrics` (or anything with the same two counters)."""

    @property
    def frame_gaps(self) -> Counter:
        """Runs of missing frames, by ``camera_id``."""

    @property
    def frames_missing(self) -> Counter:
        """Missing frames, by ``camera_id``."""


@dataclass(frozen=True)
class GapMetrics:
    """The two counters of frame-gap detection."""

    frame_gaps: Counter
    frames_missing: Counter

    @classmethod
    def from_registry(cls, registry: CollectorRegistry) -> GapMetrics:
        """Create the counters in ``registry`` (once per registry)."""
        return cls(
            frame_gaps=Counter(
                "sightline_frame_gaps",
                "Gaps seen in a camera's frame numbers",
                ["camera_id"],
                registry=registry,
            ),
            frames_missing=Counter(
                "sightline_frames_missing",
                "Frame numbers never received",
                ["camera_id"],
                registry=registry,
            ),
        )


class FrameGapDetector:
    """Tracks the last frame number per camera and counts the numbers skipped."""

    def __init__(self, metrics: GapCounters | None = None) -> None:
        self._last: dict[str, int] = {}
        self._pending: dict[str, list[int]] = {}
        self.missing: defaultdict[str, int] = defaultdict(int)
        """Frames missing now: reported ones and those that may still arrive late."""
        self.gaps: defaultdict[str, int] = defaultdict(int)
        """Runs of consecutive missing frames reported."""
        self.filled: defaultdict[str, int] = defaultdict(int)
        """Missing frames that arrived late, within the window."""
        self._metrics = metrics

    def observe(self, camera_id: str, frame_number: int, window: int = 0) -> int | None:
        """Record a frame; return how many numbers were skipped before it, or None.

        A frame number at or below the last one is a late frame if it was missing (it
        then is no longer) and a redelivery otherwise; neither reports a gap. Missing
        frames are reported once they are more than ``window`` numbers behind the newest.
        Call :meth:`reset` when the consumer knows the edge restarted.
        """
        last = self._last.get(camera_id)
        pending = self._pending.setdefault(camera_id, [])
        if last is not None and frame_number <= last:
            if frame_number in pending:
                pending.remove(frame_number)
                self.missing[camera_id] -= 1
                self.filled[camera_id] += 1
            return None
        self._last[camera_id] = frame_number
        if last is None or frame_number == last + 1:
            self._settle(camera_id, frame_number - window)
            return None
        skipped = frame_number - last - 1
        self.missing[camera_id] += skipped
        first = max(last + 1, frame_number - min(window, MAX_PENDING))
        self._report(camera_id, last + 1, first - 1)
        for number in range(first, frame_number):
            insort(pending, number)
        self._settle(camera_id, frame_number - window)
        return skipped

    def reset(self, camera_id: str) -> None:
        """Forget a camera's last frame number (its edge restarted and counts from zero);
        frames still awaited are reported missing."""
        self._settle(camera_id, None)
        self._last.pop(camera_id, None)

    def _settle(self, camera_id: str, below: int | None) -> None:
        """Report the awaited frames numbered below ``below`` (None: all) as missing."""
        pending = self._pending.get(camera_id)
        if not pending:
            return
        count = len(pending) if below is None else sum(1 for n in pending if n < below)
        settled, self._pending[camera_id] = pending[:count], pending[count:]
        start = None
        for index, number in enumerate(settled):
            if start is None:
                start = number
            if index + 1 == len(settled) or settled[index + 1] != number + 1:
                self._report(camera_id, start, number)
                start = None

    def _report(self, camera_id: str, first: int, last: int) -> None:
        """Log and count the missing frames ``first..last`` (nothing if empty)."""
        skipped = last - first + 1
        if skipped <= 0:
            return
        self.gaps[camera_id] += 1
        if self._metrics is not None:
            self._metrics.frame_gaps.labels(camera_id).inc()
            self._metrics.frames_missing.labels(camera_id).inc(skipped)
        log.warning(
            "frame gap: %d frame(s) missing before frame %d",
            skipped,
            last + 1,
            extra={"camera_id": camera_id, "missing": skipped, "frame_number": last + 1},
        )
