"""The base of every message model and the limits that bound what a message may hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

from sightline.timestamps import format_timestamp

MAX_COORDINATE = 100_000.0
"""No pixel coordinate is further than this from the origin."""

MAX_FRAME_SIDE = 16_384
"""No frame is wider or taller than this (16K)."""


class Message(BaseModel):
    """Base of the wire models: unknown fields are kept (and ignored), values are frozen."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class MessageLimits:
    """What a consumer accepts before it even parses a payload.

    Attributes:
        max_payload_bytes: payloads larger than this are refused unparsed.
        max_detections: envelopes with more detections than this are refused.
    """

    max_payload_bytes: int = 1_048_576
    max_detections: int = 1_000

    @classmethod
    def for_frames(cls) -> MessageLimits:
        """Limits for ``detections/<camera>/frame``, which carry a base64 JPEG."""
        return cls(max_payload_bytes=16 * 1_048_576)


def _require_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone, e.g. 2025-01-15T14:30:22.123Z")
    return moment.astimezone(UTC)


Timestamp = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="always"),
]
"""An aware datetime, normalised to UTC, written as ``2025-01-15T14:30:22.123Z``."""
