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
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from event_engine.tracks import CameraState
from sightline.atomic import write_bytes

log = logging.getLogger(__name__)

_STATES = TypeAdapter(dict[str, CameraState])
_STATE = TypeAdapter(CameraState)
_KEY = TypeAdapter(str)


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

    @staticmethod
    def encode_one(state: CameraState) -> bytes:
        """One camera's state as it stands in :meth:`encode`'s document."""
        return _STATE.dump_json(state)

    @staticmethod
    def join(encoded: Mapping[str, bytes]) -> bytes:
        """The document :meth:`encode` makes, from each camera's :meth:`encode_one`: the
        same bytes, so a save need not encode again the cameras that did not change.

        >>> state = CameraState(last_frame=7)
        >>> parts = {"a": Checkpoint.encode_one(state), "b": Checkpoint.encode_one(state)}
        >>> Checkpoint.join(parts) == Checkpoint.encode({"a": state, "b": state})
        True
        """
        return b"{%s}" % b",".join(_KEY.dump_json(k) + b":" + v for k, v in encoded.items())

    def write(self, data: bytes) -> None:
        """Store encoded states durably (slow: fsync; keep it outside the engine's lock)."""
        write_bytes(self.path, data)

    def load(self) -> dict[str, CameraState]:
        """The saved states; empty when there is no file, or when it holds no checkpoint:
        then it is set aside as ``<name>.bad`` (logged) and the engine starts fresh.

        Raises:
            OSError: the disk refused to read the file. Starting fresh would overwrite it
                with the first save, so the caller must not (the service exits, for its
                supervisor to try again).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            return _STATES.validate_json(data)
        except ValidationError as exc:
            bad = self.path.with_name(self.path.name + ".bad")
            try:
                os.replace(self.path, bad)
                kept = f"set aside as {bad}"
            except OSError as error:
                kept = f"could not be set aside ({error.strerror or error})"
            log.error("state file %s unreadable, %s; starting fresh: %s", self.path, kept, exc)
            return {}
