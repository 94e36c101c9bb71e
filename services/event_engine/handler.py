"""The one code path from an envelope's bytes to published events, live and in replay.

One job: an envelope in, its events out (and, by wall clock, the exits of cameras whose
edge went offline or silent). What else follows a change is someone else's:
:class:`~event_engine.saving.CheckpointScheduler` saves the state (and holds the envelope's
acknowledgement until then), :class:`~event_engine.state_publisher.StatePublisher`
publishes the counts for Home Assistant.

Example:
    >>> from sightline.config import EngineSettings
    >>> sent = []
    >>> handler = EnvelopeHandler(Engine(EngineSettings()), publish=lambda t, p, r: sent.append(t),
    ...                           reject=lambda topic, payload, reason: None)
    >>> handler.checkpoints is None and handler.states is None
    True
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter
from pydantic import BaseModel

from event_engine.camera import FrameOutcome
from event_engine.engine import Engine, UnknownDeviceError
from event_engine.metrics import EngineMetrics
from event_engine.saving import CheckpointScheduler
from event_engine.state_publisher import StatePublisher
from event_engine.tracks import FrameOrder
from sightline.errors import MessageError, TopicError
from sightline.messages import decode_envelope, decode_sightings
from sightline.messages.base import MessageLimits
from sightline.messages.event import Event
from sightline.messages.sightings import Sightings
from sightline.mqtt import Completion
from sightline.topics import Topics

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
MAX_UNKNOWN_DEVICES = 64
"""Unknown device ids dead-lettered and counted by name; any more count as :data:`OTHER_DEVICES`."""
OTHER_DEVICES = "(other)"


@dataclass(slots=True)
class _Edge:
    """What the engine heard from one camera's edge, in its own (monotonic) time."""

    heard: float
    """Last envelope (or the engine's last connect, which resets every camera's silence)."""
    status: str | None = None
    """``online`` / ``offline`` from ``sightline/edge-publisher/<camera>/status``."""
    offline_since: float | None = None


class EnvelopeHandler:
    """Decodes an envelope, runs it through the engine, publishes its events.

    Args:
        engine: the engine.
        publish: publishes an event; live, the MQTT client's.
        reject: dead-letters the first envelope of each unknown device.
        topics: the deployment's topics.
        limits: message size limits.
        metrics: counters; a private set if None.

    Attributes:
        checkpoints: told of each change to the state; None: nothing is saved.
        states: told of each change to the counts; None: no Home Assistant state.
        hold: live, the client's ``ack_after``: an envelope that changed the state is
            acknowledged only after the checkpoint that holds the change, so after a crash
            the broker redelivers whatever the saved state does not yet reflect. None (a
            replay, a test): the handler saves when due after each envelope itself.
        claim: ``claim(camera)``: whether this replica processes ``camera`` (see
            :mod:`event_engine.partition`; it may raise ``RetryLater`` while the camera's
            previous owner has not let go of it yet); an envelope of another replica's
            camera is left alone.
    """

    def __init__(
        self,
        engine: Engine,
        publish: Publish,
        reject: Reject,
        topics: Topics | None = None,
        limits: MessageLimits | None = None,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.topics = topics or Topics()
        self.limits = limits or MessageLimits()
        self.metrics = metrics or EngineMetrics()
        self.checkpoints: CheckpointScheduler | None = None
        self.states: StatePublisher | None = None
        self.hold: Hold | None = None
        self.claim: Callable[[str], bool] = lambda camera: True
        self._publish = publish
        self._reject = reject
        self._refused: set[str] = set()
        self._edges: dict[str, _Edge] = {}
        self._counted: dict[FrameOrder, Counter] = {}
        self._started = time.monotonic()
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
        checkpoints = self.checkpoints
        if checkpoints is not None and self.hold is not None:
            checkpoints.wait_until_saved(self.stopping)
        if retain:
            raise MessageError(
                "retain: a retained envelope is a stored copy, not a live frame; refused "
                f"(clear it with: mosquitto_pub -r -n -t {topic})"
            )
        try:
            topic_camera = self.topics.parse_detections(topic) if topic is not None else None
        except TopicError as exc:
            decode_envelope(payload, self.limits)  # a bad payload is named first
            raise MessageError(f"topic: {exc}") from None
        if topic_camera is not None and not self.claim(topic_camera):
            return None  # another replica's camera (a stale subscription of this session)
        envelope = decode_sightings(payload, self.limits)
        with self._processing():
            outcome = self._process(envelope, topic, topic_camera, payload, checkpoints)
        if outcome is not None and self.hold is None:
            self.flush(force=False)  # live, the service's checkpoint thread saves instead
        return outcome

    def _process(
        self,
        envelope: Sightings,
        topic: str | None,
        topic_camera: str | None,
        payload: bytes,
        checkpoints: CheckpointScheduler | None,
    ) -> FrameOutcome | None:
        try:
            outcome = self.engine.process(envelope, topic_camera)
        except UnknownDeviceError as exc:
            self._unknown(exc, topic or "", payload)
            return None
        counted = self._counted.get(outcome.order)
        if counted is None:  # one labelled counter per frame order, looked up once
            counted = self._counted[outcome.order] = self.metrics.envelopes.labels(
                str(outcome.order)
            )
        counted.inc()
        camera = self.engine.camera_for(envelope)
        self._heard(camera)
        self.metrics.heard(camera)
        published = [self._publish_event(camera, event) for event in outcome.events]
        if outcome.order is not FrameOrder.DUPLICATE and checkpoints is not None:
            saved = checkpoints.changed(
                camera, [handle for handle in published if isinstance(handle, Completion)]
            )
            if self.hold is not None:
                self.hold(saved)
        if self.states is not None:
            if outcome.occurrences or outcome.order is FrameOrder.RESTART:
                self.states.changed(envelope.source.device_id, camera)
            else:  # the per-class counts may have moved: looked at when the counts are due
                self.states.seen(envelope.source.device_id, camera)
        return outcome

    def flush(self, force: bool = True) -> None:
        """Publish the counts that changed and save the state, each if due (both if
        ``force``)."""
        if self.states is not None:
            self.states.flush(force)
        if self.checkpoints is not None:
            self.checkpoints.flush(force)

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
        if not connected or (self.checkpoints is not None and self.checkpoints.failed):
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
            checkpoints = self.checkpoints
            with self._processing():
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
                published += len(outcome.events)
                if checkpoints is not None:  # saved once the broker has the exits
                    checkpoints.changed(camera, [w for w in waits if isinstance(w, Completion)])
            device_id = self.engine.device_of(camera)
            if device_id is not None and self.states is not None:
                self.states.publish(device_id, camera)
        return published

    def _processing(self) -> contextlib.AbstractContextManager[object]:
        """Held while a change is made and its events registered: no save copies the state
        in between (:meth:`CheckpointScheduler.processing`; nothing without checkpoints)."""
        if self.checkpoints is None:
            return contextlib.nullcontext()
        return self.checkpoints.processing()

    def _publish_event(self, camera: str, event: Event) -> object:
        self.metrics.event_published(event)
        return self._publish(str(self.topics.event(camera, event.event_type)), event, False)

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
