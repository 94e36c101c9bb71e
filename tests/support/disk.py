"""Real disk conditions for the tests: a small tmpfs, filled to the last byte, freed, read-only.

The tests run as root (``mount`` needs it; :data:`NEEDS_ROOT` skips them otherwise); every
mount is undone when the context ends.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FILLER = "filler"
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextmanager
def tmpfs(
    directory: Path, size: str = "4m", read_only: bool = False, inodes: int | None = None
) -> Iterator[Path]:
    """``directory`` as a fresh tmpfs of ``size`` (and at most ``inodes`` files, the root
    included); unmounted at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    options += f",nr_inodes={inodes}" if inodes is not None else ""
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def remount(directory: Path, *, read_only: bool) -> None:
    """Make the tmpfs at ``directory`` read-only, or writable again."""
    mode = "ro" if read_only else "rw"
    subprocess.run(["mount", "-o", f"remount,{mode}", str(directory)], check=True)


def fill(directory: Path) -> Path:
    """Write a file under ``directory`` until the disk is full to the last byte; return it."""
    filler = directory / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = 1 << 20
        while size >= 1:
            try:
                os.write(fd, b"\1" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)
    return filler


def fill_inodes(directory: Path) -> Path:
    """Create empty files in ``directory/fill`` until no file can be created; return it."""
    folder = directory / "fill"
    folder.mkdir()
    for n in range(100_000):
        try:
            (folder / str(n)).touch()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return folder
    raise AssertionError(f"{directory} never ran out of inodes")


def free_bytes(directory: Path) -> int:
    """What is left on the disk of ``directory``."""
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize
