"""The one code path from an envelope's bytes to published events, live and in replay.

Example:
    >>> from sightline.config import EngineSettings
    >>> sent = []
    >>> handler = EnvelopeHandler(Engine(EngineSettings()), publish=lambda t, p, r: sent.append(t),
    ...                           reject=lambda topic, payload, reason: None)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from event_engine.camera import FrameOutcome
from event_engine.checkpoint import Checkpoint
from event_engine.discovery import camera_state
from event_engine.engine import Engine, UnknownDeviceError
from event_engine.metrics import EngineMetrics
from event_engine.tracks import FrameOrder
from sightline.errors import MessageError, RetryLater, TopicError
from sightline.messages import decode_envelope
from sightline.messages.base import MessageLimits
from sightline.messages.event import Event
from sightline.mqtt import Completion
from sightline.topics import Topics
from sightline.writes import WriteEpisodes

log = logging.getLogger(__name__)

Publish = Callable[[str, BaseModel | bytes, bool], object]
"""``publish(topic, payload, retain)``."""
Reject = Callable[[str, bytes, str], object]
"""``reject(topic, payload, reason)``: a dead letter."""
Hold = Callable[[Completion], object]
"""``hold(completion)``: acknowledge the envelope being handled only once it is done."""

UNANNOUNCED_SILENCE_S = 60.0
"""Wall-clock silence after which the tracks of a camera whose edge never said ``online``
(a seed-format edge) end; an edge that reports its status gets ``track_timeout_s``."""
TIMER_PUBLISH_WAIT_S = 10.0
"""How long the wall-clock timer waits for the broker to confirm the exits it published
before the checkpoint may hold the tracks as ended."""
MAX_UNKNOWN_DEVICES = 64
"""Unknown device ids dead-lettered and counted by name; any more count as :data:`OTHER_DEVICES`."""
OTHER_DEVICES = "(other)"
SAVE_RETRY_MIN_S = 0.1
SAVE_RETRY_MAX_S = 5.0
"""Longest wait between two tries of a checkpoint that failed (doubling from 0.1 s)."""


@dataclass
class _Edge:
    """What the engine heard from one camera's edge, in its own (monotonic) time."""

    heard: float
    """Last envelope (or the engine's last connect, which resets every camera's silence)."""
    status: str | None = None
    """``online`` / ``offline`` from ``sightline/edge-publisher/<camera>/status``."""
    offline_since: float | None = None


