"""Where an event's pictures lie: ``<root>/<camera_id>/<YYYY-MM-DD>/<event_id>[-clean|-crop].jpg``.

Example:
    >>> from datetime import UTC, datetime
    >>> keys = SnapshotKeys.for_event("driveway", datetime(2025, 1, 15, tzinfo=UTC), "e1")
    >>> keys.key(PictureKind.ANNOTATED), keys.key(PictureKind.CLEAN)
    ('driveway/2025-01-15/e1.jpg', 'driveway/2025-01-15/e1-clean.jpg')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from frame_store.atomic import write_atomically
from sightline.messages import FrameRef


class PictureKind(StrEnum):
    """The pictures stored for one event; the value is the file name's suffix."""

    ANNOTATED = ""
    CLEAN = "-clean"
    CROP = "-crop"


@dataclass(frozen=True)
class SnapshotKeys:
    """The keys (paths relative to the storage root) of one event's pictures."""

    camera_id: str
    day: str
    event_id: str

    @classmethod
    def for_event(cls, camera_id: str, timestamp: datetime, event_id: str) -> SnapshotKeys:
        """The keys of an event, dated by its UTC timestamp (a redelivery finds the same)."""
        if "/" in event_id or event_id.startswith("."):
            raise ValueError(f"event_id {event_id!r} cannot name a file")
        return cls(camera_id, f"{timestamp.astimezone(UTC):%Y-%m-%d}", event_id)

    def key(self, kind: PictureKind) -> str:
        """``<camera_id>/<YYYY-MM-DD>/<event_id><suffix>.jpg``."""
        return f"{self.camera_id}/{self.day}/{self.event_id}{kind.value}.jpg"


@dataclass(frozen=True)
class FileStore:
    """Pictures as files under ``root``, each written atomically."""

    root: Path

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return self.root / key

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.path(key).is_file()

    def put(self, key: str, jpeg: bytes) -> FrameRef:
        """Store ``jpeg`` under ``key``; return its reference for an announcement."""
        write_atomically(self.path(key), jpeg)
        return FrameRef(type="file", key=key)
