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

from pydantic import BaseModel

from event_engine.camera import FrameOutcome
from event_engine.checkpoint import Checkpoint
from event_engine.discovery import camera_state
from event_engine.engine import Engine, UnknownDeviceError
from event_engine.metrics import EngineMetrics
from event_engine.tracks import FrameOrder
from sightline.messages import decode_envelope
from sightline.messages.base import MessageLimits
from sightline.mqtt import Completion
from sightline.topics import Topics

log = logging.getLogger(__name__)

Publish = Callable[[str, BaseModel | bytes, bool], object]
"""``publish(topic, payload, retain)``."""
Reject = Callable[[str, bytes, str], object]
"""``reject(topic, payload, reason)``: a dead letter."""
Hold = Callable[[Completion], object]
"""``hold(completion)``: acknowledge the envelope being handled only once it is done."""


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

    def handle(self, topic: str, payload: bytes) -> FrameOutcome | None:
        """Handle one message of ``detections/<camera_id>``.

        Raises:
            MessageError: the payload is not a valid envelope v1 (the client dead-letters it).
        """
        envelope = decode_envelope(payload, self.limits)
        try:
            outcome = self.engine.process(envelope)
        except UnknownDeviceError as exc:
            self._unknown(exc, topic, payload)
            return None
        self.metrics.envelopes.labels(str(outcome.order)).inc()
        camera = self.engine.camera_for(envelope)
        for event in outcome.events:
            self._publish(str(self.topics.event(camera, event.event_type)), event, False)
            self.metrics.events.labels(str(event.event_type)).inc()
        if outcome.order is not FrameOrder.DUPLICATE:
            saved = self._mark_dirty()
            if self._hold is not None and self.checkpoint is not None:
                self._hold(saved)
        if outcome.occurrences or outcome.order is FrameOrder.RESTART:
            self._changed.add((envelope.source.device_id, camera))
        if self._hold is None:  # live, the service's checkpoint thread saves, off this path
            self.flush(force=False)
        return outcome

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

    def save(self) -> None:
        """Checkpoint the engine's state now (no-op without a checkpoint)."""
        if self.checkpoint is None:
            return
        with self._save_lock:  # one save at a time, so an older state never lands last
            with self.engine.lock:  # a consistent copy; the frames wait only for the copy
                saved, self._next_save = self._next_save, None
                data = self.checkpoint.encode(self.engine.states)
                self.dirty = False
            self.checkpoint.write(data)
        if saved is not None:
            saved.mark_done()

    def _unknown(self, exc: UnknownDeviceError, topic: str, payload: bytes) -> None:
        self.metrics.envelopes.labels("unknown_device").inc()
        self.metrics.unknown_devices.labels(exc.device_id).inc()
        if exc.device_id in self._refused:
            return
        self._refused.add(exc.device_id)
        log.warning("%s; dead-lettered once, counted after that", exc, extra={"topic": topic})
        self._reject(topic, payload, str(exc))
