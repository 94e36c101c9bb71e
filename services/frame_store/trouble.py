"""Whether the frame-store can write: one episode per run of failed writes, with back-off.

A write that fails (``OSError``: ENOSPC, EROFS, EIO, an S3 outage) is never acknowledged or
dead-lettered: the handler asks for a retry, the episode is logged once when it starts and
once when it ends, ``/healthz`` says not ok meanwhile, and the main loop retries no more
often than the back-off allows.

Example:
    >>> trouble = WriteTrouble(min_delay_s=1, max_delay_s=4)
    >>> trouble.failed(OSError(28, "No space left on device", "/snapshots"), now=10.0)
    True
    >>> trouble.failed(OSError(28, "No space left on device", "/snapshots"), now=11.0)
    False
    >>> trouble.ok, trouble.failures, trouble.may_try(now=12.0), trouble.may_try(now=13.0)
    (False, 2, False, True)
    >>> trouble.recovered()
    True
    >>> trouble.ok, trouble.may_try(now=0.0)
    (True, True)
"""

from __future__ import annotations

import errno
import threading


def describe(exc: OSError) -> str:
    """``/snapshots/x.jpg: No space left on device (ENOSPC)`` for an ``OSError``."""
    code = errno.errorcode.get(exc.errno or 0)
    reason = exc.strerror or str(exc) or type(exc).__name__
    text = f"{reason} ({code})" if code else reason
    return f"{exc.filename}: {text}" if exc.filename else text


class WriteTrouble:
    """The current episode of failed writes, if any (safe to use from several threads).

    Args:
        min_delay_s: the first wait before retrying.
        max_delay_s: the longest wait (each failure doubles it up to this).
    """

    def __init__(self, min_delay_s: float = 0.5, max_delay_s: float = 30.0) -> None:
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self.failures = 0
        self.last_error = ""
        self._delay = min_delay_s
        self._next_try = 0.0
        self._lock = threading.Lock()

    @property
    def ok(self) -> bool:
        """No write has failed since the last success."""
        return self.failures == 0

    def failed(self, exc: OSError, now: float) -> bool:
        """Count a failed write; True when it starts an episode (the caller logs it then)."""
        with self._lock:
            starts = self.failures == 0
            self.failures += 1
            self.last_error = describe(exc)
            self._delay = self.min_delay_s if starts else min(self._delay * 2, self.max_delay_s)
            self._next_try = now + self._delay
            return starts

    def recovered(self) -> bool:
        """A write succeeded; True when that ends an episode (the caller logs it then)."""
        with self._lock:
            ended = self.failures > 0
            self.failures = 0
            self._delay = self.min_delay_s
            self._next_try = 0.0
            return ended

    def may_try(self, now: float) -> bool:
        """Whether the back-off allows another try at ``now`` (always, outside an episode)."""
        with self._lock:
            return now >= self._next_try
