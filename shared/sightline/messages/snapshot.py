"""The frame-store's announcement that an event's snapshot is stored (or why not)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sightline.ids import Identifier
from sightline.messages.base import Message, Timestamp, VersionedMessage
from sightline.messages.envelope import FrameData, FrameRef


class SnapshotFiles(Message):
    """Every stored picture of one event, as frame references."""

    annotated: FrameRef | None = None
    clean: FrameRef | None = None
    crop: FrameRef | None = None


class SnapshotAnnouncement(VersionedMessage):
    """``events/<camera_id>/snapshot``: ``frame_ref`` is the annotated snapshot, or null with
    a ``reason`` when the frame never arrived."""

    version: Literal[1] = 1
    event_id: str = Field(min_length=1, max_length=128)
    camera_id: Identifier
    frame_number: int | None = Field(default=None, ge=0)
    timestamp: Timestamp
    frame_ref: FrameRef | None
    files: SnapshotFiles = Field(default_factory=SnapshotFiles)
    reason: str | None = None
    image: FrameData | None = None
    """The annotated snapshot itself (JPEG, base64), so a consumer on another machine or disk
    (the notifier's e-mails) has the photo without sharing the frame-store's storage."""
