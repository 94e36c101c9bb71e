"""A message a service could not use, with the reason, on ``sightline/deadletter/<service>``."""

from __future__ import annotations

import base64
from typing import Literal, Self

from pydantic import Field

from sightline.messages.base import Message, Timestamp
from sightline.timestamps import utc_now

MAX_PAYLOAD_EXCERPT = 4096
"""How much of the refused payload a dead letter carries."""


class DeadLetter(Message):
    """A refused message: where it came from, why, and an excerpt of it."""

    version: Literal[1] = 1
    service: str
    instance: str
    topic: str
    reason: str
    received_at: Timestamp
    payload_size: int = Field(ge=0)
    payload_encoding: Literal["utf-8", "base64"]
    payload_excerpt: str
    truncated: bool

    @classmethod
    def from_payload(
        cls, *, service: str, instance: str, topic: str, reason: str, payload: bytes
    ) -> Self:
        """Build a dead letter, keeping a readable excerpt of ``payload``.

        Example:
            >>> letter = DeadLetter.from_payload(service="event-engine", instance="main",
            ...     topic="detections/x", reason="invalid JSON", payload=b"{oops")
            >>> letter.payload_excerpt, letter.payload_encoding
            ('{oops', 'utf-8')
        """
        excerpt = payload[:MAX_PAYLOAD_EXCERPT]
        try:
            text, encoding = excerpt.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(excerpt).decode("ascii"), "base64"
        return cls(
            service=service,
            instance=instance,
            topic=topic,
            reason=reason,
            received_at=utc_now(),
            payload_size=len(payload),
            payload_encoding=encoding,
            payload_excerpt=text,
            truncated=len(payload) > MAX_PAYLOAD_EXCERPT,
        )
