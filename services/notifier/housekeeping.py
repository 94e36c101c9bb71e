"""Garbage collection: JSON log files and finished state older than their retention.

Example:
    >>> import tempfile, pathlib
    >>> from sightline.config.notifier import JsonLogConfig
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> keeper = Housekeeping(StateStore(root / "state"),
    ...                       JsonLog(JsonLogConfig(directory=root / "log"), "UTC"), 14)
    >>> keeper.run_if_due(now=0.0)
    True
    >>> keeper.run_if_due(now=60.0)
    False
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from notifier.jsonlog import JsonLog
from notifier.state import StateStore

log = logging.getLogger(__name__)

DAY_S = 86400.0
EVERY_S = 3600.0


class Housekeeping:
    """Deletes what is past its retention, at most once an hour."""

    def __init__(self, store: StateStore, json_log: JsonLog, retention_days: int) -> None:
        self.store = store
        self.json_log = json_log
        self.retention_days = retention_days
        self.last_run: float | None = None

    def run_if_due(self, now: float) -> bool:
        """Collect garbage if an hour passed since the last time; True if it ran."""
        if self.last_run is not None and now < self.last_run + EVERY_S:
            return False
        self.last_run = now
        try:
            removed = self.store.remove_older_than(now - self.retention_days * DAY_S)
            removed_logs = self.json_log.remove_expired(datetime.fromtimestamp(now, UTC))
        except OSError as exc:  # a read-only disk: nothing to collect until it is back
            log.warning("housekeeping skipped, retried in an hour: %s", exc)
            return True
        if removed or removed_logs:
            log.info(
                "housekeeping: removed %d state record(s), %d log file(s)",
                removed,
                len(removed_logs),
            )
        return True
