"""Whether the notifier can write its state and JSON log: a health check, metrics, one log line.

A write that fails (disk full, read-only, I/O error) is never acknowledged: the handler asks
the MQTT client to retry the message later, so no new work is taken, and the sending loop
sends nothing it could not record. Each part that writes reports here under its own name;
``/healthz`` fails its ``state`` check while any part cannot write. The first failure of an
episode is logged as an error, the retries only counted; the recovery is logged once.

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> health = DiskHealth(CollectorRegistry())
    >>> health.failed("events", OSError(28, "No space left on device")); health.ok()
    False
    >>> health.recovered("events"); health.ok()
    True
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

EXIT_CANT_CREATE = 73
"""``EX_CANTCREAT`` of sysexits.h: the service cannot write where it must."""


class DiskHealth:
    """Which parts of the notifier cannot write right now, and since how many failures."""

    def __init__(
        self, registry: CollectorRegistry | None = None, where: str = "the state directory"
    ) -> None:
        self.where = where
        self._lock = threading.Lock()  # the MQTT worker and the sending loop both report
        self._failing: dict[str, int] = {}
        self.failures = Counter(
            "sightline_notifier_state_write_failures",
            "Writes of the state or the JSON log that failed (disk full, read-only, I/O error).",
            ["part"],
            registry=registry,
        )
        self.writable = Gauge(
            "sightline_notifier_state_writable",
            "1 while the notifier can write its state and JSON log; 0 while it holds its work.",
            registry=registry,
        )
        self.writable.set(1)

    def failed(self, part: str, exc: OSError) -> None:
        """``part`` could not write; log it if this starts an episode."""
        self.failures.labels(part).inc()
        with self._lock:
            count = self._failing.get(part, 0)
            self._failing[part] = count + 1
            self.writable.set(0)
        if count == 0:
            log.error(
                "cannot write %s: %s; holding %s until the disk takes writes again "
                "(retrying with back-off, nothing is acknowledged or sent meanwhile)",
                exc.filename or self.where,
                _describe(exc),
                "new events" if part == "events" else "e-mails",
                extra={"part": part, "errno": exc.errno, "path": str(exc.filename)},
            )

    def recovered(self, part: str) -> None:
        """``part`` wrote successfully; log the end of its episode."""
        with self._lock:
            count = self._failing.pop(part, 0)
            if not self._failing:
                self.writable.set(1)
        if count:
            log.warning("writes work again (%s) after %d failed attempt(s)", part, count)

    def ok(self) -> bool:
        """False while some part cannot write (a ``/healthz`` check)."""
        with self._lock:
            return not self._failing


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def probe_writable(directory: Path) -> str | None:
    """None if a file can be created, synced and removed in ``directory``; else why not.

    Example:
        >>> import tempfile
        >>> probe_writable(Path(tempfile.mkdtemp())) is None
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
        return _describe(exc)
    return None
