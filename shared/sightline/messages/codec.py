"""JSON encoding and decoding of the wire messages, with typed, readable errors.

Decoding never raises anything but :class:`~sightline.errors.MessageError` (or its
subclasses) for a bad payload, whatever the bytes are.

Example:
    >>> decode_envelope(b'{"version": 2}')
    Traceback (most recent call last):
    ...
    sightline.errors.UnsupportedVersionError: version: 2 is not supported; this release speaks version 1
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sightline.errors import MessageError, PayloadTooLargeError, UnsupportedVersionError
from sightline.messages.base import WIRE, MessageLimits
from sightline.messages.envelope import DetectionEnvelope
from sightline.messages.event import Event
from sightline.messages.fast import fast_envelope, fast_sightings
from sightline.messages.sightings import Sightings
from sightline.messages.snapshot import SnapshotAnnouncement
from sightline.validation import describe_errors

M = TypeVar("M", bound=BaseModel)

SUPPORTED_VERSION = 1


def encode(message: BaseModel) -> bytes:
    """Compact JSON of a message, as it goes on the wire (nulls kept, unknown fields kept)."""
    return message.model_dump_json(by_alias=True).encode()


def decode(model: type[M], payload: bytes | str, limits: MessageLimits | None = None) -> M:
    """Parse and validate ``payload`` as ``model``.

    Raises:
        PayloadTooLargeError: over ``limits.max_payload_bytes``, refused before parsing.
        UnsupportedVersionError: ``version`` is not 1.
        MessageError: anything else; ``reason`` names the field and the problem.
    """
    limits = limits or MessageLimits()
    size = len(payload)
    if size > limits.max_payload_bytes:
        raise PayloadTooLargeError(
            f"payload is {size} bytes; at most {limits.max_payload_bytes} are accepted"
        )
    if size == 0:
        raise MessageError("payload is empty; expected a JSON object")
    try:
        return model.model_validate_json(payload, context={"limits": limits, WIRE: True})
    except ValidationError as exc:
        raise _explain(exc, payload) from None
    except (ValueError, RecursionError) as exc:  # pragma: no cover - pydantic wraps these
        raise MessageError(f"invalid JSON: {exc}") from None


def _explain(exc: ValidationError, payload: bytes | str) -> MessageError:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return MessageError(f"invalid JSON: {errors[0]['msg']}")
    if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
        return MessageError("payload must be a JSON object")
    for error in errors:
        if error["loc"] == ("version",):
            version = _peek_version(payload)
            return UnsupportedVersionError(
                f"version: {version} is not supported; this release speaks version "
                f"{SUPPORTED_VERSION}"
            )
    return MessageError("; ".join(describe_errors(exc)))


def _peek_version(payload: bytes | str) -> Any:
    try:
        return json.loads(payload).get("version", "missing")
    except (ValueError, AttributeError):  # pragma: no cover - validated above
        return "unreadable"


def decode_envelope(payload: bytes | str, limits: MessageLimits | None = None) -> DetectionEnvelope:
    """Decode a detection envelope v1 (msgspec's fast path when it can vouch for the
    result, see :mod:`sightline.messages.fast`; pydantic otherwise, and for every refusal)."""
    limits = limits or MessageLimits()
    envelope = fast_envelope(payload, limits)
    if envelope is not None:
        return envelope
    return decode(DetectionEnvelope, payload, limits)


def decode_sightings(payload: bytes | str, limits: MessageLimits | None = None) -> Sightings:
    """Decode a detection envelope v1 as the engine reads it (:mod:`sightline.messages.sightings`):
    the same acceptance and refusals as :func:`decode_envelope`."""
    limits = limits or MessageLimits()
    sightings = fast_sightings(payload, limits)
    if sightings is not None:
        return sightings
    return Sightings.of(decode(DetectionEnvelope, payload, limits))


def decode_event(payload: bytes | str, limits: MessageLimits | None = None) -> Event:
    """Decode an event v1."""
    return decode(Event, payload, limits)


def decode_snapshot(
    payload: bytes | str, limits: MessageLimits | None = None
) -> SnapshotAnnouncement:
    """Decode a snapshot announcement."""
    return decode(SnapshotAnnouncement, payload, limits)
