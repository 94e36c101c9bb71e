"""What the notifier must not forget: pending e-mails, photos, digest contents, what was sent.

Everything is a small file under the state directory, written atomically (temp file, fsync,
rename) before the message that caused it is acknowledged::

    immediate/<event_id>.json               an e-mail to send now (the event as received)
    sending/<event_id>.json                 its sending began (written before the e-mail goes)
    sent/<event_id>.json                    that event's immediate e-mail is done
    snapshots/<event_id>.json               the frame-store's announcement (without the image)
    photos/<event_id>.jpg                   the announced photo (annotated JPEG)
    digests/<name>/<period>/<event_id>.json an event collected for a digest period
    digests/<name>/<period>/digest.sending  that period's digest began to go out
    digests/<name>/<period>/digest.sent     that period's digest went out (or failed for good)
    jobs/<action>/pending/<event_id>.json   another action's job (webhook, ...) to do
    jobs/<action>/sending/<event_id>.json   its doing began
    jobs/<action>/done/<event_id>.json      it is done (or failed for good)

Event files always end in ``.json`` and markers never do, so no event id can name a marker.
A file that cannot be read (truncated, not JSON, fields missing) is set aside as
``<name>.bad``, logged and counted, and everything else goes on. Write errors (``OSError``)
reach the caller, which holds the work until the disk takes writes again; the caller reports
them to :func:`disk_health` under its part (``events``, ``e-mails``).

Example:
    >>> import tempfile, pathlib
    >>> store = StateStore(pathlib.Path(tempfile.mkdtemp()))
    >>> store.add_immediate(PendingEvent("e1", "events/cam/line_cross", "{}", 0.0))
    True
    >>> [job.event_id for job in store.pending_immediate()]
    ['e1']
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from prometheus_client import CollectorRegistry, Counter, Gauge

from notifier.metrics import NotifierMetrics
from sightline.atomic import read_json, write_bytes, write_json
from sightline.writes import WriteEpisodes

log = logging.getLogger(__name__)

DIGEST_SENT = "digest.sent"
DIGEST_SENDING = "digest.sending"
LEGACY_SENT = "sent.json"
"""The marker of releases before 0.1.1, which an event with the id ``sent`` could collide with."""
BAD_SUFFIX = ".bad"
SUBDIRS = ("immediate", "sending", "sent", "snapshots", "photos", "digests")


@dataclass(frozen=True)
class PendingEvent:
    """An event as received, kept until what it asked for is done."""

    event_id: str
    topic: str
    payload: str
    received_at: float

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Self:
        """The record read back from its file."""
        return cls(
            str(value["event_id"]),
            str(value["topic"]),
            str(value["payload"]),
            float(value["received_at"]),
        )


@dataclass(frozen=True)
class DigestPeriod:
    """One digest's collection window: ``[start, start + every)`` in epoch seconds."""

    name: str
    start: int
    directory: Path

    @property
    def sent(self) -> bool:
        """True once the digest of this period is done."""
        return (self.directory / DIGEST_SENT).exists()

    @property
    def began(self) -> bool:
        """True if its sending began and was never recorded as done (a crash in between)."""
        return (self.directory / DIGEST_SENDING).exists()


