"""The detection envelope v1: one per processed frame, on ``detections/<camera_id>``.

Example:
    >>> envelope = DetectionEnvelope.model_validate({
    ...     "version": 1,
    ...     "source": {"device_id": "jetson-01", "camera_id": "driveway",
    ...                "timestamp": "2025-01-15T14:30:22.123Z"},
    ...     "frame": {"number": 12345, "width": 1920, "height": 1080},
    ...     "detections": [],
    ... })
    >>> envelope.source.camera_id, envelope.frame.number
    ('driveway', 12345)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from sightline.ids import Identifier
from sightline.messages.base import (
    MAX_FRAME_SIDE,
    Message,
    MessageLimits,
    Timestamp,
    VersionedMessage,
)
from sightline.messages.geometry import BBox, Point


class Source(Message):
    """Who saw it, and when the frame was captured."""

    device_id: Identifier
    camera_id: Identifier
    timestamp: Timestamp
    run_id: Identifier | None = None
    """Optional (not in the seed): new each time the edge process starts, so the engine can
    tell a restarted edge (frame numbers and track ids from zero again) from a redelivery."""


class Roi(Message):
    """The region of the frame the detector looked at, in pixels of the full frame."""

    x1: int = Field(ge=0, le=MAX_FRAME_SIDE)
    y1: int = Field(ge=0, le=MAX_FRAME_SIDE)
    x2: int = Field(ge=0, le=MAX_FRAME_SIDE)
    y2: int = Field(ge=0, le=MAX_FRAME_SIDE)

    @field_validator("x2")
    @classmethod
    def _x_ordered(cls, x2: int, info: ValidationInfo) -> int:
        if "x1" in info.data and x2 <= info.data["x1"]:
            raise ValueError(f"must be greater than x1 ({info.data['x1']})")
        return x2

    @field_validator("y2")
    @classmethod
    def _y_ordered(cls, y2: int, info: ValidationInfo) -> int:
        if "y1" in info.data and y2 <= info.data["y1"]:
            raise ValueError(f"must be greater than y1 ({info.data['y1']})")
        return y2


class FrameInfo(Message):
    """The frame an envelope describes."""

    number: int = Field(ge=0, description="Frame sequence number of this camera's stream.")
    width: int = Field(gt=0, le=MAX_FRAME_SIDE)
    height: int = Field(gt=0, le=MAX_FRAME_SIDE)
    roi_applied: Roi | None = None


class Detection(Message):
    """One object in one frame. ``track_id`` is null until the tracker confirms the track."""

    track_id: int | None = Field(default=None, ge=0)
    class_id: int = Field(ge=0, le=100_000)
    class_name: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)
    bbox: BBox
    center: Point
    previous_center: Point | None = None


class FrameData(Message):
    """A JPEG of the frame, base64-encoded."""

    encoding: Literal["jpeg"] = "jpeg"
    quality: int = Field(default=85, ge=1, le=100)
    base64: str = Field(min_length=1)


class FrameRef(Message):
    """Where a stored frame lies: a file under the frame-store's root, or an S3 object."""

    type: Literal["s3", "file"]
    bucket: str | None = None
    key: str = Field(min_length=1, max_length=1024)

    @field_validator("key")
    @classmethod
    def _printable(cls, value: str) -> str:
        """No control character (a NUL ends a path in every system call)."""
        for char in value:
            if ord(char) < 0x20 or ord(char) == 0x7F:
                raise ValueError(f"must not contain a control character (U+{ord(char):04X})")
        return value


class DetectionEnvelope(VersionedMessage):
    """Detection envelope v1 (the seed's format, field for field)."""

    version: Literal[1] = 1
    source: Source
    frame: FrameInfo
    detections: list[Detection] = Field(default_factory=list)
    frame_data: FrameData | None = None
    frame_ref: FrameRef | None = None

    @field_validator("detections", mode="before")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        limits = info.context.get("limits") if isinstance(info.context, dict) else None
        maximum = (limits or MessageLimits()).max_detections
        if isinstance(value, list) and len(value) > maximum:
            raise ValueError(f"{len(value)} detections; at most {maximum} per envelope")
        return value

    @property
    def camera_id(self) -> str:
        """Shortcut for ``source.camera_id``."""
        return self.source.camera_id