class EnvelopeHandler:
    """Decodes an envelope, runs it through the engine, publishes its events and state.

    Args:
        engine: the engine.
        publish: publishes an event (or a retained state); live, the MQTT client's.
        reject: dead-letters the first envelope of each unknown device.
        topics: the deployment's topics.
        limits: message size limits.
        metrics: counters; a private set if None.
        checkpoint: where the state is saved.
        publish_state: publish the retained per-camera state for Home Assistant.
        flush_every_s: save the state at most this often (0: after every frame).
        hold: live, the client's ``ack_after``: an envelope that changed the state is
            acknowledged only after the checkpoint that holds the change, so after a crash
            the broker redelivers whatever the saved state does not yet reflect.
        state_every_s: publish changed counts for Home Assistant at most this often.
    """

    def __init__(
        self,
        engine: Engine,
        publish: Publish,
        reject: Reject,
        topics: Topics | None = None,
        limits: MessageLimits | None = None,
        metrics: EngineMetrics | None = None,
        checkpoint: Checkpoint | None = None,
        publish_state: bool = False,
        flush_every_s: float = 0.0,
        hold: Hold | None = None,
        state_every_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.topics = topics or Topics()
        self.limits = limits or MessageLimits()
        self.metrics = metrics or EngineMetrics()
        self.checkpoint = checkpoint
        self.dirty = False
        self._publish = publish
        self._reject = reject
        self._publish_state = publish_state
        self._refused: set[str] = set()
        self._flush_every_s = flush_every_s
        self._flushed_at = float("-inf")
        self._hold = hold
        self._next_save: Completion | None = None
        self._save_lock = threading.Lock()
        self._state_every_s = state_every_s
        self._state_at = float("-inf")
        self._changed: set[tuple[str, str]] = set()
        self._edges: dict[str, _Edge] = {}
        self._started = time.monotonic()
        self._owed: list[Completion] = []
        """Completions of checkpoints that failed: done with the next one that holds."""
        self.writes = WriteEpisodes(
            log,
            "cannot write the checkpoint {where} ({reason}): nothing more is acknowledged "
            "until it is written; retrying with back-off",
            "checkpoint {where} written again after {count} failed attempt(s); resuming",
            where=str(checkpoint.path) if checkpoint is not None else "",
            min_delay_s=SAVE_RETRY_MIN_S,
            max_delay_s=SAVE_RETRY_MAX_S,
            on_failure=lambda part: self.metrics.checkpoint_failures.inc(),
        )
        """Failed checkpoints: said once per episode, counted, backed off; ``/healthz``."""
        self._saved_again = threading.Condition()
        self.stopping = threading.Event()

    def handle(
        self, topic: str | None, payload: bytes, retain: bool = False
    ) -> FrameOutcome | None:
        """Handle one message of ``detections/<camera_id>`` (``topic`` None: a replayed
        JSON line, whose camera no topic vouches for).

        Raises:
            MessageError: the payload is not a valid envelope v1, a retained copy, or from
                another camera than the topic's (the client dead-letters it).
            RetryLater: the checkpoint is failing and the service is stopping: the envelope
                is left unacknowledged for the broker to redeliver.
        """
        self._wait_for_checkpoint()
        if retain:
            raise MessageError(
                "retain: a retained envelope is a stored copy, not a live frame; refused "
                f"(clear it with: mosquitto_pub -r -n -t {topic})"
            )
        envelope = decode_envelope(payload, self.limits)
        try:
            topic_camera = self.topics.parse_detections(topic) if topic is not None else None
        except TopicError as exc:
            raise MessageError(f"topic: {exc}") from None
        try:
            outcome = self.engine.process(envelope, topic_camera)
        except UnknownDeviceError as exc:
            self._unknown(exc, topic or "", payload)
            return None
        self.metrics.envelopes.labels(str(outcome.order)).inc()
        camera = self.engine.camera_for(envelope)
        self._heard(camera)
        self.metrics.heard(camera)
        for event in outcome.events:
            self._publish(str(self.topics.event(camera, event.event_type)), event, False)
            self.metrics.event_published(event)
        if outcome.order is not FrameOrder.DUPLICATE:
            saved = self._mark_dirty()
            if self._hold is not None and self.checkpoint is not None:
                self._hold(saved)
        if outcome.occurrences or outcome.order is FrameOrder.RESTART:
            self._changed.add((envelope.source.device_id, camera))
        if self._hold is None:  # live, the service's checkpoint thread saves, off this path
            self.flush(force=False)
        return outcome

    # -- the edges' status and silence (wall clock) ------------------------------------------

    def _heard(self, camera: str) -> None:
        edge = self._edges.get(camera)
        if edge is None:
            self._edges[camera] = _Edge(time.monotonic())
        else:
            edge.heard = time.monotonic()

    def connected(self) -> None:
        """The engine (re)connected: silence while it could not hear counts for nothing."""
        now = time.monotonic()
        self._started = now
        for edge in list(self._edges.values()):
            edge.heard = max(edge.heard, now)

    def edge_status(self, camera: str, payload: bytes) -> None:
        """``sightline/edge-publisher/<camera>/status`` said ``payload``."""
        status = payload.decode(errors="replace").strip()
        edge = self._edges.setdefault(camera, _Edge(self._started))
        if status == "offline" and edge.status != "offline":
            edge.offline_since = time.monotonic()
            log.info("edge of %s went offline", camera, extra={"camera_id": camera})
        edge.status = status
        self.metrics.edge_status(camera, status)

    def due(self, camera: str, connected: bool, now: float | None = None) -> str | None:
        """Why ``camera``'s tracks must end now by wall clock, or None."""
        now = time.monotonic() if now is None else now
        edge = self._edges.get(camera)
        if edge is not None and edge.status == "offline":
            since = edge.offline_since if edge.offline_since is not None else now
            if edge.heard <= since:
                return "its edge is offline"
        if not connected or self.save_failed is not None:
            return None  # the engine is not listening: its silence is not the edge's
        device_id = self.engine.device_of(camera)
        config = self.engine.device_config(device_id) if device_id is not None else None
        if config is None:
            return None
        heard = edge.heard if edge is not None else self._started
        announced = edge is not None and edge.status == "online"
        limit = config.silence_s or (
            config.track_timeout_s
            if announced
            else max(config.track_timeout_s, UNANNOUNCED_SILENCE_S)
        )
        if now - heard > limit:
            return f"no envelope for {now - heard:.1f} s (more than {limit:g} s)"
        return None

    def tick(self, connected: bool) -> int:
        """End the tracks of every camera whose edge went offline or silent; publish the
        exits (``lost``) and the emptied state. Returns the number of events published.

        The checkpoint waits until the broker has the exits (so a crash in between gives
        them again, with the same ids, instead of losing them).
        """
        published = 0
        for camera in [c for c, state in list(self.engine.states.items()) if state.tracks]:
            reason = self.due(camera, connected)
            if reason is None:
                continue
            with self._save_lock:
                tracks = len(self.engine.states[camera].tracks)
                outcome = self.engine.end_tracks(camera)
                if outcome is None:
                    continue
                log.info(
                    "%s: %d track(s) of %s ended as lost (%d event(s))",
                    reason,
                    tracks,
                    camera,
                    len(outcome.events),
                    extra={"camera_id": camera, "tracks": tracks, "events": len(outcome.events)},
                )
                waits = [self._publish_event(camera, event) for event in outcome.events]
                deadline = time.monotonic() + TIMER_PUBLISH_WAIT_S
                for handle in waits:
                    if isinstance(handle, Completion):
                        handle.wait(max(0.0, deadline - time.monotonic()))
                published += len(outcome.events)
                with self.engine.lock:
                    self.dirty = True
            device_id = self.engine.device_of(camera)
            if device_id is not None and self._publish_state:
                self.publish_state(device_id, camera)
        return published

    def _publish_event(self, camera: str, event: Event) -> object:
        self.metrics.event_published(event)
        return self._publish(str(self.topics.event(camera, event.event_type)), event, False)

    def flush(self, force: bool = True) -> None:
        """Save the state and publish the counts that changed, each if due (both if
        ``force``)."""
        now = time.monotonic()
        if self._publish_state and (force or now - self._state_at >= self._state_every_s):
            self._state_at = now
            while self._changed:
                self.publish_state(*self._changed.pop())
        if not force and now - self._flushed_at < self._flush_every_s:
            return
        if not force and not self.writes.may_try(now):
            return
        self._flushed_at = now
        if self.dirty:
            self.save()

    def _mark_dirty(self) -> Completion:
        """The state changed: the next save is owed; return what completes with it."""
        with self.engine.lock:
            self.dirty = True
            if self._next_save is None:
                self._next_save = Completion()
            return self._next_save

    def publish_state(self, device_id: str, camera: str) -> None:
        """Publish one camera's retained counts for Home Assistant."""
        device = self.engine.device_config(device_id)
        state = self.engine.states.get(camera)
        if device is None or state is None:
            return
        with self.engine.lock:
            body = json.dumps(camera_state(device, state), separators=(",", ":")).encode()
        self._publish(str(self.topics.engine_state(camera)), body, True)

    def save(self) -> bool:
        """Checkpoint the engine's state now; False (logged once per episode, counted,
        retried by the caller) when the disk refused it. No-op without a checkpoint."""
        if self.checkpoint is None:
            return True
        with self._save_lock:  # one save at a time, so an older state never lands last
            with self.engine.lock:  # a consistent copy; the frames wait only for the copy
                saved, self._next_save = self._next_save, None
                data = self.checkpoint.encode(self.engine.states)
                self.dirty = False
            if saved is not None:
                self._owed.append(saved)
            try:
                self.checkpoint.write(data)
            except OSError as exc:
                with self.engine.lock:
                    self.dirty = True
                self.writes.failed(exc, time.monotonic())
                return False
            owed, self._owed = self._owed, []
        for completion in owed:
            completion.mark_done()
        if self.writes.recovered():
            self.connected()  # listening again: silence counts from now
            with self._saved_again:
                self._saved_again.notify_all()
        return True

    @property
    def save_failed(self) -> str | None:
        """Why the last checkpoint failed (None: it held); /healthz is not ok meanwhile."""
        return self.writes.last_error

    def _wait_for_checkpoint(self) -> None:
        """While the checkpoint fails, take no new work (its state could not be kept)."""
        if self.save_failed is None or self._hold is None:
            return
        with self._saved_again:
            while self.save_failed is not None and not self.stopping.is_set():
                self._saved_again.wait(0.5)
        if self.save_failed is not None:
            raise RetryLater(f"checkpoint failing ({self.save_failed}); stopping")

    def _unknown(self, exc: UnknownDeviceError, topic: str, payload: bytes) -> None:
        self.metrics.envelopes.labels("unknown_device").inc()
        known = exc.device_id in self._refused
        if not known and len(self._refused) >= MAX_UNKNOWN_DEVICES:
            # Bounded: memory and metric labels never grow with made-up device ids.
            self.metrics.unknown_devices.labels(OTHER_DEVICES).inc()
            return
        self.metrics.unknown_devices.labels(exc.device_id).inc()
        if known:
            return
        self._refused.add(exc.device_id)
        log.warning("%s; dead-lettered once, counted after that", exc, extra={"topic": topic})
        self._reject(topic, payload, str(exc))
