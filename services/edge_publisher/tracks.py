"""The edge's own memory of where each track was last seen, for ``previous_center``.

Tracks not seen for ``forget_after`` frames are forgotten, so memory stays flat however
long the camera runs.

Example:
    >>> memory = TrackMemory(forget_after=2)
    >>> memory.advance(0, {7: (10.0, 20.0)})
    {7: None}
    >>> memory.advance(1, {7: (12.0, 21.0)})
    {7: (10.0, 20.0)}
"""

from __future__ import annotations

from collections.abc import Mapping

Center = tuple[float, float]


class TrackMemory:
    """Last center and last frame number per track id."""

    def __init__(self, forget_after: int = 150) -> None:
        self.forget_after = forget_after
        self._last: dict[int, tuple[int, Center]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def advance(self, frame_number: int, centers: Mapping[int, Center]) -> dict[int, Center | None]:
        """Record this frame's centers; return each track's previous center (None if new)."""
        previous = {
            track_id: (self._last[track_id][1] if track_id in self._last else None)
            for track_id in centers
        }
        for track_id, center in centers.items():
            self._last[track_id] = (frame_number, center)
        horizon = frame_number - self.forget_after
        for track_id in [t for t, (seen, _) in self._last.items() if seen < horizon]:
            del self._last[track_id]
        return previous
