"""The picture of an event, read from the frame-store's file root.

Example:
    >>> from pathlib import Path
    >>> SnapshotImage.from_announcement(None, Path(".")).note
    'no snapshot arrived in time'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sightline.messages import FrameRef, SnapshotAnnouncement

_SUBTYPES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}


@dataclass(frozen=True)
class SnapshotImage:
    """The image bytes of an event's snapshot, or a note saying why there is none."""

    data: bytes | None
    filename: str = "snapshot.jpg"
    subtype: str = "jpeg"
    note: str | None = None

    @classmethod
    def missing(cls, note: str) -> Self:
        """No image, and why."""
        return cls(None, note=note)

    @classmethod
    def from_announcement(cls, announcement: SnapshotAnnouncement | None, root: Path) -> Self:
        """The annotated picture (else the clean one) of ``announcement``, read from ``root``."""
        if announcement is None:
            return cls.missing("no snapshot arrived in time")
        ref = announcement.files.annotated or announcement.frame_ref or announcement.files.clean
        if ref is None:
            return cls.missing(f"no snapshot: {announcement.reason or 'the frame never arrived'}")
        return cls.from_ref(ref, root)

    @classmethod
    def from_ref(cls, ref: FrameRef, root: Path) -> Self:
        """The file ``ref`` names under ``root`` (S3 references are not fetched)."""
        if ref.type != "file":
            return cls.missing(f"snapshot stored in S3 ({ref.key}), not attached")
        path = (root / ref.key).resolve()
        if not path.is_relative_to(root.resolve()):
            return cls.missing(f"snapshot key {ref.key!r} points outside the snapshot folder")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return cls.missing(f"snapshot {ref.key} could not be read: {exc.strerror}")
        return cls(data, path.name, _SUBTYPES.get(path.suffix.lower(), "jpeg"))
