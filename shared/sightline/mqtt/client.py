"""The one MQTT client every Sightline service uses (paho-mqtt 2.x, MQTT v5).

What it guarantees, and the paho defaults it overrides to get there:

* **Persistent session.** ``clean_start=False`` with a ``SessionExpiryInterval`` on *every*
  connect (paho's default starts clean on the first connect of each Client object, so every
  process restart would wipe the session and its queued messages).
* **Ack after the work.** ``manual_ack=True``: a message is acknowledged only once its handler
  has returned *and* everything the handler published has been acknowledged by the broker.
  Handlers run one at a time on a worker thread, in arrival order.
* **Dead letters.** A handler that raises gets the message sent to
  ``sightline/deadletter/<service>`` with the reason; then the message is acknowledged and the
  next one handled. :class:`~sightline.errors.RetryLater` instead handles it again later.
* **Status.** ``sightline/<service>/<instance>/status`` is ``online`` (retained) on connect,
  ``offline`` as the last will and on a clean stop.
* **Never blocks the camera.** :meth:`MqttClient.publish_nowait` goes through a bounded
  :class:`~sightline.mqtt.queue.PublishQueue` drained by a sender thread while connected.

Example:
    >>> from sightline.config import MqttConfig
    >>> client = MqttClient(MqttConfig(url="mqtt://localhost:1883"),
    ...                     service="event-engine", instance="main")
    >>> client.client_id
    'sightline-event-engine-main'
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from sightline.config.mqtt import MqttConfig
from sightline.errors import MessageError, RetryLater
from sightline.messages.codec import encode
from sightline.messages.deadletter import DeadLetter
from sightline.metrics import ClientMetrics
from sightline.mqtt.pending import Completion, PendingPublish, PublishTracker
from sightline.mqtt.queue import PublishQueue
from sightline.topics import Topic, Topics

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"
PUBLISH_WINDOW = 500
"""Publishes handed to paho but not yet acknowledged, at most (publish_nowait)."""


def _not_reconnect_noise(record: logging.LogRecord) -> bool:
    # paho 2.2 logs an ERROR on every loop turn while the broker is away; we log the loss once.
    return not str(record.msg).startswith("Client is not connected")


_PAHO_LOG = logging.getLogger("paho")
_PAHO_LOG.addFilter(_not_reconnect_noise)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as a handler sees it."""

    topic: str
    payload: bytes
    retain: bool = False
    duplicate: bool = False
    mid: int = 0
    qos: int = 1


Handler = Callable[[ReceivedMessage], None]


@dataclass
class _Subscription:
    topic_filter: str
    handler: Handler
    name: str


