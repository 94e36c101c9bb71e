"""The events already announced: one empty marker file each, so a redelivery is recognised.

Example:
    >>> import tempfile, pathlib
    >>> ledger = AnnouncedLedger(pathlib.Path(tempfile.mkdtemp()))
    >>> ledger.record("e1"); "e1" in ledger, "e2" in ledger
    (True, False)
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sightline.atomic import sync_directory

log = logging.getLogger(__name__)


class AnnouncedLedger:
    """Marker files ``<directory>/<event_id>``; their mtime says when it was announced."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, str) and (self.directory / event_id).exists()

    def record(self, event_id: str) -> None:
        """Mark ``event_id`` as announced (durably)."""
        fd = os.open(self.directory / event_id, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        sync_directory(self.directory)  # the new name, not just the file, must survive

    def forget_older_than(self, age_s: float, now: float | None = None) -> int:
        """Remove markers older than ``age_s``; return how many went."""
        cutoff = (now if now is not None else time.time()) - age_s
        removed = 0
        for marker in self.directory.iterdir():
            if marker.stat().st_mtime < cutoff:
                marker.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("forgot %d announced event ids", removed)
        return removed
