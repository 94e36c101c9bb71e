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
        write_bytes(self.path, _STATES.dump_json(states))

    def load(self) -> dict[str, CameraState]:
        """The saved states; empty when there is no file or it cannot be read (logged)."""
        if not self.path.exists():
            return {}
        try:
            return _STATES.validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as exc:
            log.error("state file %s unreadable, starting fresh: %s", self.path, exc)
            return {}
