"""Write files so that a crash leaves either the old content or the new, never half.

State that must survive a restart (digest contents, zone occupancy, pending snapshots) is
written with these: temp file in the same directory, fsync, rename, fsync the directory.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a" / "state.json"
    >>> write_json(path, {"sent": ["digest-1"]})
    >>> read_json(path)
    {'sent': ['digest-1']}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` atomically (keys sorted, so output is stable)."""
    write_bytes(path, json.dumps(value, sort_keys=True).encode())


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (FileNotFoundError when there is none)."""
    return json.loads(path.read_bytes())


def sync_directory(directory: Path) -> None:
    """fsync a directory, so a rename or a new file in it survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
