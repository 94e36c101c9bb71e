"""The picture of an event: the photo its announcement carried, else a file under the
frame-store's root (``snapshots_dir``, for a notifier that shares the frame-store's disk).

When there is none, :attr:`SnapshotImage.reason` says why, for the log and the
``sightline_notifier_photos_missing`` metric (labelled by :attr:`SnapshotImage.kind`);
a user's e-mail only ever says :data:`NO_PHOTO`.

Example:
    >>> from pathlib import Path
    >>> image = SnapshotImage.from_announcement(None, Path("."))
    >>> image.kind, image.reason
    ('not_announced', 'no snapshot was announced in time')
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sightline.errors import MessageError
from sightline.messages import FrameData, FrameRef, SnapshotAnnouncement

NO_PHOTO = "No photo was available for this event."
NO_SNAPSHOTS = "This rule does not take photos."
JPEG_MAGIC = b"\xff\xd8\xff"
_SUBTYPES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}


@dataclass(frozen=True)
class SnapshotImage:
    """The image bytes of an event's snapshot, or why there is none (never shown to users)."""

    data: bytes | None
    filename: str = "snapshot.jpg"
    subtype: str = "jpeg"
    kind: str | None = None
    reason: str | None = None

    @classmethod
    def missing(cls, kind: str, reason: str) -> Self:
        """No image: ``kind`` labels the metric, ``reason`` goes to the log."""
        return cls(None, kind=kind, reason=reason)

    @classmethod
    def from_announcement(cls, announcement: SnapshotAnnouncement | None, root: Path) -> Self:
        """The annotated picture (else the clean one) of ``announcement``, read from ``root``."""
        if announcement is None:
            return cls.missing("not_announced", "no snapshot was announced in time")
        ref = announcement.files.annotated or announcement.frame_ref or announcement.files.clean
        if ref is None:
            why = announcement.reason or "the frame never arrived"
            return cls.missing("no_frame", f"the frame-store stored no snapshot: {why}")
        return cls.from_ref(ref, root)

    @classmethod
    def from_ref(cls, ref: FrameRef, root: Path) -> Self:
        """The file ``ref`` names under ``root`` (S3 references are not fetched)."""
        if ref.type != "file":
            return cls.missing("s3", f"snapshot stored in S3 ({ref.key}), not fetched")
        try:
            path = (root / ref.key).resolve()
        except ValueError:  # a NUL (refused on the wire, but a state file may hold one)
            return cls.missing("outside_root", f"snapshot key {ref.key!r} is not a file name")
        if not path.is_relative_to(root.resolve()):
            return cls.missing("outside_root", f"snapshot key {ref.key!r} points outside {root}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return cls.missing("unreadable", f"snapshot {path} could not be read: {exc.strerror}")
        return cls(data, path.name, _SUBTYPES.get(path.suffix.lower(), "jpeg"))


def decode_photo(image: FrameData) -> bytes:
    """The JPEG bytes an announcement carries; MessageError naming the field otherwise.

    Example:
        >>> decode_photo(FrameData(base64=base64.b64encode(JPEG_MAGIC + b"...").decode()))[:3]
        b'\\xff\\xd8\\xff'
    """
    try:
        data = base64.b64decode(image.base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(f"image.base64: not valid base64 ({exc})") from None
    if not data.startswith(JPEG_MAGIC):
        raise MessageError("image.base64: not a JPEG (no JPEG start-of-image marker)")
    return data
