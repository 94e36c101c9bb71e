"""The events already announced: one empty marker file each, so a redelivery is recognised.

An event is recorded only once the broker has confirmed its announcement (paho keeps
in-flight publishes in memory only): :class:`Announcing` does the recording when whoever
settles it (the frame-store's main loop) finds every publish of the announcement confirmed,
so nobody waits for the broker.

Example:
    >>> import tempfile, pathlib
    >>> ledger = AnnouncedLedger(pathlib.Path(tempfile.mkdtemp()))
    >>> ledger.record("e1"); "e1" in ledger, "e2" in ledger
    (True, False)
    >>> from sightline.mqtt import PendingPublish
    >>> publish = PendingPublish(1, "events/cam/snapshot")
    >>> announcing = Announcing("e2", [publish], ledger.record)
    >>> announcing.settle(), "e2" in ledger       # the broker has not answered yet
    (False, False)
    >>> publish.mark_done()
    >>> announcing.wait(1.0), "e2" in ledger
    (True, True)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sightline.atomic import sync_directory
from sightline.mqtt import Completion, PendingPublish

log = logging.getLogger(__name__)


class AnnouncedLedger:
    """Marker files ``<directory>/<event_id>``; their mtime says when it was announced."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, str) and (self.directory / event_id).exists()

    def record(self, event_id: str) -> None:
        """Mark ``event_id`` as announced (durably)."""
        fd = os.open(self.directory / event_id, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        sync_directory(self.directory)  # the new name, not just the file, must survive

    def forget_older_than(self, age_s: float, now: float | None = None) -> int:
        """Remove markers older than ``age_s``; return how many went."""
        cutoff = (now if now is not None else time.time()) - age_s
        removed = 0
        for marker in self.directory.iterdir():
            if marker.stat().st_mtime < cutoff:
                marker.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("forgot %d announced event ids", removed)
        return removed


class Announcing(Completion):
    """An event's announcement on its way: done once the broker has confirmed each of its
    ``publishes`` and ``record(event_id)`` has returned.

    :meth:`settle` records as soon as it may (any thread; at most once); :meth:`wait` waits
    for the publishes, then settles. A failed ``record`` (``OSError``) is passed to
    ``on_error`` and tried again by the next :meth:`settle` (``on_recovered`` is called once
    it succeeds after failing); until then the completion is not done.
    If the broker refused a publish, nothing is recorded: ``on_refused(event_id)`` is called
    instead (the refused publish itself makes the acker dead-letter the message) and the
    completion is done.
    """

    def __init__(
        self,
        event_id: str,
        publishes: Sequence[PendingPublish],
        record: Callable[[str], None],
        on_error: Callable[[OSError], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.event_id = event_id
        self.publishes = list(publishes)
        self.record = record
        self.on_error = on_error
        self.on_refused = on_refused
        self.on_recovered = on_recovered
        self.errors = 0
        self.last_error: OSError | None = None
        """Why ``record`` failed last, while it has not succeeded."""
        self.recorded = False
        self._settling = threading.Lock()

    def describe(self) -> str:
        """``announcement of <event_id>``."""
        return f"announcement of {self.event_id}"

    @property
    def confirmed(self) -> bool:
        """Whether the broker has answered every publish of the announcement."""
        return all(p.done for p in self.publishes)

    def settle(self, *, quiet: bool = False) -> bool:
        """Record the event if every publish is confirmed; True once done. ``quiet``: a
        failed ``record`` is not passed to ``on_error`` (the caller raises
        :attr:`last_error` itself)."""
        with self._settling:
            if self.done:
                return True
            if not self.confirmed:
                return False
            try:
                if any(p.failed for p in self.publishes):
                    if self.on_refused is not None:
                        self.on_refused(self.event_id)
                else:
                    self.record(self.event_id)
                    self.recorded = True
            except OSError as exc:
                self.errors += 1
                self.last_error = exc
                if self.on_error is not None and not quiet:
                    self.on_error(exc)
                return False
            if self.errors and self.on_recovered is not None:
                self.on_recovered()
            self.last_error = None
            self.mark_done()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the broker's answers, then record; False if not done by ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for publish in self.publishes:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not publish.wait(remaining):
                return False
        if self.settle():
            return True
        # the record failed: try again after the rest of ``timeout``, not in a busy loop
        remaining = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        super().wait(remaining)
        return self.settle()
