"""Structured logs: one JSON object per line, with the service and instance on every line.

Anything passed as ``extra={...}`` becomes a field (``camera_id``, ``topic``, ``reason``...).

Example:
    >>> import logging
    >>> record = logging.LogRecord("x", logging.INFO, "f", 1, "hello %s", ("world",), None)
    >>> record.camera_id = "driveway"
    >>> line = JsonFormatter(service="event-engine", instance="main").format(record)
    >>> '"msg": "hello world"' in line and '"camera_id": "driveway"' in line
    True
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from sightline.timestamps import format_timestamp

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": format_timestamp(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "service": self.service,
            "instance": self.instance,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, instance: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send every log line of the process to stderr, as JSON (or text for a terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service, instance))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("paho").setLevel(max(logging.INFO, logging.getLevelName(level)))
