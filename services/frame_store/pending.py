"""Events waiting for their frame, and announcements waiting to be sent and confirmed, one
file each, so that a crash loses none of them.

Each file of :class:`PendingEvents` is ``<event_id>.json`` = ``{"deadline": <epoch s>,
"event": {...}}``, written atomically before the event handler returns;
:meth:`PendingEvents.load` reads them back at start.

Each file of :class:`PendingAnnouncements` is ``<event_id>.json`` = ``[{"topic": ...,
"payload": <base64>, "retain": ...}, ...]``: what announces the event, written by the handler
before its message is acknowledged and removed once the broker has confirmed it all and the
ledger holds the event. Only the ids are kept in memory.

Example:
    >>> import tempfile, pathlib
    >>> outbox = PendingAnnouncements(pathlib.Path(tempfile.mkdtemp()))
    >>> outbox.add("e1", [Outgoing("events/cam/snapshot", b"{}")])
    True
    >>> "e1" in outbox, outbox.ids(), outbox.read("e1")[0].payload
    (True, ['e1'], b'{}')
    >>> outbox.remove("e1"); len(outbox)
    0
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sightline.atomic import write_bytes
from sightline.errors import MessageError
from sightline.messages import Event, decode_event, encode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    """An event and when (wall clock, seconds since the epoch) its frame stops being awaited."""

    event: Event
    deadline: float

    @classmethod
    def from_json(cls, data: bytes) -> PendingEvent:
        """Read what :meth:`to_json` wrote."""
        record = json.loads(data)
        return cls(decode_event(json.dumps(record["event"])), float(record["deadline"]))

    def to_json(self) -> bytes:
        """The record as stored: ``{"deadline": ..., "event": {...}}``."""
        event = json.loads(encode(self.event))
        return json.dumps({"deadline": self.deadline, "event": event}).encode()


class PendingEvents:
    """The pending events of the service, under ``directory``, one ``<event_id>.json`` each."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._events: dict[str, PendingEvent] = {}

    def load(self) -> int:
        """Reload what a previous run left; unreadable files are set aside as ``.bad``."""
        with self._lock:
            for path in sorted(self.directory.glob("*.json")):
                try:
                    pending = PendingEvent.from_json(path.read_bytes())
                except (OSError, ValueError, KeyError, MessageError) as exc:
                    log.error("unreadable pending event %s set aside: %s", path.name, exc)
                    path.rename(path.with_suffix(".bad"))
                    continue
                self._events[pending.event.event_id] = pending
            return len(self._events)

    def add(self, pending: PendingEvent) -> bool:
        """Persist ``pending`` (durably, before returning); False if it was already there."""
        with self._lock:
            if pending.event.event_id in self._events:
                return False
            write_bytes(self._path(pending.event.event_id), pending.to_json())
            self._events[pending.event.event_id] = pending
            return True

    def remove(self, event_id: str) -> None:
        """Forget the event once it is resolved."""
        with self._lock:
            self._events.pop(event_id, None)
            self._path(event_id).unlink(missing_ok=True)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._events

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def of_camera(self, camera_id: str) -> list[PendingEvent]:
        """The camera's pending events, oldest deadline first."""
        with self._lock:
            found = [p for p in self._events.values() if p.event.camera_id == camera_id]
        return sorted(found, key=lambda p: p.deadline)

    def expired(self, now: float) -> list[PendingEvent]:
        """The pending events whose deadline has passed."""
        with self._lock:
            found = [p for p in self._events.values() if p.deadline <= now]
        return sorted(found, key=lambda p: p.deadline)

    def _path(self, event_id: str) -> Path:
        return self.directory / f"{event_id}.json"


@dataclass(frozen=True)
class Outgoing:
    """One publish of an announcement."""

    topic: str
    payload: bytes
    retain: bool = False


class PendingAnnouncements:
    """Announcements not yet confirmed and recorded, under ``directory``, in order of arrival."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._ids: dict[str, None] = {}

    def load(self) -> int:
        """Reload the ids a previous run left (oldest first)."""
        with self._lock:
            paths = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
            for path in paths:
                self._ids[path.stem] = None
            return len(self._ids)

    def add(self, event_id: str, publishes: Sequence[Outgoing]) -> bool:
        """Persist what announces ``event_id`` (durably); False if it was already there."""
        record = [
            {
                "topic": p.topic,
                "payload": base64.b64encode(p.payload).decode(),
                "retain": p.retain,
            }
            for p in publishes
        ]
        with self._lock:
            if event_id in self._ids:
                return False
            write_bytes(self._path(event_id), json.dumps(record).encode())
            self._ids[event_id] = None
            return True

    def read(self, event_id: str) -> list[Outgoing]:
        """What announces ``event_id``, as :meth:`add` stored it."""
        record = json.loads(self._path(event_id).read_bytes())
        return [
            Outgoing(str(p["topic"]), base64.b64decode(p["payload"]), bool(p["retain"]))
            for p in record
        ]

    def set_aside(self, event_id: str) -> None:
        """Rename an unreadable announcement to ``<event_id>.bad`` (kept for a look, never
        sent), as :meth:`PendingEvents.load` does with an unreadable pending event."""
        with self._lock:
            self._ids.pop(event_id, None)
            path = self._path(event_id)
            if path.exists():
                path.rename(path.with_suffix(".bad"))

    def remove(self, event_id: str) -> None:
        """Forget the announcement once it is confirmed and recorded (or refused)."""
        with self._lock:
            self._path(event_id).unlink(missing_ok=True)
            self._ids.pop(event_id, None)

    def ids(self) -> list[str]:
        """The event ids waiting, oldest first."""
        with self._lock:
            return list(self._ids)

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def _path(self, event_id: str) -> Path:
        return self.directory / f"{event_id}.json"
