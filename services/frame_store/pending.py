"""Events waiting for their frame, one file each, so that a crash loses none of them.

Each file is ``<event_id>.json`` = ``{"deadline": <epoch s>, "event": {...}}``, written
atomically before the event handler returns; :meth:`PendingEvents.load` reads them back at
start.
"""

from __future__ import annotations

import json
import logging
import threading
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
