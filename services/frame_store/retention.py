"""Retention: delete snapshots by age (per camera overridable) and by total size, oldest first.

A snapshot is the group of one event's pictures (annotated, clean, crop); it goes as a whole.
Nothing younger than ``min_age_s`` is ever deleted, even when the total is over the limit.
The same policy runs over any :class:`~frame_store.storage.PictureStore` (files or S3).

Example:
    >>> from sightline.config.frames import RetentionConfig
    >>> policy = RetentionPolicy.from_config(RetentionConfig(days=1, per_camera_days={"door": 7}))
    >>> policy.max_age_s("door") / 86400, policy.max_age_s("yard") / 86400
    (7.0, 1.0)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from frame_store.storage import PictureKind, PictureStore
from sightline.config.frames import RetentionConfig

log = logging.getLogger(__name__)

DAY_S = 86400.0
_SUFFIXES = tuple(kind.value for kind in PictureKind if kind.value)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long snapshots stay, and how much room they may take."""

    days: float
    per_camera_days: dict[str, float]
    max_total_bytes: int | None
    min_age_s: float

    @classmethod
    def from_config(cls, config: RetentionConfig) -> RetentionPolicy:
        """The policy of the ``retention`` section."""
        return cls(
            config.days, dict(config.per_camera_days), config.max_total_bytes, config.min_age_s
        )

    def max_age_s(self, camera_id: str) -> float:
        """How old a snapshot of this camera may get, in seconds."""
        return self.per_camera_days.get(camera_id, self.days) * DAY_S


@dataclass(frozen=True)
class StoredSnapshot:
    """One event's pictures in the store."""

    camera_id: str
    event_id: str
    keys: tuple[str, ...]
    modified: float
    size: int


@dataclass(frozen=True)
class RetentionReport:
    """What one run removed and what is left."""

    removed: tuple[str, ...]
    freed_bytes: int
    kept_bytes: int


def scan(store: PictureStore) -> list[StoredSnapshot]:
    """Every snapshot in ``store`` (``<camera>/<day>/<event_id>[-kind].jpg``), oldest first."""
    groups: dict[tuple[str, str, str], list[tuple[str, float, int]]] = {}
    for picture in store.pictures():
        camera_id, day, name = picture.key.split("/")
        stem = name.removesuffix(".jpg")
        for suffix in _SUFFIXES:
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        entry = (picture.key, picture.modified, picture.size)
        groups.setdefault((camera_id, day, stem), []).append(entry)
    snapshots = [
        StoredSnapshot(
            camera_id=camera_id,
            event_id=event_id,
            keys=tuple(sorted(key for key, _, _ in entries)),
            modified=max(modified for _, modified, _ in entries),
            size=sum(size for _, _, size in entries),
        )
        for (camera_id, _, event_id), entries in groups.items()
    ]
    return sorted(snapshots, key=lambda s: (s.modified, s.event_id))


def apply_retention(
    store: PictureStore, policy: RetentionPolicy, now: float | None = None
) -> RetentionReport:
    """Delete what the policy says must go; log each removal; return a report."""
    now = time.time() if now is None else now
    snapshots = scan(store)
    doomed: list[StoredSnapshot] = []
    kept: list[StoredSnapshot] = []
    for snapshot in snapshots:
        age = now - snapshot.modified
        too_old = age > policy.max_age_s(snapshot.camera_id)
        (doomed if too_old and age >= policy.min_age_s else kept).append(snapshot)
    kept_bytes = sum(s.size for s in kept)
    if policy.max_total_bytes is not None:
        for snapshot in list(kept):  # oldest first
            if kept_bytes <= policy.max_total_bytes:
                break
            if now - snapshot.modified < policy.min_age_s:
                break  # everything after it is younger still
            kept.remove(snapshot)
            doomed.append(snapshot)
            kept_bytes -= snapshot.size
    store.delete(key for snapshot in doomed for key in snapshot.keys)
    for snapshot in doomed:
        _log_removal(snapshot, now)
    return RetentionReport(
        removed=tuple(s.event_id for s in doomed),
        freed_bytes=sum(s.size for s in doomed),
        kept_bytes=kept_bytes,
    )


def _log_removal(snapshot: StoredSnapshot, now: float) -> None:
    log.info(
        "retention removed snapshot",
        extra={
            "camera_id": snapshot.camera_id,
            "event_id": snapshot.event_id,
            "bytes": snapshot.size,
            "age_s": round(now - snapshot.modified),
        },
    )
