"""What the notifier must not forget: pending e-mails, digest contents, what was sent.

Everything is a small JSON file under the state directory, written atomically before the
message that caused it is acknowledged::

    immediate/<event_id>.json               an e-mail to send now (the event as received)
    snapshots/<event_id>.json               the frame-store's announcement for an event
    digests/<name>/<period>/<event_id>.json an event collected for a digest period
    digests/<name>/<period>/sent.json       that period's digest went out (or failed for good)
    sent/<event_id>.json                    that event's immediate e-mail is done

Example:
    >>> import tempfile, pathlib
    >>> store = StateStore(pathlib.Path(tempfile.mkdtemp()))
    >>> store.add_immediate(PendingEvent("e1", "events/cam/line_cross", "{}", 0.0))
    True
    >>> [job.event_id for job in store.pending_immediate()]
    ['e1']
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from sightline.atomic import read_json, write_json

SENT_MARKER = "sent.json"


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

    def events(self) -> list[PendingEvent]:
        """The events collected so far, oldest first."""
        records = [
            PendingEvent.from_json(read_json(path))
            for path in self.directory.glob("*.json")
            if path.name != SENT_MARKER
        ]
        return sorted(records, key=lambda record: (record.received_at, record.event_id))

    @property
    def sent(self) -> bool:
        """True once the digest of this period is done."""
        return (self.directory / SENT_MARKER).exists()


class StateStore:
    """The notifier's state directory (see the module docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("immediate", "snapshots", "digests", "sent"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    # -- immediate e-mails ------------------------------------------------------------------

    def add_immediate(self, event: PendingEvent) -> bool:
        """Record an e-mail to send; False if it is already pending or done."""
        path = self.root / "immediate" / f"{event.event_id}.json"
        if path.exists() or self.immediate_done(event.event_id):
            return False
        write_json(path, asdict(event))
        return True

    def pending_immediate(self) -> list[PendingEvent]:
        """E-mails still to send, oldest first."""
        records = [
            PendingEvent.from_json(read_json(path))
            for path in (self.root / "immediate").glob("*.json")
        ]
        return sorted(records, key=lambda record: (record.received_at, record.event_id))

    def immediate_done(self, event_id: str) -> bool:
        """True once the immediate e-mail of ``event_id`` was sent, suppressed or refused."""
        return (self.root / "sent" / f"{event_id}.json").exists()

    def finish_immediate(self, event_id: str, rule: str, outcome: str) -> None:
        """Record the outcome first, then drop the pending record."""
        record = {"event_id": event_id, "rule": rule, "outcome": outcome, "at": time.time()}
        write_json(self.root / "sent" / f"{event_id}.json", record)
        (self.root / "immediate" / f"{event_id}.json").unlink(missing_ok=True)

    def sent_since(self, since: float) -> Iterator[dict[str, Any]]:
        """Outcome records written after ``since`` (epoch seconds)."""
        for path in (self.root / "sent").glob("*.json"):
            if path.stat().st_mtime >= since:
                yield read_json(path)

    # -- snapshots --------------------------------------------------------------------------

    def add_snapshot(self, event_id: str, announcement: str) -> None:
        """Keep the frame-store's announcement (the latest wins)."""
        write_json(self.root / "snapshots" / f"{event_id}.json", {"announcement": announcement})

    def snapshot(self, event_id: str) -> str | None:
        """The announcement of ``event_id``, if it came."""
        path = self.root / "snapshots" / f"{event_id}.json"
        return str(read_json(path)["announcement"]) if path.exists() else None

    # -- digests ----------------------------------------------------------------------------

    def add_to_digest(self, name: str, period_start: int, event: PendingEvent) -> bool:
        """Collect ``event`` in a digest period; False if this digest already has it."""
        digest_dir = self.root / "digests" / name
        if any(digest_dir.glob(f"*/{event.event_id}.json")):
            return False
        write_json(digest_dir / str(period_start) / f"{event.event_id}.json", asdict(event))
        return True

    def digest_periods(self) -> list[DigestPeriod]:
        """Every digest period on disk, sent or not, oldest first."""
        periods = [
            DigestPeriod(period_dir.parent.name, int(period_dir.name), period_dir)
            for period_dir in (self.root / "digests").glob("*/*")
            if period_dir.is_dir() and period_dir.name.isdigit()
        ]
        return sorted(periods, key=lambda period: (period.start, period.name))

    def finish_digest(self, period: DigestPeriod, outcome: str, count: int) -> None:
        """Record that the digest of ``period`` is done."""
        record = {"outcome": outcome, "events": count, "at": time.time()}
        write_json(period.directory / SENT_MARKER, record)

    # -- garbage collection -----------------------------------------------------------------

    def remove_older_than(self, cutoff: float) -> int:
        """Delete finished records last written before ``cutoff``; return how many."""
        removed = 0
        for sub in ("sent", "snapshots"):
            for path in (self.root / sub).glob("*.json"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
        for period in self.digest_periods():
            marker = period.directory / SENT_MARKER
            if period.sent and marker.stat().st_mtime < cutoff:
                shutil.rmtree(period.directory, ignore_errors=True)
                removed += 1
        return removed
