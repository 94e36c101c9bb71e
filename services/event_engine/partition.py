"""Engine replicas: which replica processes which camera, and where a camera's state lives.

Cameras are partitioned over ``count`` replicas by a rendezvous hash of the camera id: each
camera has exactly one owner for a given count, every replica computes the same owner
without talking to the others, and when the count changes only the cameras of the replica
that comes or goes move (the rest keep their owner).

A camera's state lives in its own file in a directory every replica reaches (a
ReadWriteMany volume in k3s, see docs/scaling.md): ``<camera>.json`` holds the state and
the replica that holds the camera. A replica *claims* a camera on its first envelope: if
the file names another replica that has not let go of it yet (a rescale in which the old
owner still runs), that camera waits, and only that one: its envelopes are appended to a
spool file in the shared directory and acknowledged once fsynced (with the next
checkpoint), while the replica's other cameras go on. The camera is taken when its owner
stops (it releases every camera it holds on a clean stop) or when its file has gone
untouched for ``takeover_after_s`` (it crashed and did not come back; a holder touches its
files every :data:`REFRESH_EVERY_S`, idle cameras too); its spooled envelopes then run
first, in order (frames the old owner had processed already are recognised and skipped).

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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import TypeAdapter, ValidationError

from event_engine.engine import Engine
from event_engine.tracks import CameraState
from sightline.atomic import sync_directory
from sightline.errors import RetryLater
from sightline.mqtt import Completion

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
_LENGTH = 4
"""Bytes of the length before each envelope in a spool file (big-endian)."""
OPEN_AT_ONCE = 256
"""Checkpoint files written (open, then fsynced) together at most; more go in rounds."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Spool:
    """The envelopes of a camera that this replica took while another replica still held
    the camera, in arrival order: each a 4-byte length, then the payload, appended to one
    file. :meth:`sync` makes what was appended durable (the acknowledgements wait for it).

    >>> import tempfile
    >>> spool = Spool(Path(tempfile.mkdtemp()) / "cam" / "0001-r1.spool")
    >>> spool.append(b'{"a": 1}'); spool.append(b"{}"); spool.sync(); spool.close()
    >>> read_spool(spool.path)
    [b'{"a": 1}', b'{}']
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._unsynced = False
        self._lock = threading.Lock()

    def append(self, payload: bytes) -> None:
        """Append one envelope (durable only after the next :meth:`sync`)."""
        with self._lock:
            if self._fd is None:
                self._open()
            assert self._fd is not None
            _write_all(self._fd, len(payload).to_bytes(_LENGTH, "big") + payload)
            self._unsynced = True

    def _open(self) -> None:
        folder = self.path.parent
        new = [p for p in (folder.parent, folder) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for directory in [folder, *(p.parent for p in new)]:
            sync_directory(directory)  # the file's (and new folders') names survive a crash

    def sync(self) -> None:
        """fsync what was appended since the last call."""
        with self._lock:
            if self._fd is not None and self._unsynced:
                os.fsync(self._fd)
                self._unsynced = False

    def close(self) -> None:
        """Close the file (what was appended stays; :meth:`sync` first to keep it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_spool(path: Path) -> list[bytes]:
    """The envelopes in a spool file; a record cut short by a crash (never synced, so never
    acknowledged: the broker has it still) is left out."""
    data = path.read_bytes()
    records, at = [], 0
    while at + _LENGTH <= len(data):
        size = int.from_bytes(data[at : at + _LENGTH], "big")
        if at + _LENGTH + size > len(data):
            break
        records.append(data[at + _LENGTH : at + _LENGTH + size])
        at += _LENGTH + size
    return records


class CameraFiles:
    """One checkpoint file per camera in ``directory``, written as replica ``me``.

    The envelopes a replica keeps for a camera it waits for are spooled under
    ``directory/waiting/<camera>/`` (see :class:`Claims`): whoever takes the camera next
    runs them first, wherever it runs.
    """

    def __init__(self, directory: Path, me: str) -> None:
        self.directory = directory
        self.me = me
        self.spools: dict[str, Spool] = {}
        """Open spools by camera: each :meth:`write` syncs them first."""
        self.holds: Callable[[str], bool] = lambda camera: True
        """Whether this replica holds a camera: :meth:`snapshot` writes no other camera."""

    @property
    def where(self) -> str:
        """The directory."""
        return str(self.directory)

    def path(self, camera: str) -> Path:
        """The file of ``camera``."""
        return self.directory / f"{camera}.json"

    def spool_dir(self, camera: str) -> Path:
        """Where the envelopes kept for ``camera`` while it was held elsewhere are spooled."""
        return self.directory / "waiting" / camera

    def read(self, camera: str) -> tuple[CameraFile | None, float]:
        """The file of ``camera`` (None: none yet, or not a checkpoint: logged) and its age
        in s.

        Raises:
            RetryLater: the disk refused to read it (taking the camera fresh would lose
                its state, and the next write would overwrite it): the envelope waits,
                unacknowledged, and is tried again.
        """
        path = self.path(camera)
        try:
            data = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None, 0.0
        except OSError as exc:
            raise RetryLater(
                f"cannot read the checkpoint {path} of camera {camera} "
                f"({exc.strerror or exc}); its envelopes wait until it can be read"
            ) from None
        try:
            return _FILE.validate_json(data), age
        except ValidationError as exc:
            log.error("checkpoint %s unreadable, starting the camera fresh: %s", path, exc)
            return None, age

    def snapshot(
        self, states: Mapping[str, CameraState], changed: Collection[str]
    ) -> dict[str, bytes]:
        """The files of the ``changed`` cameras this replica holds."""
        return {
            camera: _FILE.dump_json(CameraFile(self.me, states[camera]))
            for camera in changed
            if camera in states and self.holds(camera)
        }

    def write(self, snapshot: dict[str, bytes]) -> None:
        """Make the open spools durable; then write the files: each to a temp file, all
        fsynced together, renamed over the old ones, and the directory fsynced once.

        A crash leaves each camera's file either old or new, never half; what is
        acknowledged after this returns is on disk.
        """
        for spool in list(self.spools.values()):
            spool.sync()
        if not snapshot:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        items = list(snapshot.items())
        for start in range(0, len(items), OPEN_AT_ONCE):
            self._write_round(items[start : start + OPEN_AT_ONCE])
        sync_directory(self.directory)

    def _write_round(self, items: list[tuple[str, bytes]]) -> None:
        temps: list[tuple[str, int, str]] = []
        renamed = 0
        try:
            for camera, data in items:
                fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{camera}.", suffix=".tmp")
                temps.append((camera, fd, temp))
                _write_all(fd, data)
            for _, fd, _ in temps:
                os.fsync(fd)
            for camera, _, temp in temps:
                os.replace(temp, self.path(camera))
                renamed += 1
        finally:
            for index, (_, fd, temp) in enumerate(temps):
                os.close(fd)
                if index >= renamed:
                    Path(temp).unlink(missing_ok=True)

    def release(self, states: Mapping[str, CameraState], cameras: Collection[str]) -> None:
        """Write ``cameras`` as held by no one: whoever owns them next may take them."""
        self.write(
            {
                camera: _FILE.dump_json(CameraFile(None, states[camera]))
                for camera in cameras
                if camera in states
            }
        )


class ReplicaMetrics:
    """What a replica's waits look like to Prometheus (in the service's registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.waiting = Gauge(
            "sightline_engine_cameras_waiting",
            "Cameras this replica owns that another replica still holds (a rescale in "
            "progress; their envelopes are kept until it lets go)",
            registry=registry,
        )
        self.kept = Counter(
            "sightline_engine_envelopes_kept",
            "Envelopes kept on disk for a camera another replica still held",
            registry=registry,
        )


@dataclass
class _Waiting:
    """A camera this replica owns while another replica still holds it."""

    holder: str
    spool: Spool
    kept: int = 0
    """Envelopes spooled."""
    checked: float = field(default_factory=time.monotonic)
    """When its file was last read (monotonic)."""
    asked: bool = False
    """A check is queued on the handler thread (see :meth:`Claims.due_checks`)."""


Replay = Callable[[str, bytes], list[Completion]]
"""``replay(camera, envelope)``: run a spooled envelope through the handler; what its
acknowledgement would have waited for (its checkpoint, its events' publishes)."""


class Claims:
    """Takes each owned camera on its first envelope; keeps, per camera, the envelopes of
    one still held by another replica until it is let go of (see the module's docstring).

    All but :meth:`due_checks` and :meth:`tidy` run on the handler thread.

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
        self.waiting: dict[str, _Waiting] = {}
        self.legacy: dict[str, CameraState] = {}
        """States of a single engine's whole-file checkpoint, for cameras with no file yet."""
        self.replay: Replay = lambda camera, payload: []
        """Runs a spooled envelope once its camera is taken (live: through the handler)."""
        self.durable: Callable[[str], object] = lambda camera: None
        """Called on the handler thread right after an envelope is spooled: live, its
        acknowledgement then waits for the next checkpoint (which syncs the spools)."""
        self.metrics = ReplicaMetrics()
        """Counted here; live, the service's registry's (see :class:`ReplicaMetrics`)."""
        self.on_move: list[Callable[[str], object]] = []
        """Called with each camera taken after waiting for it, or from a crashed replica:
        live, it announces the camera's Home Assistant entities again, as this replica's."""
        self._tidy: list[tuple[list[Completion], list[Path]]] = []
        files.holds = self.held.__contains__

    def __call__(self, camera: str) -> bool:
        """Whether this replica processes ``camera`` now (the handler's ``claim``): held
        already, or taken now (see :meth:`offer`, which keeps the envelopes of a camera
        held elsewhere instead).

        Raises:
            RetryLater: another replica still holds it (live, :meth:`offer` came first and
                kept the envelope instead).
        """
        if camera in self.held:
            return True
        if not self.replicas.owns(camera):
            return False
        if self._try_claim(camera):
            return True
        raise RetryLater(f"camera {camera} is still held by replica {self.waiting[camera].holder}")

    def offer(self, camera: str, payload: bytes | None) -> bool:
        """Before the handler sees an envelope of ``camera`` (``payload`` None: a check
        that :meth:`due_checks` asked for). True when it was taken here: kept in the
        camera's spool because another replica still holds the camera (the caller then
        acknowledges it once :attr:`durable`'s checkpoint holds it), or a check. The
        camera's file is read again at most every :data:`CLAIM_POLL_S` (and on each check).

        When the camera is taken, what was kept for it runs first (:attr:`replay`).
        """
        if camera in self.held or not self.replicas.owns(camera):
            return payload is None
        waiting = self.waiting.get(camera)
        due = waiting is None or time.monotonic() - waiting.checked >= CLAIM_POLL_S
        if payload is None or due:  # a check asked for, a first envelope, or one due
            if waiting is not None and payload is None:
                waiting.asked = False
            if self._try_claim(camera):
                return payload is None
            waiting = self.waiting[camera]
        if payload is None:
            return True
        assert waiting is not None  # not due only while waiting
        waiting.spool.append(payload)
        waiting.kept += 1
        self.metrics.kept.inc()
        self.durable(camera)
        return True

    def due_checks(self) -> list[str]:
        """The waiting cameras whose file is due to be read again (every
        :data:`CLAIM_POLL_S`), each asked once: the caller queues a check
        (``offer(camera, None)``) on the handler thread for each."""
        now = time.monotonic()
        due = []
        for camera, waiting in list(self.waiting.items()):
            if not waiting.asked and now - waiting.checked >= CLAIM_POLL_S:
                waiting.asked = True
                due.append(camera)
        return due

    def _try_claim(self, camera: str) -> bool:
        saved, age = self.files.read(camera)
        holder = saved.holder if saved is not None else None
        if holder == self.files.me:
            holder = None  # this replica's own (it restarted)
        waiting = self.waiting.get(camera)
        if holder is not None and age < self.takeover_after_s:
            if waiting is None:
                name = f"{time.time_ns():020d}-{self.files.me}.spool"
                spool = Spool(self.files.spool_dir(camera) / name)
                self.files.spools[camera] = spool  # each checkpoint syncs it
                self.waiting[camera] = _Waiting(holder, spool)
                self.metrics.waiting.set(len(self.waiting))
                log.info(
                    "camera %s is still held by replica %s: keeping its envelopes until it "
                    "lets go (the other cameras go on)",
                    camera,
                    holder,
                    extra={"camera_id": camera, "holder": holder},
                )
            else:
                waiting.checked = time.monotonic()
            return False
        if holder is not None:
            log.warning(
                "taking over camera %s from replica %s (its checkpoint is %.0f s old)",
                camera,
                holder,
                age,
                extra={"camera_id": camera, "holder": holder},
            )
        state = saved.state if saved is not None else self.legacy.get(camera, CameraState())
        self.held.add(camera)  # (what :meth:`CameraFiles.snapshot` writes)
        try:
            self.files.write(self.files.snapshot({camera: state}, [camera]))
        except OSError as exc:
            self.held.discard(camera)  # not taken: the envelope waits, its spool stays
            raise RetryLater(
                f"cannot write the checkpoint {self.files.path(camera)} to take camera "
                f"{camera} ({exc.strerror or exc}); its envelopes wait until it can be written"
            ) from None
        with self.engine.lock:
            self.engine.states[camera] = state
        if waiting is not None:
            self.waiting.pop(camera)
            self.metrics.waiting.set(len(self.waiting))
            self._close(camera, waiting.spool)
        folder = self.files.spool_dir(camera)
        spools = sorted(folder.glob("*.spool")) if folder.is_dir() else []
        kept = [payload for path in spools for payload in read_spool(path)]
        log.info(
            "processing camera %s%s%s",
            camera,
            f" (taken from replica {holder})" if holder is not None else "",
            f"; first the {len(kept)} envelope(s) kept while waiting" if kept else "",
            extra={"camera_id": camera, "kept": len(kept)},
        )
        if waiting is not None or holder is not None:
            for hook in self.on_move:
                hook(camera)
        try:
            completions = [done for payload in kept for done in self.replay(camera, payload)]
        except BaseException:
            self.held.discard(camera)  # taken again (and its spools run again) next time
            raise
        if spools:  # removed once what they gave is confirmed (oldest spool ran first)
            self._tidy.append((completions, spools))
        return True

    def tidy(self) -> None:
        """Remove the spools whose envelopes' checkpoints and events are all confirmed
        (a crash before that runs them again: frames already processed are skipped)."""
        for item in list(self._tidy):
            completions, paths = item
            if not all(c.done for c in completions):
                continue
            self._tidy.remove(item)
            if any(c.failed for c in completions):
                continue  # kept: the next owner runs them again
            for path in paths:
                with contextlib.suppress(OSError):
                    path.unlink()
                    with contextlib.suppress(OSError):
                        path.parent.rmdir()  # when empty

    def refresh(self) -> None:
        """Touch the file of every held camera, so that no other replica takes an idle one
        over (see :data:`TAKEOVER_AFTER_S`); call well within that period."""
        for camera in list(self.held):
            with contextlib.suppress(OSError):  # a failing disk is the checkpoint's to report
                os.utime(self.files.path(camera))

    def release(self, unsaved: Collection[str] = ()) -> None:
        """Let go of every held camera (a clean stop, after the last checkpoint); the
        spools of cameras still waited for stay, for their next owner.

        A camera in ``unsaved`` (its last changes are not on disk: the broker never
        confirmed their events) stays held in its file as last saved: writing its state now
        would put the file ahead of events the broker may not have, and the envelopes that
        made them come again to the next owner, which would skip them as processed. It takes
        the camera over after :attr:`takeover_after_s` instead.
        """
        with self.engine.lock:
            states = {c: self.engine.states[c] for c in self.held if c not in unsaved}
        for camera in sorted(self.held - states.keys()):
            log.warning(
                "stopping with changes of camera %s not saved (their events are not "
                "confirmed): not letting go of it; its next owner takes it over after %.0f s "
                "and gets its unacknowledged envelopes again",
                camera,
                self.takeover_after_s,
                extra={"camera_id": camera},
            )
        self.files.release(states, states.keys())
        self.held.clear()
        for camera, waiting in self.waiting.items():
            self._close(camera, waiting.spool)

    def _close(self, camera: str, spool: Spool) -> None:
        spool.sync()
        self.files.spools.pop(camera, None)
        spool.close()