class MqttClient:
    """A service's connection to the broker.

    Args:
        config: the broker config.
        service: the service's name (``event-engine``...), used in topics and the client id.
        instance: this replica's stable name.
        topics: the deployment's topics (prefix); default from ``config.topic_prefix``.
        registry: where metrics go; a private registry if None.
        publish_queue_size: bound of :meth:`publish_nowait`'s queue; default from config.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        service: str,
        instance: str,
        topics: Topics | None = None,
        registry: CollectorRegistry | None = None,
        publish_queue_size: int | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.instance = instance
        self.topics = topics or Topics(
            prefix=config.topic_prefix, discovery_prefix=config.discovery_prefix
        )
        self.client_id = config.client_id or f"sightline-{service}-{instance}"
        self.status_topic = self.topics.status(service, instance)
        self.deadletter_topic = self.topics.deadletter(service)
        self.metrics = ClientMetrics.from_registry(registry or CollectorRegistry())
        self.outbox = PublishQueue(publish_queue_size or config.publish_queue_size)

        self._subscriptions: list[_Subscription] = []
        self._inbox: queue.Queue[ReceivedMessage | None] = queue.Queue()
        self._tracker = PublishTracker()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._worker_done = threading.Event()
        self._acks: queue.Queue[tuple[ReceivedMessage, list[Completion]] | None] = queue.Queue()
        self._acker_done = threading.Event()
        self._worker: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        self._worker_ident: int | None = None
        self._awaited: list[Completion] = []
        self._stop_deadline = float("inf")
        self._started = False
        self._paho = self._make_paho()
        self.on_connect_hooks: list[Callable[[bool], None]] = []

    # -- set-up -----------------------------------------------------------------------------

    def _make_paho(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        client.enable_logger(_PAHO_LOG)
        if self.config.username is not None:
            client.username_pw_set(self.config.username, self.config.resolved_password())
        if self.config.use_tls:
            tls = self.config.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(tls.insecure)
        client.will_set(str(self.status_topic), OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(
            max(1, int(self.config.reconnect_min_s)), max(1, int(self.config.reconnect_max_s))
        )
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        return client

    def subscribe(self, topic_filter: str, handler: Handler, name: str | None = None) -> None:
        """Handle every message on ``topic_filter`` with ``handler`` (call before start)."""
        if self._started:
            raise RuntimeError("subscribe before start()")
        self._subscriptions.append(_Subscription(topic_filter, handler, name or topic_filter))

    def start(self) -> None:
        """Connect in the background (retrying with back-off) and start handling messages."""
        if self._started:
            return
        self._started = True
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.config.session_expiry_s
        properties.ReceiveMaximum = self.config.receive_maximum
        self._paho.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._paho.loop_start()
        self._worker = threading.Thread(
            target=self._work, name=f"{self.service}-handler", daemon=True
        )
        self._worker.start()
        threading.Thread(
            target=self._acknowledge, name=f"{self.service}-acker", daemon=True
        ).start()
        self._sender = threading.Thread(
            target=self._send, name=f"{self.service}-sender", daemon=True
        )
        self._sender.start()
        log.info(
            "connecting to %s:%d as %s",
            self.config.host,
            self.config.port,
            self.client_id,
            extra={"broker": self.config.url, "client_id": self.client_id},
        )

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    @property
    def worker_alive(self) -> bool:
        """Whether the handler thread is running (for /healthz)."""
        return self._worker is not None and self._worker.is_alive()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected; False on timeout."""
        return self._connected.wait(timeout)

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        # Small QoS 1 messages must not wait for Nagle's algorithm (~40 ms each).
        with contextlib.suppress(OSError, AttributeError):  # not a TCP socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason, extra={"reason": str(reason)})
            return
        session_present = bool(getattr(flags, "session_present", False))
        log.info(
            "connected (session %s)",
            "resumed" if session_present else "new",
            extra={"session_present": session_present},
        )
        for sub in self._subscriptions:
            client.subscribe(sub.topic_filter, options=SubscribeOptions(qos=1))
        client.publish(str(self.status_topic), ONLINE, qos=1, retain=True)
        self._connected.set()
        self.metrics.connected.set(1)
        for hook in self.on_connect_hooks:
            try:
                hook(session_present)
            except Exception:
                log.exception("on-connect hook failed")

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self.metrics.connected.set(0)
        if not self._stopping.is_set() and was_connected:
            log.warning(
                "lost the broker (%s); reconnecting with back-off",
                reason,
                extra={"reason": str(reason)},
            )

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.error("subscription refused: %s", reason, extra={"reason": str(reason)})

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._inbox.put(
            ReceivedMessage(
                topic=message.topic,
                payload=bytes(message.payload),
                retain=bool(message.retain),
                duplicate=bool(message.dup),
                mid=message.mid,
                qos=message.qos,
            )
        )

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._tracker.complete(mid)

    # -- handling (worker thread) -----------------------------------------------------------

    def _dispatch(self, message: ReceivedMessage) -> _Subscription | None:
        topic = Topic(message.topic)
        for sub in self._subscriptions:
            if topic.matches(sub.topic_filter):
                return sub
        return None

    def _work(self) -> None:
        self._worker_ident = threading.get_ident()
        try:
            while True:
                try:
                    message = self._inbox.get(timeout=0.2)
                except queue.Empty:
                    if self._stopping.is_set():
                        return
                    continue
                if message is None or time.monotonic() > self._stop_deadline:
                    return
                self._handle(message)
        finally:
            self._worker_done.set()

    def _handle(self, message: ReceivedMessage) -> None:
        sub = self._dispatch(message)
        if sub is None:  # a retained message on a filter we no longer have
            self._acks.put((message, []))
            return
        self.metrics.received.labels(sub.name).inc()
        delay = self.config.reconnect_min_s
        while True:
            self._awaited = []
            started = time.perf_counter()
            try:
                sub.handler(message)
            except RetryLater as exc:
                self.metrics.retries.inc()
                if self._stopping.is_set():
                    log.info("stopping: leaving a message to be redelivered: %s", exc)
                    return  # not acknowledged: the broker redelivers it
                log.warning("handler asked to retry in %.1fs: %s", delay, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            except MessageError as exc:
                self._dead_letter(message, exc.reason, kind=type(exc).__name__)
            except Exception as exc:
                log.exception("handler failed on %s", message.topic, extra={"topic": message.topic})
                self._dead_letter(message, f"{type(exc).__name__}: {exc}", kind="handler_error")
            finally:
                self.metrics.handle_seconds.observe(time.perf_counter() - started)
            break
        # Acknowledged by the acker thread, in arrival order, once the broker has what the
        # handler published: the worker goes on with the next message meanwhile.
        self._acks.put((message, self._awaited))
        self._awaited = []

    def _acknowledge(self) -> None:
        try:
            while (item := self._acks.get()) is not None:
                message, publishes = item
                if not self._confirmed(publishes):
                    return  # stopping with the broker away: left to be redelivered
                self._ack(message)
                self.metrics.handled.inc()
        finally:
            self._acker_done.set()

    def _confirmed(self, publishes: list[Completion]) -> bool:
        for handle in publishes:
            while not handle.wait(1.0):
                if self._stopping.is_set() and (
                    not self.connected or time.monotonic() > self._stop_deadline
                ):
                    log.warning("stopping before the broker confirmed a publish: not acking")
                    return False
        return True

    def _ack(self, message: ReceivedMessage) -> None:
        if message.qos > 0:
            self._paho.ack(message.mid, message.qos)

    def _dead_letter(self, message: ReceivedMessage, reason: str, kind: str) -> None:
        log.warning(
            "dead letter: %s",
            reason,
            extra={"topic": message.topic, "reason": reason, "payload_size": len(message.payload)},
        )
        self.metrics.dead_letters.labels(kind).inc()
        self.dead_letter(message.topic, message.payload, reason)

    def dead_letter(self, topic: str, payload: bytes, reason: str) -> PendingPublish:
        """Publish a dead letter for a message this service could not use."""
        letter = DeadLetter.from_payload(
            service=self.service,
            instance=self.instance,
            topic=topic,
            reason=reason,
            payload=payload,
        )
        return self.publish(self.deadletter_topic, letter)

    # -- publishing -------------------------------------------------------------------------

    def publish(
        self,
        topic: Topic | str,
        payload: bytes | str | BaseModel,
        *,
        qos: int = 1,
        retain: bool = False,
    ) -> PendingPublish:
        """Hand a message to paho now (it is resent after a reconnect until acknowledged).

        Called from inside a handler, the handled message is acknowledged only after this
        publish is. Use :meth:`publish_nowait` where the caller must never wait.
        """
        if isinstance(payload, BaseModel):
            payload = encode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        info = self._paho.publish(str(topic), payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"paho refused to publish to {topic}: {info.rc}")
        handle = self._tracker.register(info.mid)
        if qos == 0:
            handle.mark_done()
        self.metrics.published.inc()
        if threading.get_ident() == self._worker_ident:
            self._awaited.append(handle)
        return handle

    def ack_after(self, completion: Completion) -> None:
        """From inside a handler: acknowledge the message being handled only once
        ``completion`` is done too (e.g. the state it changed is on disk).

        Messages are still acknowledged in arrival order; the handler does not wait.
        """
        if threading.get_ident() != self._worker_ident:
            raise RuntimeError("ack_after is for handlers, on the handler thread")
        self._awaited.append(completion)

    def publish_nowait(
        self,
        topic: Topic | str,
        payload: bytes | str | BaseModel,
        *,
        droppable: bool = False,
        retain: bool = False,
    ) -> None:
        """Queue a message without ever blocking; when the queue is full the oldest droppable
        message (then the oldest other one) is dropped and counted."""
        if isinstance(payload, BaseModel):
            payload = encode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        before = dict(self.outbox.dropped)
        self.outbox.put(str(topic), payload, droppable=droppable, retain=retain)
        for kind, count in self.outbox.dropped.items():
            if count != before[kind]:
                self.metrics.dropped.labels(kind).inc(count - before[kind])
        self.metrics.queue_depth.set(len(self.outbox))

    def _send(self) -> None:
        while not (self._stopping.is_set() and len(self.outbox) == 0):
            if not self._connected.wait(0.2):
                continue
            if self._tracker.outstanding >= PUBLISH_WINDOW:  # let the broker catch up
                time.sleep(0.005)
                continue
            item = self.outbox.get(timeout=0.2)
            if item is None:
                continue
            if not self.connected:  # lost while waiting: it stays ours, under our bound
                self.outbox.requeue_front(item)
                continue
            info = self._paho.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and item.qos == 0:
                self.outbox.requeue_front(item)
                continue
            self._tracker.register(info.mid)
            self.metrics.published.inc()
            self.metrics.queue_depth.set(len(self.outbox))

    def flush(self, timeout: float) -> bool:
        """Wait until the publish queue is empty and every publish is acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.outbox) == 0 and self._tracker.outstanding == 0:
                return True
            time.sleep(0.01)
        return False

    # -- stopping ---------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Finish in-flight work, flush what is queued, say ``offline``, disconnect.

        Messages received but not yet handled when ``timeout`` runs out stay unacknowledged;
        the broker delivers them again to this client's session.
        """
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        self._stop_deadline = deadline
        self._stopping.set()
        self._worker_done.wait(max(0.0, deadline - time.monotonic()))
        self._acks.put(None)
        self._acker_done.wait(max(0.0, deadline - time.monotonic()))
        if self.connected:
            self.flush(max(0.0, deadline - time.monotonic()))
            handle = self.publish(self.status_topic, OFFLINE, retain=True)
            handle.wait(max(0.5, deadline - time.monotonic()))
        self._paho.disconnect()
        self._paho.loop_stop()
        self._connected.clear()
        self.metrics.connected.set(0)
        log.info("disconnected", extra={"client_id": self.client_id})
