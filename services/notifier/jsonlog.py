"""The JSON log: one line per event, in a file per day, written before the ack.

An event goes to the file of its own day, so a redelivery finds it there. Housekeeping goes
by the wall clock: a file is deleted when nothing was written to it for ``retention_days``,
whatever day its name says, so events stamped 1970 (an edge before NTP) are kept like any
other. A write that fails (disk full) is undone, so the retry starts on a clean line.

Example:
    >>> import tempfile, pathlib
    >>> from sightline.config.notifier import JsonLogConfig
    >>> log = JsonLog(JsonLogConfig(directory=pathlib.Path(tempfile.mkdtemp())), "UTC")
    >>> log.path_for(datetime(2025, 1, 15, 23, 0, tzinfo=UTC)).name
    'events-2025-01-15.jsonl'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sightline.atomic import sync_directory
from sightline.config.notifier import JsonLogConfig
from sightline.messages import Event
from sightline.timestamps import in_zone

log = logging.getLogger(__name__)

SINGLE_FILE = "events.jsonl"
_DAILY = re.compile(r"^events-(\d{4}-\d{2}-\d{2})\.jsonl$")


class JsonLog:
    """Appends events as JSON lines; a redelivered ``event_id`` is not written twice.

    The ids already in a file are read the first time that file is written to, so the
    idempotence survives a restart.
    """

    def __init__(self, config: JsonLogConfig, timezone: str) -> None:
        self.config = config
        self.zone = ZoneInfo(timezone)
        self._ids: dict[Path, set[str]] = {}
        self._lock = threading.Lock()  # the MQTT worker appends, housekeeping deletes
        config.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, when: datetime) -> Path:
        """The file an event at ``when`` goes to (its day in the configured zone)."""
        if not self.config.per_day:
            return self.config.directory / SINGLE_FILE
        day = in_zone(when, self.zone).date().isoformat()
        return self.config.directory / f"events-{day}.jsonl"

    def append(self, event: Event) -> bool:
        """Append ``event`` (flushed and fsynced); False if its id was already there."""
        path = self.path_for(event.timestamp)
        line = event.model_dump_json(by_alias=True) + "\n"
        with self._lock:
            ids = self._known_ids(path)
            if event.event_id in ids:
                return False
            _append_durably(path, line.encode())
            ids.add(event.event_id)
        return True

    def _known_ids(self, path: Path) -> set[str]:
        if path not in self._ids:
            _end_with_newline(path)
            self._ids[path] = set(_read_ids(path))
        return self._ids[path]

    def remove_expired(self, now: datetime | None = None) -> list[Path]:
        """Delete daily files last written before ``retention_days``; return what was deleted.

        The wall clock decides (the file's modification time), never the day in its name.
        """
        today = (now or datetime.now(UTC)).astimezone(self.zone).date()
        oldest_kept = today - timedelta(days=self.config.retention_days - 1)
        removed: list[Path] = []
        with self._lock:
            for path in sorted(self.config.directory.glob("events-*.jsonl")):
                if _day_of(path) is not None and self._written_on(path) < oldest_kept:
                    path.unlink(missing_ok=True)
                    self._ids.pop(path, None)
                    removed.append(path)
        if removed:
            log.info("json log: removed %d expired file(s)", len(removed))
        return removed

    def _written_on(self, path: Path) -> date:
        return datetime.fromtimestamp(path.stat().st_mtime, self.zone).date()


def _append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` and fsync; on failure cut the file back, so no half line stays."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
            if size == 0:  # a new file: its directory entry must survive a power cut too
                sync_directory(path.parent)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _day_of(path: Path) -> date | None:
    match = _DAILY.match(path.name)
    return date.fromisoformat(match.group(1)) if match else None


def _end_with_newline(path: Path) -> None:
    """After a crash mid-line, start the next line on a line of its own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as file:
        file.seek(-1, os.SEEK_END)
        if file.read(1) != b"\n":
            file.write(b"\n")
            file.flush()
            os.fsync(file.fileno())


def _read_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    ids: list[str] = []
    with path.open(encoding="utf-8") as file:
        for line in file:
            try:
                ids.append(str(json.loads(line)["event_id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a crash: ignored, the event is redelivered
    return ids
