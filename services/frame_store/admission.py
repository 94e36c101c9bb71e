"""What the frame-store lets in: ids that can name a file, paths under its roots, and a
bounded set of cameras (each costs a frame ring and a retained Home Assistant entity).

Example:
    >>> checked_name("driveway", "camera_id")
    'driveway'
    >>> checked_name("..", "camera_id")
    Traceback (most recent call last):
    ...
    sightline.errors.MessageError: camera_id '..' cannot name a file: must start with a letter or a digit
    >>> gate = CameraGate(allowed=None, max_cameras=1)
    >>> gate.admit("driveway", "camera_id"), gate.admit("driveway", "camera_id")
    (True, False)
    >>> gate.admit("porch", "source.camera_id")
    Traceback (most recent call last):
    ...
    sightline.errors.MessageError: source.camera_id 'porch': this frame-store already serves max_cameras=1 cameras
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from sightline.errors import MessageError, TopicError
from sightline.ids import file_safe


def checked_name(value: str, field: str) -> str:
    """``value`` if it is safe as a topic level, a file name and an S3 key part.

    The shared rule, :func:`sightline.ids.file_safe` (the id rule with the event id
    length: no ``/``, ``+``, ``#``, white space, control characters, leading ``.``).

    Raises:
        MessageError: naming ``field`` and the problem.
    """
    try:
        return file_safe(value, field)
    except TopicError as exc:
        raise MessageError(str(exc)) from None


def inside(root: Path, *parts: str) -> bool:
    """Whether ``root/parts...`` resolves to a path strictly under ``root``.

    >>> inside(Path("/srv/snapshots"), "driveway", "e1.jpg"), inside(Path("/srv/x"), "..", "y")
    (True, False)
    """
    base = root.resolve()
    target = base.joinpath(*parts).resolve()
    return target != base and target.is_relative_to(base)


class CameraGate:
    """The cameras served: those ``allowed``, or else the first ``max_cameras`` seen.

    Args:
        allowed: the allow-list, or None for any camera.
        max_cameras: how many cameras are served at most.
    """

    def __init__(self, allowed: Iterable[str] | None, max_cameras: int) -> None:
        self.allowed = None if allowed is None else frozenset(allowed)
        self.max_cameras = max_cameras
        self._served: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, camera_id: str, field: str) -> bool:
        """True the first time ``camera_id`` is served, False after.

        Raises:
            MessageError: the camera is not allowed, or the bound is reached.
        """
        with self._lock:
            if camera_id in self._served:
                return False
            if self.allowed is not None and camera_id not in self.allowed:
                raise MessageError(
                    f"{field} {camera_id!r} is not one of frame_store.cameras "
                    f"({', '.join(sorted(self.allowed))})"
                )
            if self.allowed is None and len(self._served) >= self.max_cameras:
                raise MessageError(
                    f"{field} {camera_id!r}: this frame-store already serves "
                    f"max_cameras={self.max_cameras} cameras"
                )
            self._served.add(camera_id)
            return True

    @property
    def served(self) -> list[str]:
        """The cameras served so far, sorted."""
        with self._lock:
            return sorted(self._served)
