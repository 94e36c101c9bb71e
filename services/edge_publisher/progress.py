"""A progress line for file sources on a terminal: frames done / total, fps."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Rewrites one line on ``stream`` at most every ``every_s`` seconds; silent off a TTY
    or when not ``wanted`` (a live source has no end to count towards)."""

    def __init__(
        self,
        total: int,
        *,
        wanted: bool = True,
        stream: TextIO | None = None,
        every_s: float = 0.5,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.every_s = every_s
        self.enabled = wanted and self.stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0

    def update(self, done: int) -> None:
        """Show ``done`` frames processed."""
        now = time.monotonic()
        if not self.enabled or now - self._shown < self.every_s:
            return
        self._shown = now
        fps = done / max(now - self._started, 1e-9)
        total = f"/{self.total}" if self.total else ""
        self.stream.write(f"\rframes {done}{total}  {fps:.1f} fps ")
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
