"""Engine replicas: which replica processes which camera, and where a camera's state lives.

Cameras are partitioned over ``count`` replicas by a rendezvous hash of the camera id: each
camera has exactly one owner for a given count, every replica computes the same owner
without talking to the others, and when the count changes only the cameras of the replica
that comes or goes move (the rest keep their owner).

A camera's state lives in its own file in a directory every replica reaches (a
ReadWriteMany volume in k3s, see docs/scaling.md): ``<camera>.json`` holds the state and
the replica that holds the camera. A replica *claims* a camera on its first envelope: if
the file names another replica that has not let go of it yet (a rescale in which the old
owner still runs), the envelope waits (unacknowledged: the broker keeps the rest queued)
until that owner stops (it releases every camera it holds on a clean stop) or its file has
gone untouched for ``takeover_after_s`` (it crashed and did not come back; a holder touches
its files every :data:`REFRESH_EVERY_S`, idle cameras too).

Example:
    >>> [owner(f"cam{n}", 3) for n in range(6)]
    [0, 0, 1, 1, 2, 0]
    >>> moved = [n for n in range(100) if owner(f"cam{n}", 3) != owner(f"cam{n}", 2)]
    >>> all(owner(f"cam{n}", 3) == 2 for n in moved)  # only replica 2's cameras move
    True
    >>> Replicas.from_environment({"SIGHTLINE_REPLICAS__COUNT": "3", "HOSTNAME": "engine-2"})
    Replicas(count=3, index=2, checkpoint_dir=None)
    >>> Replicas.from_environment({"HOSTNAME": "web-7"})  # one engine: no ordinal needed
    Replicas(count=1, index=0, checkpoint_dir=None)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from event_engine.engine import Engine
from event_engine.tracks import CameraState
from sightline.atomic import sync_directory
from sightline.errors import RetryLater

log = logging.getLogger(__name__)

TAKEOVER_AFTER_S = 120.0
"""A camera whose file names another replica and has not changed for this long is taken
over anyway: that replica crashed and did not come back (a scale-down while it was dead)."""
REFRESH_EVERY_S = TAKEOVER_AFTER_S / 4
"""How often a replica touches the files of the cameras it holds (idle ones included)."""
CLAIM_POLL_S = 0.5
"""How often a replica that waits for a camera looks whether it was let go of."""
_ORDINAL = re.compile(r"-(\d+)$")


def owner(camera: str, count: int) -> int:
    """The index of the replica that processes ``camera`` (rendezvous hash over ``count``)."""

    def weight(index: int) -> bytes:
        return hashlib.blake2b(f"{index}\x1f{camera}".encode(), digest_size=8).digest()

    return max(range(count), key=weight)


class ReplicaError(ValueError):
    """The replica settings do not make sense (the message names the variable)."""


@dataclass(frozen=True)
class Replicas:
    """This process's place among the engine's replicas.

    Attributes:
        count: replicas in all (``SIGHTLINE_REPLICAS__COUNT``, default 1: no partitioning).
        index: this one's, 0-based (``SIGHTLINE_REPLICAS__INDEX``, else the ordinal a k3s
            StatefulSet puts at the end of the pod name, ``HOSTNAME=sightline-engine-2``).
        checkpoint_dir: the directory of per-camera checkpoints shared by all replicas
            (``SIGHTLINE_REPLICAS__CHECKPOINT_DIR``; None: one file in the state dir).
    """

    count: int = 1
    index: int = 0
    checkpoint_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Replicas:
        """The replica settings of this process.

        Raises:
            ReplicaError: a count or index that is not a number, or out of range.
        """
        count = _number(environ, "SIGHTLINE_REPLICAS__COUNT", "1")
        index_text = environ.get("SIGHTLINE_REPLICAS__INDEX")
        if index_text is None and count > 1:
            match = _ORDINAL.search(environ.get("HOSTNAME", ""))
            index_text = match.group(1) if match else "0"
            if match is None:
                raise ReplicaError(
                    "SIGHTLINE_REPLICAS__INDEX: not set, and HOSTNAME "
                    f"({environ.get('HOSTNAME', '')!r}) ends in no StatefulSet ordinal"
                )
        index = _number({"i": index_text or "0"}, "i", "0", name="SIGHTLINE_REPLICAS__INDEX")
        if count < 1:
            raise ReplicaError(f"SIGHTLINE_REPLICAS__COUNT: {count} is not at least 1")
        if not 0 <= index < count:
            raise ReplicaError(
                f"SIGHTLINE_REPLICAS__INDEX: {index} is not in 0..{count - 1} "
                f"(SIGHTLINE_REPLICAS__COUNT={count})"
            )
        shared = environ.get("SIGHTLINE_REPLICAS__CHECKPOINT_DIR")
        return cls(count, index, Path(shared) if shared else None)

    def owns(self, camera: str) -> bool:
        """Whether this replica processes ``camera``."""
        return self.count == 1 or owner(camera, self.count) == self.index


def _number(environ: Mapping[str, str], key: str, default: str, name: str | None = None) -> int:
    text = environ.get(key, default)
    try:
        return int(text)
    except ValueError:
        raise ReplicaError(f"{name or key}: {text!r} is not a whole number") from None


@dataclass
class CameraFile:
    """What ``<camera>.json`` holds."""

    holder: str | None
    """The replica (instance name) that processes the camera; None: released."""
    state: CameraState


_FILE = TypeAdapter(CameraFile)


class CameraFiles:
    """One checkpoint file per camera in ``directory``, written as replica ``me``."""

    def __init__(self, directory: Path, me: str) -> None:
        self.directory = directory
        self.me = me

    @property
    def where(self) -> str:
        """The directory."""
        return str(self.directory)

    def path(self, camera: str) -> Path:
        """The file of ``camera``."""
        return self.directory / f"{camera}.json"

    def read(self, camera: str) -> tuple[CameraFile | None, float]:
        """The file of ``camera`` (None: none yet, or unreadable: logged) and its age in s."""
        path = self.path(camera)
        try:
            data = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None, 0.0
        try:
            return _FILE.validate_json(data), age
        except ValidationError as exc:
            log.error("checkpoint %s unreadable, starting the camera fresh: %s", path, exc)
            return None, age

    def snapshot(
        self, states: Mapping[str, CameraState], changed: Collection[str]
    ) -> dict[str, bytes]:
        """The files of the ``changed`` cameras, held by this replica."""
        return {
            camera: _FILE.dump_json(CameraFile(self.me, states[camera]))
            for camera in changed
            if camera in states
        }

    def write(self, snapshot: dict[str, bytes]) -> None:
        """Write each file atomically (temp, fsync, rename), then fsync the directory once."""
        if not snapshot:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for camera, data in snapshot.items():
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{camera}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.path(camera))
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        sync_directory(self.directory)

    def release(self, states: Mapping[str, CameraState], cameras: Collection[str]) -> None:
        """Write ``cameras`` as held by no one: whoever owns them next may take them."""
        self.write(
            {
                camera: _FILE.dump_json(CameraFile(None, states[camera]))
                for camera in cameras
                if camera in states
            }
        )


class Claims:
    """The handler's ``claim``: takes an owned camera on its first envelope.

    Args:
        replicas: which cameras this replica owns.
        files: the shared per-camera checkpoints.
        engine: gets each claimed camera's state.
        takeover_after_s: see :data:`TAKEOVER_AFTER_S`.
    """

    def __init__(
        self,
        replicas: Replicas,
        files: CameraFiles,
        engine: Engine,
        takeover_after_s: float = TAKEOVER_AFTER_S,
    ) -> None:
        self.replicas = replicas
        self.files = files
        self.engine = engine
        self.takeover_after_s = takeover_after_s
        self.held: set[str] = set()
        self.stopping = threading.Event()
        """Set when the service stops: a claim still waiting gives up (``RetryLater``)."""
        self.legacy: dict[str, CameraState] = {}
        """States of a single engine's whole-file checkpoint, for cameras with no file yet."""

    def __call__(self, camera: str) -> bool:
        """Whether this replica processes ``camera``, taking it first if it has not (and
        waiting while another replica still holds it, see the module's docstring).

        Raises:
            RetryLater: the service is stopping while another replica still holds it.
        """
        if camera in self.held:
            return True
        if not self.replicas.owns(camera):
            return False
        saved, holder = self._wait_for_release(camera)
        state = saved.state if saved is not None else self.legacy.get(camera, CameraState())
        with self.engine.lock:
            self.engine.states[camera] = state
        self.files.write(self.files.snapshot({camera: state}, [camera]))
        self.held.add(camera)
        log.info(
            "processing camera %s%s",
            camera,
            f" (taken from replica {holder})" if holder else "",
            extra={"camera_id": camera},
        )
        return True

    def _wait_for_release(self, camera: str) -> tuple[CameraFile | None, str | None]:
        said = False
        while True:
            saved, age = self.files.read(camera)
            holder = saved.holder if saved is not None else None
            if holder in (None, self.files.me):
                return saved, None
            if age >= self.takeover_after_s:
                log.warning(
                    "taking over camera %s from replica %s (its checkpoint is %.0f s old)",
                    camera,
                    holder,
                    age,
                    extra={"camera_id": camera, "holder": holder},
                )
                return saved, holder
            if not said:
                log.info(
                    "camera %s is still held by replica %s: waiting until it lets go",
                    camera,
                    holder,
                    extra={"camera_id": camera, "holder": holder},
                )
                said = True
            if self.stopping.wait(CLAIM_POLL_S):
                raise RetryLater(f"camera {camera} is still held by replica {holder}")

    def refresh(self) -> None:
        """Touch the file of every held camera, so that no other replica takes an idle one
        over (see :data:`TAKEOVER_AFTER_S`); call well within that period."""
        for camera in list(self.held):
            with contextlib.suppress(OSError):  # a failing disk is the checkpoint's to report
                os.utime(self.files.path(camera))

    def release(self) -> None:
        """Let go of every held camera (a clean stop, after the last checkpoint)."""
        with self.engine.lock:
            states = {camera: self.engine.states[camera] for camera in self.held}
        self.files.release(states, self.held)
        self.held.clear()
