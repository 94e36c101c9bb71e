"""The frame-store's sections: storage, ring buffer, retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from sightline.config.base import StrictModel, TimeZoneName
from sightline.ids import Identifier


class FileStorage(StrictModel):
    """Snapshots on the local disk."""

    type: Literal["file"] = "file"
    root: Path = Field(default=Path("var/snapshots"), description="Root directory.")


class S3Storage(StrictModel):
    """Snapshots in S3-compatible storage."""

    type: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field(default="", description="Key prefix.")
    endpoint_url: str | None = Field(default=None, description="For MinIO and friends.")
    region: str | None = None


Storage = Annotated[FileStorage | S3Storage, Field(discriminator="type")]


class RingConfig(StrictModel):
    """Recent frames kept per camera."""

    max_frames: int = Field(default=300, ge=1, description="Per camera.")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, description="Per camera.")


class RetentionConfig(StrictModel):
    """How long snapshots stay."""

    days: float = Field(default=14, gt=0, description="Delete snapshots older than this.")
    per_camera_days: dict[str, float] = Field(default_factory=dict)
    max_total_bytes: int | None = Field(default=None, ge=1, description="Oldest go first.")
    min_age_s: float = Field(default=3600, ge=0, description="Never delete younger than this.")
    interval_s: float = Field(default=600, gt=0, description="How often retention runs.")


class AnnouncedImage(StrictModel):
    """The annotated snapshot carried in each ``events/<camera>/snapshot`` announcement, so a
    consumer on another disk or machine (the notifier's e-mails) has the photo."""

    enabled: bool = Field(default=True, description="Carry the picture in the announcement.")
    max_bytes: int = Field(
        default=300_000,
        ge=10_000,
        le=700_000,
        description="Larger snapshots are re-encoded (base64 adds a third; events stay < 1 MiB).",
    )
    max_width: int = Field(default=1280, ge=160, le=16384, description="Re-encoded width.")
    quality: int = Field(default=80, ge=10, le=100, description="Re-encoded JPEG quality.")


class FrameStoreSection(StrictModel):
    """Everything the frame-store does."""

    storage: Storage = Field(default_factory=FileStorage)
    ring: RingConfig = Field(default_factory=RingConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    frame_wait_s: float = Field(default=10.0, ge=0, description="Wait for a late frame.")
    window_frames: int = Field(default=15, ge=0, description="Nearest frame within this many.")
    crop: bool = Field(default=True, description="Also store a crop of the object.")
    timezone: TimeZoneName = Field(
        default="UTC",
        description="IANA zone for the time in snapshot captions (as the notifier's).",
    )
    publish_latest: bool = Field(default=True, description="Retained latest snapshot for HA.")
    image: AnnouncedImage = Field(default_factory=AnnouncedImage)
    cameras: list[Identifier] | None = Field(
        default=None,
        description="Only these cameras (others are dead-lettered); None: any, up to max_cameras.",
    )
    max_cameras: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Cameras given a frame ring and a Home Assistant entity; more are refused.",
    )
    max_frame_pixels: int = Field(
        default=40_000_000,
        ge=64 * 64,
        description="A frame whose JPEG header states more pixels is refused undecoded.",
    )
