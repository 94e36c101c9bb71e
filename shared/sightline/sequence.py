"""Notice frames that never arrived, so that a loss is never silent.

Example:
    >>> gaps = FrameGapDetector()
    >>> [gaps.observe("cam", n) for n in (1, 2, 5, 5, 3)]
    [None, None, 2, None, None]
    >>> gaps.missing["cam"]
    2
    >>> gaps.reset("cam"); gaps.observe("cam", 0) is None
    True
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sightline.metrics import ClientMetrics

log = logging.getLogger(__name__)


class FrameGapDetector:
    """Tracks the last frame number per camera and counts the numbers skipped."""

    def __init__(self, metrics: ClientMetrics | None = None) -> None:
        self._last: dict[str, int] = {}
        self.missing: defaultdict[str, int] = defaultdict(int)
        self.gaps: defaultdict[str, int] = defaultdict(int)
        self._metrics = metrics

    def observe(self, camera_id: str, frame_number: int) -> int | None:
        """Record a frame; return how many numbers were skipped before it, or None.

        A frame number at or below the last one (a redelivery) reports no gap and changes
        nothing; call :meth:`reset` when the consumer knows the edge restarted.
        """
        last = self._last.get(camera_id)
        if last is not None and frame_number <= last:
            return None
        self._last[camera_id] = frame_number
        if last is None or frame_number == last + 1:
            return None
        skipped = frame_number - last - 1
        self.missing[camera_id] += skipped
        self.gaps[camera_id] += 1
        if self._metrics is not None:
            self._metrics.frame_gaps.labels(camera_id).inc()
            self._metrics.frames_missing.labels(camera_id).inc(skipped)
        log.warning(
            "frame gap: %d frame(s) missing before frame %d",
            skipped,
            frame_number,
            extra={"camera_id": camera_id, "missing": skipped, "frame_number": frame_number},
        )
        return skipped

    def reset(self, camera_id: str) -> None:
        """Forget a camera's last frame number (its edge restarted and counts from zero)."""
        self._last.pop(camera_id, None)