class StateStore:
    """The notifier's state directory (see the module docstring for its layout)."""

    def __init__(self, root: Path, metrics: NotifierMetrics | None = None) -> None:
        self.root = root
        self.metrics = metrics or NotifierMetrics()
        self._unmovable: set[Path] = set()
        self._digests = threading.Lock()
        """Held while an event is filed in a digest period and while a period's e-mail takes
        its list: no event lands in a period after its e-mail took the list (the handler and
        the sending loop run on two threads)."""
        for sub in SUBDIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._migrate_markers()

    # -- reading, with bad files set aside ----------------------------------------------------

    def _load(self, path: Path, kind: str) -> dict[str, Any] | None:
        """The JSON object in ``path``; None if it is gone or was set aside as bad."""
        if path in self._unmovable:
            return None
        try:
            value = read_json(path)
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            self.set_aside(path, kind, f"not JSON: {exc}")
            return None
        if not isinstance(value, dict):
            self.set_aside(path, kind, "not a JSON object")
            return None
        return value

    def _pending(self, path: Path, kind: str) -> PendingEvent | None:
        value = self._load(path, kind)
        if value is None:
            return None
        try:
            return PendingEvent.from_json(value)
        except (KeyError, TypeError, ValueError) as exc:
            self.set_aside(path, kind, f"field {exc} missing or unusable")
            return None

    def set_aside(self, path: Path, kind: str, reason: str) -> None:
        """Rename an unreadable file to ``<name>.bad`` so that everything else goes on."""
        self.metrics.bad_state_files.labels(kind).inc()
        bad = path.with_name(path.name + BAD_SUFFIX)
        try:
            os.replace(path, bad)
        except OSError as exc:  # a read-only disk: skip it from now on, in memory
            self._unmovable.add(path)
            log.error("unreadable %s %s (%s) cannot be set aside: %s", kind, path, reason, exc)
            return
        log.error("unreadable %s set aside as %s: %s", kind, bad, reason, extra={"kind": kind})

    # -- immediate e-mails ------------------------------------------------------------------

    def add_immediate(self, event: PendingEvent) -> bool:
        """Record an e-mail to send; False if it is already pending or done."""
        path = self.root / "immediate" / f"{event.event_id}.json"
        if path.exists() or self.immediate_done(event.event_id):
            return False
        write_json(path, asdict(event))
        return True

    def pending_immediate(self) -> list[PendingEvent]:
        """E-mails still to send, oldest first (one whose outcome is recorded is cleaned up)."""
        records = []
        for path in (self.root / "immediate").glob("*.json"):
            record = self._pending(path, "pending e-mail")
            if record is None:
                continue
            if self.immediate_done(record.event_id):  # a crash between record and cleanup
                self._forget_immediate(record.event_id)
                continue
            records.append(record)
        return sorted(records, key=lambda record: (record.received_at, record.event_id))

    def immediate_done(self, event_id: str) -> bool:
        """True once the immediate e-mail of ``event_id`` was sent, suppressed or refused.

        A record set aside as unreadable still says "done": better no e-mail than two.
        """
        sent = self.root / "sent" / f"{event_id}.json"
        return sent.exists() or sent.with_name(sent.name + BAD_SUFFIX).exists()

    def begin_immediate(self, event_id: str, rule: str) -> None:
        """Record that the e-mail of ``event_id`` is about to go (raises if it cannot)."""
        record = {"event_id": event_id, "rule": rule, "at": time.time()}
        write_json(self.root / "sending" / f"{event_id}.json", record)

    def immediate_began(self, event_id: str) -> bool:
        """True if a sending of ``event_id``'s e-mail began and its outcome was not recorded."""
        return (self.root / "sending" / f"{event_id}.json").exists()

    def finish_immediate(self, event_id: str, rule: str, outcome: str) -> None:
        """Record the outcome first, then drop the pending record."""
        record = {"event_id": event_id, "rule": rule, "outcome": outcome, "at": time.time()}
        write_json(self.root / "sent" / f"{event_id}.json", record)
        self._forget_immediate(event_id)

    def _forget_immediate(self, event_id: str) -> None:
        (self.root / "immediate" / f"{event_id}.json").unlink(missing_ok=True)
        (self.root / "sending" / f"{event_id}.json").unlink(missing_ok=True)

    def sent_since(self, since: float) -> Iterator[dict[str, Any]]:
        """Outcome records written after ``since`` (epoch seconds)."""
        for path in (self.root / "sent").glob("*.json"):
            try:
                recent = path.stat().st_mtime >= since
            except FileNotFoundError:
                continue
            if recent and (record := self._load(path, "sent record")) is not None:
                yield record

    # -- snapshots --------------------------------------------------------------------------

    def add_snapshot(self, event_id: str, announcement: str, photo: bytes | None = None) -> None:
        """Keep the frame-store's announcement (the latest wins) and its photo, photo first.

        An announcement without a photo keeps a photo an earlier one brought.
        """
        if photo is not None:
            write_bytes(self.root / "photos" / f"{event_id}.jpg", photo)
        write_json(self.root / "snapshots" / f"{event_id}.json", {"announcement": announcement})

    def snapshot(self, event_id: str) -> str | None:
        """The announcement of ``event_id``, if it came (and its file is readable)."""
        record = self._load(self.root / "snapshots" / f"{event_id}.json", "announcement")
        if record is None or not isinstance(record.get("announcement"), str):
            return None
        return str(record["announcement"])

    def photo(self, event_id: str) -> bytes | None:
        """The photo announced for ``event_id``, if one came."""
        try:
            return (self.root / "photos" / f"{event_id}.jpg").read_bytes()
        except FileNotFoundError:
            return None

    # -- digests ----------------------------------------------------------------------------

    def add_to_digest(self, name: str, starts: Iterable[int], event: PendingEvent) -> int | None:
        """Collect ``event`` in the first of the digest's periods ``starts`` (consecutive,
        endless) whose e-mail has not begun; that period's start, or None if this digest
        already has the event."""
        digest_dir = self.root / "digests" / name
        file_name = f"{event.event_id}.json"
        with self._digests:
            if digest_dir.is_dir() and any(
                (period / file_name).exists() for period in digest_dir.iterdir()
            ):
                return None
            for start in starts:
                period = DigestPeriod(name, start, digest_dir / str(start))
                if period.began or period.sent:
                    continue  # its e-mail took its list already
                write_json(period.directory / file_name, asdict(event))
                return start
        raise ValueError("starts ended: periods go on forever")

    def close_digest(self, period: DigestPeriod) -> list[PendingEvent]:
        """The events of ``period``, none added from now on: its sending begins (recorded;
        raises if it cannot be). An event filed meanwhile goes into a later period."""
        with self._digests:
            records = self.digest_events(period)
            self.begin_digest(period)
        return records

    def digest_periods(self) -> list[DigestPeriod]:
        """Every digest period on disk, sent or not, oldest first."""
        periods = [
            DigestPeriod(period_dir.parent.name, int(period_dir.name), period_dir)
            for period_dir in (self.root / "digests").glob("*/*")
            if period_dir.is_dir() and period_dir.name.isdigit()
        ]
        return sorted(periods, key=lambda period: (period.start, period.name))

    def digest_events(self, period: DigestPeriod) -> list[PendingEvent]:
        """The events collected in ``period`` so far, oldest first; bad entries set aside."""
        records = [
            record
            for path in period.directory.glob("*.json")
            if (record := self._pending(path, "digest entry")) is not None
        ]
        return sorted(records, key=lambda record: (record.received_at, record.event_id))

    def begin_digest(self, period: DigestPeriod) -> None:
        """Record that the digest of ``period`` is about to go (raises if it cannot)."""
        write_json(period.directory / DIGEST_SENDING, {"at": time.time()})

    def finish_digest(self, period: DigestPeriod, outcome: str, count: int) -> None:
        """Record that the digest of ``period`` is done."""
        record = {"outcome": outcome, "events": count, "at": time.time()}
        write_json(period.directory / DIGEST_SENT, record)
        (period.directory / DIGEST_SENDING).unlink(missing_ok=True)

    # -- jobs of other actions (each registered action keeps its own) -----------------------

    def _job(self, action: str, state: str, event_id: str) -> Path:
        return self.root / "jobs" / action / state / f"{event_id}.json"

    def add_job(self, action: str, event: PendingEvent) -> bool:
        """Record a job of ``action`` for ``event``; False if it is already pending or done.

        Example:
            >>> import tempfile, pathlib
            >>> store = StateStore(pathlib.Path(tempfile.mkdtemp()))
            >>> job = PendingEvent("e1", "events/cam/line_cross", "{}", 0.0)
            >>> store.add_job("webhook", job), store.add_job("webhook", job)
            (True, False)
            >>> store.begin_job("webhook", "e1"); store.job_began("webhook", "e1")
            True
            >>> store.finish_job("webhook", "e1", "sent")
            >>> store.pending_jobs("webhook"), store.add_job("webhook", job)
            ([], False)
        """
        path = self._job(action, "pending", event.event_id)
        done = self._job(action, "done", event.event_id)
        if path.exists() or done.exists() or done.with_name(done.name + BAD_SUFFIX).exists():
            return False
        write_json(path, asdict(event))
        return True

    def pending_jobs(self, action: str) -> list[PendingEvent]:
        """The jobs of ``action`` still to do, oldest first; bad files set aside."""
        records = []
        for path in (self.root / "jobs" / action / "pending").glob("*.json"):
            record = self._pending(path, f"pending {action} job")
            if record is None:
                continue
            if self._job(action, "done", record.event_id).exists():  # crash before cleanup
                self._forget_job(action, record.event_id)
                continue
            records.append(record)
        return sorted(records, key=lambda record: (record.received_at, record.event_id))

    def begin_job(self, action: str, event_id: str) -> None:
        """Record that the job of ``event_id`` is being done (raises if it cannot)."""
        write_json(self._job(action, "sending", event_id), {"at": time.time()})

    def job_began(self, action: str, event_id: str) -> bool:
        """True if doing the job began and its outcome was not recorded (a crash between)."""
        return self._job(action, "sending", event_id).exists()

    def finish_job(self, action: str, event_id: str, outcome: str) -> None:
        """Record the job's outcome first, then drop its pending record."""
        record = {"event_id": event_id, "outcome": outcome, "at": time.time()}
        write_json(self._job(action, "done", event_id), record)
        self._forget_job(action, event_id)

    def _forget_job(self, action: str, event_id: str) -> None:
        self._job(action, "pending", event_id).unlink(missing_ok=True)
        self._job(action, "sending", event_id).unlink(missing_ok=True)

    def _migrate_markers(self) -> None:
        """Rename the old ``sent.json`` markers; an event named ``sent`` has an ``event_id``."""
        for marker in (self.root / "digests").glob(f"*/*/{LEGACY_SENT}"):
            try:
                value = read_json(marker)
            except (OSError, ValueError, UnicodeDecodeError):
                value = {}  # unreadable: taken as a marker, so a digest never goes twice
            if isinstance(value, dict) and "event_id" not in value:
                try:
                    os.replace(marker, marker.with_name(DIGEST_SENT))
                except OSError as exc:
                    log.error("cannot rename the old digest marker %s: %s", marker, exc)

    # -- garbage collection -----------------------------------------------------------------

    def remove_older_than(self, cutoff: float) -> int:
        """Delete finished records and photos last written before ``cutoff``; return how many.

        What a pending e-mail still needs (its announcement and photo) is kept.
        """
        needed = {path.stem for path in (self.root / "immediate").glob("*.json")}
        for period in self.digest_periods():
            if not period.sent:
                needed |= {path.stem for path in period.directory.glob("*.json")}
        removed = 0
        for sub in ("sent", "snapshots", "photos"):
            for path in (self.root / sub).iterdir():
                if sub != "sent" and path.stem in needed:  # <id>.json, <id>.jpg (not .bad)
                    continue
                if _mtime(path) < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
        for done in (self.root / "jobs").glob("*/done/*"):
            if _mtime(done) < cutoff:
                done.unlink(missing_ok=True)
                removed += 1
        for bad in (self.root / "immediate").glob(f"*{BAD_SUFFIX}"):
            if _mtime(bad) < cutoff:
                bad.unlink(missing_ok=True)
                removed += 1
        for period in self.digest_periods():
            marker = period.directory / DIGEST_SENT
            if period.sent and _mtime(marker) < cutoff:
                shutil.rmtree(period.directory, ignore_errors=True)
                removed += 1
        return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


