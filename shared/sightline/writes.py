"""Writes that fail (disk full, read-only, I/O error): one episode, said once, with back-off.

Every service that must keep something on disk holds its work while a write fails rather
than acknowledge what it did not keep. :class:`WriteEpisodes` is what they share: the first
failure of an episode is logged once with its reason, the retries are only counted, the
recovery is logged once with the count, :meth:`WriteEpisodes.ok` is the ``/healthz`` check
and :meth:`WriteEpisodes.may_try` the back-off (a :class:`~sightline.backoff.Backoff`: jittered,
its ceiling doubling up to a limit). A service may
track several parts (the notifier's ``events`` and ``e-mails``): each has its own episode,
and the service is ok only while none fails. :func:`probe_writable` is the start-up check.

Example:
    >>> import logging, sys
    >>> logger = logging.getLogger("example")
    >>> logger.addHandler(logging.StreamHandler(sys.stdout)); logger.propagate = False
    >>> writes = WriteEpisodes(logger, "cannot {what}: {described}", "writing again after "
    ...                        "{count} failed attempts", min_delay_s=1, max_delay_s=4,
    ...                        random=lambda: 1.0)  # no jitter: waits of 1, 2, 4, 4 s
    >>> full = OSError(28, "No space left on device", "/snapshots/a.jpg")
    >>> writes.failed(full, now=10.0, what="store a snapshot")
    cannot store a snapshot: /snapshots/a.jpg: No space left on device (ENOSPC)
    True
    >>> writes.failed(full, now=11.0, what="store a snapshot")
    False
    >>> writes.ok(), writes.failures, writes.may_try(now=12.0), writes.may_try(now=13.0)
    (False, 2, False, True)
    >>> writes.recovered()
    writing again after 2 failed attempts
    2
    >>> writes.ok(), writes.recovered(), writes.may_try(now=0.0)
    (True, 0, True)
"""

from __future__ import annotations

import errno
import logging
import os
import random as _random
import threading
from collections.abc import Callable
from pathlib import Path

from sightline.backoff import Backoff

log = logging.getLogger(__name__)


def reason(exc: OSError) -> str:
    """``No space left on device`` (the system's words, else the exception's name)."""
    return exc.strerror or str(exc) or type(exc).__name__


def describe(exc: OSError) -> str:
    """``/snapshots/x.jpg: No space left on device (ENOSPC)`` for an ``OSError``.

    Example:
        >>> describe(OSError(30, "Read-only file system"))
        'Read-only file system (EROFS)'
    """
    code = errno.errorcode.get(exc.errno or 0)
    text = f"{reason(exc)} ({code})" if code else reason(exc)
    return f"{exc.filename}: {text}" if exc.filename else text


class WriteEpisodes:
    """The current episode of failed writes of each part, if any (thread-safe).

    Args:
        log: where the start and the end of an episode are said.
        failing: the error logged when an episode starts, a ``str.format`` template with
            ``{what}`` (the caller's words), ``{part}``, ``{path}`` (the file, else
            ``where``), ``{reason}`` (see :func:`reason`) and ``{described}`` (see
            :func:`describe`).
        recovered: the warning logged when it ends, with ``{part}``, ``{where}`` and
            ``{count}`` (the failures of the episode).
        where: what is written, for messages whose error names no file.
        min_delay_s: the first wait before a retry.
        max_delay_s: the longest wait (each failure doubles the ceiling up to this).
        random: the jitter's uniform draw in ``[0, 1)`` (tests pass a constant).
        on_failure: called with the part at every failure (a metric).
        on_health: called with :meth:`ok` whenever it changes, and at once (a gauge).
    """

    def __init__(
        self,
        log: logging.Logger,
        failing: str,
        recovered: str,
        *,
        where: str = "",
        min_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        random: Callable[[], float] = _random.random,
        on_failure: Callable[[str], object] | None = None,
        on_health: Callable[[bool], object] | None = None,
    ) -> None:
        self.log = log
        self.failing = failing
        self.recovering = recovered
        self.where = where
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self.last_error: str | None = None
        """:func:`describe` of the last failure while an episode lasts, else None."""
        self._on_failure = on_failure
        self._on_health = on_health
        self._failing: dict[str, int] = {}
        self._backoff = Backoff(min_delay_s, max(min_delay_s, max_delay_s), random=random)
        self._next_try = 0.0
        self._lock = threading.Lock()
        if on_health is not None:
            on_health(True)

    def ok(self) -> bool:
        """No part has failed since its last success (a ``/healthz`` check)."""
        with self._lock:
            return not self._failing

    @property
    def failures(self) -> int:
        """Failures of the current episodes, all parts together (0: none)."""
        with self._lock:
            return sum(self._failing.values())

    def failed(self, exc: OSError, now: float, part: str = "", what: str = "") -> bool:
        """Count a failed write of ``part``; True (and logged) when it starts its episode."""
        with self._lock:
            was_ok = not self._failing
            count = self._failing.get(part, 0)
            self._failing[part] = count + 1
            self.last_error = describe(exc)
            if was_ok:
                self._backoff.reset()
            self._next_try = now + self._backoff.next_delay()
        if self._on_failure is not None:
            self._on_failure(part)
        if was_ok and self._on_health is not None:
            self._on_health(False)
        if count == 0:
            path = str(exc.filename or self.where)
            self.log.error(
                self.failing.format(
                    what=what,
                    part=part,
                    path=path,
                    reason=reason(exc),
                    described=describe(exc),
                    where=self.where,
                ),
                extra={"part": part, "errno": exc.errno, "path": path},
            )
        return count == 0

    def recovered(self, part: str = "") -> int:
        """``part`` wrote; the failures of the episode this ends (logged), else 0."""
        with self._lock:
            count = self._failing.pop(part, 0)
            now_ok = count > 0 and not self._failing
            if now_ok:
                self.last_error = None
                self._backoff.reset()
                self._next_try = 0.0
        if now_ok and self._on_health is not None:
            self._on_health(True)
        if count:
            self.log.warning(
                self.recovering.format(part=part, where=self.where, count=count),
                extra={"part": part, "failures": count},
            )
        return count

    def may_try(self, now: float) -> bool:
        """Whether the back-off allows another try at ``now`` (always, outside an episode)."""
        with self._lock:
            return now >= self._next_try


def probe_writable(directory: Path, full_ok: bool = False) -> str | None:
    """None if a file can be created, synced and removed in ``directory``; else why not.

    With ``full_ok``, a full disk is not refused, only warned about (the service waits for
    space, unhealthy);
    a read-only or forbidden directory is, since no wait mends it.

    Example:
        >>> import tempfile
        >>> probe_writable(Path(tempfile.mkdtemp()) / "state") is None
        True
    """
    probe = directory / f".write-probe-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink()
    except OSError as exc:
        if full_ok and exc.errno == errno.ENOSPC and directory.is_dir():
            log.warning("%s is full; writes will be retried until there is room", directory)
            return None
        return reason(exc)
    return None
