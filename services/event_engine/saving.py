"""Scheduling checkpoints: when the engine's state is saved, and what waits for the save.

An envelope that changed a camera's state is acknowledged only after the checkpoint that
holds the change (:meth:`CheckpointScheduler.changed` hands back the :class:`Completion` the
acknowledgement waits for). Saves run at most every ``every_s`` (on the service's
checkpoint thread, off the envelope path), one at a time, so an older state never lands
last; a refused write is retried with back-off and nothing more is acknowledged meanwhile.

Where the state goes is a :class:`StateStore`: the single file of one engine
(:class:`WholeFile`) or one file per camera in a directory replicas share
(``event_engine.partition.CameraFiles``).

Example:
    >>> import tempfile, pathlib
    >>> from sightline.config import EngineSettings
    >>> from event_engine.checkpoint import Checkpoint
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "state.json"
    >>> engine = Engine(EngineSettings())
    >>> saves = CheckpointScheduler(engine, WholeFile(Checkpoint(path)))
    >>> done = saves.changed("cam")
    >>> saves.save(), done.done, path.exists()
    (True, True, True)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Protocol

from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.tracks import CameraState
from sightline.errors import RetryLater
from sightline.mqtt import Completion
from sightline.writes import WriteEpisodes

log = logging.getLogger(__name__)

PUBLISH_WAIT_S = 5.0
"""How long a save waits for the broker to confirm the events of the state it is about to
write; past it, the save is put off (nothing it holds is acknowledged meanwhile)."""

SAVE_RETRY_MIN_S = 0.1
SAVE_RETRY_MAX_S = 5.0
"""Longest wait between two tries of a checkpoint that failed (doubling from 0.1 s)."""


class StateStore(Protocol):
    """Where camera states are saved."""

    @property
    def where(self) -> str:
        """The file or directory, for log lines."""
        ...

    def snapshot(
        self, states: Mapping[str, CameraState], changed: Collection[str]
    ) -> dict[str, bytes]:
        """What to write for the ``changed`` cameras (quick: taken under the engine's lock)."""
        ...

    def write(self, snapshot: dict[str, bytes]) -> None:
        """Store a snapshot durably (slow: fsync; outside the engine's lock)."""
        ...


class WholeFile:
    """Every camera's state in one file (:class:`Checkpoint`): one engine, no replicas.

    Each camera's encoding is kept from one save to the next and made again only for the
    cameras that changed (or whose state is another object): with hundreds of cameras and
    a save every 100 envelopes when flooded, encoding them all each time would cost
    several cameras' encodings per envelope. It relies on what the replicas' per-camera
    files rely on too: every change of a camera's state is reported to
    :meth:`CheckpointScheduler.changed`.
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self._encoded: dict[str, tuple[CameraState, bytes]] = {}

    @property
    def where(self) -> str:
        """The file."""
        return str(self.checkpoint.path)

    def snapshot(
        self, states: Mapping[str, CameraState], changed: Collection[str]
    ) -> dict[str, bytes]:
        """All states; those of the ``changed`` cameras encoded again."""
        kept = self._encoded
        encoded: dict[str, tuple[CameraState, bytes]] = {}
        for camera, state in states.items():
            known = kept.get(camera)
            if known is None or known[0] is not state or camera in changed:
                known = (state, self.checkpoint.encode_one(state))
            encoded[camera] = known
        self._encoded = encoded  # cameras no longer in the engine are dropped
        return {"": self.checkpoint.join({camera: data for camera, (_, data) in encoded.items()})}

    def write(self, snapshot: dict[str, bytes]) -> None:
        """Replace the file."""
        self.checkpoint.write(snapshot[""])


class CheckpointScheduler:
    """Saves the engine's state when due; completes what waited for each save.

    Args:
        engine: whose ``states`` are saved (copied under its lock).
        store: where they go.
        every_s: save at most this often when :meth:`flush` is called (0: every call).
    """

    def __init__(
        self, engine: Engine, store: StateStore, every_s: float = 0.0, urgent_after: int = 0
    ) -> None:
        self.engine = engine
        self.store = store
        self.every_s = every_s
        self.urgent_after = urgent_after
        """This many changes waiting for one save make it due at once (0: never): with
        ``mqtt.receive_maximum`` messages unacknowledged at most, waiting out ``every_s``
        with half of them held would cap the rate at ``receive_maximum / every_s``."""
        self._waiting = 0
        self._wake = threading.Condition()
        self.on_failure: Callable[[], object] = lambda: None
        """Called for each failed write (a metric)."""
        self.on_recovered: Callable[[], object] = lambda: None
        """Called when a write holds again after failures."""
        self._changed: set[str] = set()
        self._unconfirmed: list[Completion] = []
        """Events published for changes not saved yet: a save waits for the broker to have
        them, so that a crash never leaves a state on disk whose events were lost (the
        envelopes come again and give them again instead)."""
        self._busy = 0
        self._between = threading.Condition()
        """A save's copy is taken between two envelopes: never after a frame was processed
        and before its events were registered (see :meth:`processing`)."""
        self._next: Completion | None = None
        self._owed: list[Completion] = []
        """Completions of checkpoints that failed: done with the next one that holds."""
        self.lock = threading.Lock()
        """Held by each save; hold it to keep a save from landing in between."""
        self._flushed_at = float("-inf")
        self._saved_again = threading.Condition()
        self.writes = WriteEpisodes(
            log,
            "cannot write the checkpoint {where} ({reason}): nothing more is acknowledged "
            "until it is written; retrying with back-off",
            "checkpoint {where} written again after {count} failed attempt(s); resuming",
            where=store.where,
            min_delay_s=SAVE_RETRY_MIN_S,
            max_delay_s=SAVE_RETRY_MAX_S,
            on_failure=lambda part: self.on_failure(),
        )
        """Failed checkpoints: said once per episode, counted, backed off; ``/healthz``."""

    @property
    def dirty(self) -> bool:
        """Whether a change waits for its save."""
        return bool(self._changed)

    def unsaved(self) -> set[str]:
        """The cameras whose changes wait for their save."""
        with self.engine.lock:
            return set(self._changed)

    @contextlib.contextmanager
    def processing(self) -> Iterator[None]:
        """Hold while an envelope is processed and its events published and registered with
        :meth:`changed`: no save copies the state in between."""
        with self._between:
            self._busy += 1
        try:
            yield
        finally:
            with self._between:
                self._busy -= 1
                if not self._busy:
                    self._between.notify_all()

    def changed(self, camera: str, published: Collection[Completion] = ()) -> Completion:
        """``camera``'s state changed, and ``published`` are the events of the change: the
        next save is owed (and waits for the broker to have them); what completes with it."""
        with self.engine.lock:
            self._changed.add(camera)
            self._unconfirmed.extend(c for c in published if not c.done)
            self._waiting += 1
            if self._next is None:
                self._next = Completion()
            done = self._next
        if self.urgent_after and self._waiting == self.urgent_after:
            with self._wake:
                self._wake.notify_all()
        return done

    @property
    def urgent(self) -> bool:
        """Whether enough changes wait for a save to make it due now."""
        return bool(self.urgent_after) and self._waiting >= self.urgent_after

    def wait_due(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, or until a save is :attr:`urgent` (for the thread
        that calls :meth:`flush`)."""
        with self._wake:
            if not self.urgent:
                self._wake.wait(timeout)

    def flush(self, force: bool = True) -> None:
        """Save if something changed and a save is due (always if ``force``)."""
        now = time.monotonic()
        if not force and now - self._flushed_at < self.every_s and not self.urgent:
            return
        if not force and not self.writes.may_try(now):
            return
        self._flushed_at = now
        if self._changed:
            self.save()

    def save(self) -> bool:
        """Save the changed cameras now; False (logged once per episode, counted, retried
        by the caller) when the disk refused it."""
        with self.lock:  # one save at a time, so an older state never lands last
            with self._between:
                while self._busy:  # between two envelopes
                    self._between.wait()
                with self.engine.lock:  # a consistent copy; the frames wait only for the copy
                    done, self._next = self._next, None
                    changed, self._changed = self._changed, set()
                    unconfirmed, self._unconfirmed = self._unconfirmed, []
                    self._waiting = 0
                    snapshot = self.store.snapshot(self.engine.states, changed)
            if done is not None:
                self._owed.append(done)
            if not _all_ended(unconfirmed, PUBLISH_WAIT_S):
                with self.engine.lock:  # put off: the broker does not have its events yet
                    self._changed |= changed
                    self._unconfirmed[:0] = [c for c in unconfirmed if not c.done]
                log.info(
                    "checkpoint put off: the broker has not confirmed its events yet",
                    extra={"unconfirmed": sum(not c.done for c in unconfirmed)},
                )
                return False
            try:
                self.store.write(snapshot)
            except OSError as exc:
                with self.engine.lock:
                    self._changed |= changed
                self.writes.failed(exc, time.monotonic())
                return False
            owed, self._owed = self._owed, []
        for completion in owed:
            completion.mark_done()
        if self.writes.recovered():
            self.on_recovered()
            with self._saved_again:
                self._saved_again.notify_all()
        return True

    @property
    def failed(self) -> str | None:
        """Why the last checkpoint failed (None: it held); /healthz is not ok meanwhile."""
        return self.writes.last_error

    def wait_until_saved(self, stopping: threading.Event) -> None:
        """While the checkpoint fails, take no new work (its state could not be kept).

        Raises:
            RetryLater: still failing and the service is stopping: leave the envelope
                unacknowledged for the broker to redeliver.
        """
        if self.failed is None:
            return
        with self._saved_again:
            while self.failed is not None and not stopping.is_set():
                self._saved_again.wait(0.5)
        if self.failed is not None:
            raise RetryLater(f"checkpoint failing ({self.failed}); stopping")


def _all_ended(completions: list[Completion], timeout: float) -> bool:
    """Whether every one of ``completions`` ended (done or failed) within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    return all(c.wait(max(0.0, deadline - time.monotonic())) for c in completions)
