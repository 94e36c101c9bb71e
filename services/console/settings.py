"""The console service's settings: what every service has, plus its ``console:`` section.

(They live with the service rather than in :mod:`sightline.config.settings` so that the
suite's settings can hold the same section without an import cycle.)

Example:
    >>> ConsoleSettings().console.host
    '127.0.0.1'
"""

from __future__ import annotations

from pydantic import Field

from sightline.config.console import ConsoleSection
from sightline.config.settings import ServiceSettings
from sightline.messages.base import MessageLimits


class ConsoleSettings(ServiceSettings):
    """The console service."""

    console: ConsoleSection = Field(default_factory=ConsoleSection)
    max_payload_bytes: int = Field(
        default=MessageLimits.for_frames().max_payload_bytes,
        ge=1024,
        description="Largest message read (frames carry a base64 JPEG).",
    )
