"""The base of every message model and the limits that bound what a message may hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    model_validator,
)

from sightline.timestamps import format_timestamp

MAX_COORDINATE = 100_000.0
"""No pixel coordinate is further than this from the origin."""

MAX_FRAME_SIDE = 16_384
"""No frame is wider or taller than this (16K)."""


WIRE = "wire"
"""Validation context key set when a payload comes off the wire (see ``codec.decode``)."""


class Message(BaseModel):
    """Base of the wire models: unknown fields are kept (and ignored), values are frozen."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class VersionedMessage(Message):
    """A top-level message with a ``version``. Code that builds one gets version 1 by
    default; a payload from the wire must say its version: it is never guessed."""

    @model_validator(mode="before")
    @classmethod
    def _version_given(cls, data: Any, info: ValidationInfo) -> Any:
        wire = isinstance(info.context, dict) and info.context.get(WIRE)
        if wire and isinstance(data, dict) and "version" not in data:
            raise ValueError("version: missing; this release speaks version 1")
        return data


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


def _iso_text_only(value: Any) -> Any:
    # JSON carries a timestamp as RFC 3339 text; a number would be silently taken as epoch
    # seconds, so it is refused.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("must be RFC 3339 text such as 2025-01-15T14:30:22.123Z, not a number")
    return value


def _require_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone, e.g. 2025-01-15T14:30:22.123Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00: past what a datetime holds
        raise ValueError("is out of range once in UTC (years 1 to 9999)") from None


Timestamp = Annotated[
    datetime,
    BeforeValidator(_iso_text_only),
    AfterValidator(_require_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="always"),
]
"""An aware datetime, normalised to UTC, written as ``2025-01-15T14:30:22.123Z``."""
