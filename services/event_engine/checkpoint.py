"""The engine's state on disk: one JSON file, written atomically (temp + fsync + rename).

Example:
    >>> import tempfile, pathlib
    >>> store = Checkpoint(pathlib.Path(tempfile.mkdtemp()) / "state.json")
    >>> store.save({"cam": CameraState(last_frame=7)})
    >>> store.load()["cam"].last_frame
    7
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from event_engine.tracks import CameraState
from sightline.atomic import write_bytes

log = logging.getLogger(__name__)

_STATES = TypeAdapter(dict[str, CameraState])


class Checkpoint:
    """Saves and loads every camera's :class:`CameraState`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, states: dict[str, CameraState]) -> None:
        """Write ``states`` so that a crash leaves either the old file or the new one."""
        self.write(self.encode(states))

    @staticmethod
    def encode(states: dict[str, CameraState]) -> bytes:
        """``states`` as the bytes :meth:`write` stores (quick: take it under the lock)."""
        return _STATES.dump_json(states)

    def write(self, data: bytes) -> None:
        """Store encoded states durably (slow: fsync; keep it outside the engine's lock)."""
        write_bytes(self.path, data)

    def load(self) -> dict[str, CameraState]:
        """The saved states; empty when there is no file or it cannot be read (logged)."""
        if not self.path.exists():
            return {}
        try:
            return _STATES.validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as exc:
            log.error("state file %s unreadable, starting fresh: %s", self.path, exc)
            return {}
