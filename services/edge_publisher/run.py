"""One run of the edge: its id, and the figures it publishes about itself.

Each process start draws a new run id (the UTC start time and a random suffix); it goes
into every envelope as ``source.run_id``, so a consumer tells a restarted edge (frame
numbers and track ids from zero again) from a redelivery of the old run.

Example:
    >>> from datetime import UTC, datetime
    >>> new_run_id(datetime(2026, 11, 27, 15, 49, 32, tzinfo=UTC), "3f9a2c")
    '20261127T154932Z-3f9a2c'
    >>> stats = RunStats("jetson-01", "driveway", "20261127T154932Z-3f9a2c", interval_s=10.0)
    >>> stats.due(now=0.0)
    True
    >>> _ = stats.payload(now=0.0, frames=0, dropped=0)
    >>> stats.due(now=5.0), stats.due(now=10.0)
    (False, True)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sightline.ids import validate_id
from sightline.timestamps import format_timestamp, utc_now


def new_run_id(now: datetime | None = None, token: str | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: when this run started (UTC) and 24 random bits.

    It is a valid id (one topic level: letters, digits, ``-``), 23 characters long.
    """
    started = (now or utc_now()).strftime("%Y%m%dT%H%M%SZ")
    return validate_id(f"{started}-{token or secrets.token_hex(3)}", "run_id")


@dataclass
class RunStats:
    """When to publish ``sightline/edge-publisher/<camera_id>/stats``, and what.

    ``fps`` is frames processed per second since the previous publish; ``frames`` the
    frames processed in this run; ``dropped`` the frames this run lost: live frames replaced
    by a newer one before inference took them, plus envelopes the full publish queue dropped.
    """

    device_id: str
    camera_id: str
    run_id: str
    interval_s: float
    _last_at: float | None = field(default=None, init=False)
    _last_frames: int = field(default=0, init=False)

    def due(self, now: float) -> bool:
        """Whether figures are due at monotonic time ``now`` (the first at once)."""
        return self._last_at is None or now - self._last_at >= self.interval_s

    def payload(self, now: float, frames: int, dropped: int, final: bool = False) -> bytes:
        """The JSON figures at monotonic time ``now``; marks them published.

        A ``final`` payload (the edge is stopping) says ``fps`` 0.

        Example:
            >>> stats = RunStats("d", "c", "r", interval_s=10.0)
            >>> _ = stats.payload(100.0, frames=0, dropped=0)
            >>> figures = json.loads(stats.payload(110.0, frames=120, dropped=3))
            >>> figures["fps"], figures["frames"], figures["dropped"], figures["run_id"]
            (12.0, 120, 3, 'r')
        """
        elapsed = None if self._last_at is None else now - self._last_at
        fps = 0.0
        if not final and elapsed is not None and elapsed > 0:
            fps = round((frames - self._last_frames) / elapsed, 2)
        self._last_at, self._last_frames = now, frames
        figures = {
            "camera_id": self.camera_id,
            "device_id": self.device_id,
            "run_id": self.run_id,
            "fps": fps,
            "frames": frames,
            "dropped": dropped,
            "timestamp": format_timestamp(utc_now()),
        }
        return json.dumps(figures, separators=(",", ":")).encode()