HELD = {"events": "new events", "e-mails": "e-mails"}
"""What each part that writes holds while its writes fail (the words of the log)."""


def disk_health(
    registry: CollectorRegistry | None = None, where: str = "the state directory"
) -> WriteEpisodes:
    """Whether the notifier can write its state and JSON log, per part: ``/healthz``'s
    ``state`` check (``ok``), the failures counted by part, a gauge, one log line each way.

    Example:
        >>> health = disk_health(CollectorRegistry())
        >>> health.failed(OSError(28, "No space left on device"), 0.0, "events", HELD["events"])
        True
        >>> health.ok(), health.recovered("events"), health.ok()
        (False, 1, True)
    """
    failures = Counter(
        "sightline_notifier_state_write_failures",
        "Writes of the state or the JSON log that failed (disk full, read-only, I/O error).",
        ["part"],
        registry=registry,
    )
    writable = Gauge(
        "sightline_notifier_state_writable",
        "1 while the notifier can write its state and JSON log; 0 while it holds its work.",
        registry=registry,
    )
    return WriteEpisodes(
        log,
        "cannot write {path}: {reason}; holding {what} until the disk takes writes again "
        "(retrying with back-off, nothing is acknowledged or sent meanwhile)",
        "writes work again ({part}) after {count} failed attempt(s)",
        where=where,
        on_failure=lambda part: failures.labels(part).inc(),
        on_health=lambda ok: writable.set(int(ok)),
    )
