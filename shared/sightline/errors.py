"""The small exception hierarchy every Sightline service shares.

Example:
    >>> from sightline.errors import MessageError, SightlineError
    >>> issubclass(MessageError, SightlineError)
    True
"""

from __future__ import annotations


class SightlineError(Exception):
    """Base class of every error Sightline raises on purpose."""


class ConfigError(SightlineError):
    """A configuration that cannot be used; ``problems`` names each key path and problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid configuration{where}:\n  " + "\n  ".join(problems))


class TopicError(SightlineError, ValueError):
    """A topic or an id that cannot be used in a topic."""


class MessageError(SightlineError):
    """A message that cannot be used; ``reason`` names the field and the problem."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnsupportedVersionError(MessageError):
    """A message whose ``version`` this release does not speak."""


class PayloadTooLargeError(MessageError):
    """A payload over the configured size limit (refused before parsing)."""


class TransportError(SightlineError):
    """A transport that is configured but not implemented, or a broker that cannot be used."""


class RetryLater(SightlineError):
    """Raised by a message handler to have the same message handled again after a back-off.

    The message is not acknowledged, so nothing is lost; handling stays in order.
    """
