"""Where an event's pictures lie: ``<root>/<camera_id>/<YYYY-MM-DD>/<event_id>[-clean|-crop].jpg``.

:class:`PictureStore` is what the rest of the frame-store uses; :class:`FileStore` keeps the
pictures on the local disk, :class:`frame_store.s3.S3Store` in S3-compatible storage.

Example:
    >>> from datetime import UTC, datetime
    >>> keys = SnapshotKeys.for_event("driveway", datetime(2025, 1, 15, tzinfo=UTC), "e1")
    >>> keys.key(PictureKind.ANNOTATED), keys.key(PictureKind.CLEAN)
    ('driveway/2025-01-15/e1.jpg', 'driveway/2025-01-15/e1-clean.jpg')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from sightline.atomic import write_bytes
from sightline.messages import FrameRef
from sightline.writes import probe_writable

JPEG_CONTENT_TYPE = "image/jpeg"

log = logging.getLogger(__name__)


class StorageError(OSError):
    """The storage could not be reached or refused an operation (an ``OSError``, like a disk)."""


def check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and make sure a file can be created in it.

    A directory that is there but full is only warned about: once running, a failed write is
    retried until there is room again.

    Raises:
        StorageError: it cannot (read-only, not permitted, ...), naming the directory.
    """
    problem = probe_writable(directory, full_ok=True)
    if problem is not None:
        raise StorageError(f"cannot write in {directory}: {problem}")


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
class StoredPicture:
    """One stored picture as retention sees it: its key, when it was written, its size."""

    key: str
    modified: float
    size: int


class PictureStore(Protocol):
    """Pictures by key (``<camera_id>/<YYYY-MM-DD>/<name>.jpg``), wherever they are kept."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    def put(self, key: str, jpeg: bytes) -> FrameRef:
        """Store ``jpeg`` under ``key``; return its reference for an announcement."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``."""

    def ref(self, key: str) -> FrameRef:
        """The reference of ``key`` in announcements."""

    def pictures(self) -> list[StoredPicture]:
        """Every stored picture (temp files of writes in progress excluded)."""

    def delete(self, keys: Iterable[str]) -> None:
        """Remove ``keys`` (missing ones are fine)."""


@dataclass(frozen=True)
class FileStore:
    """Pictures as files under ``root``, each written atomically."""

    root: Path

    def path(self, key: str) -> Path:
        """The file of ``key``.

        Raises:
            ValueError: ``key`` would lie outside ``root`` (``..``, an absolute path).
        """
        path = self.root / key
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root) or path.resolve() == root:
            raise ValueError(f"key {key!r} lies outside {self.root}")
        return path

    def check(self) -> None:
        """Make sure pictures can be written under ``root``.

        Raises:
            StorageError: they cannot, naming the directory and why.
        """
        check_writable(self.root)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.path(key).is_file()

    def put(self, key: str, jpeg: bytes) -> FrameRef:
        """Store ``jpeg`` under ``key``; return its reference for an announcement."""
        write_bytes(self.path(key), jpeg)
        return self.ref(key)

    def get(self, key: str) -> bytes:
        """The bytes of ``key``'s file."""
        return self.path(key).read_bytes()

    def ref(self, key: str) -> FrameRef:
        """``{type: file, key}``, the key relative to ``root``."""
        return FrameRef(type="file", key=key)

    def pictures(self) -> list[StoredPicture]:
        """Every ``<camera>/<day>/<name>.jpg`` under ``root``, hidden temp files excluded."""
        found = []
        for path in self.root.glob("*/*/*.jpg"):
            if path.name.startswith("."):
                continue
            stat = path.stat()
            key = path.relative_to(self.root).as_posix()
            found.append(StoredPicture(key, stat.st_mtime, stat.st_size))
        return found

    def delete(self, keys: Iterable[str]) -> None:
        """Unlink the files; remove the day folders left empty."""
        days = set()
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            days.add(path.parent)
        for day in days:
            if day.is_dir() and not any(day.iterdir()):
                day.rmdir()
