"""The one MQTT client every Sightline service uses (paho-mqtt 2.x, MQTT v5).

What it guarantees, and the paho defaults it overrides to get there:

* **Persistent session.** ``clean_start=False`` with a ``SessionExpiryInterval`` on *every*
  connect (paho's default starts clean on the first connect of each Client object, so every
  process restart would wipe the session and its queued messages).
* **Ack after the work.** ``manual_ack=True``: a message is acknowledged only once its handler
  has returned *and* everything the handler published has been acknowledged by the broker.
  Handlers run one at a time on a worker thread, in arrival order; the client itself
  keeps to ``receive_maximum`` messages received and unacknowledged, which Mosquitto 2.0
  does not (see :mod:`sightline.mqtt.handling` for the one exception).
* **Refusals are failures.** Every acknowledgement's MQTT v5 reason code is checked: only
  Success and "No matching subscribers" complete a publish; any other (e.g. "Not authorized"
  from the ACL) fails it, is logged and counted, and the handled message is dead-lettered
  instead of being acknowledged as if delivered.
* **Back-pressure, never a dead worker.** :meth:`MqttClient.publish` waits while
  :data:`PUBLISH_WINDOW` publishes are unconfirmed (paho has only 65,535 message ids); the
  handler, acker and sender threads are critical (:func:`sightline.threads.start_critical`):
  one that dies ends the process with status 70 so its supervisor restarts it.
* **Loud when the broker is away.** Each failed connect and each back-off step is a WARNING
  naming the broker as ``host:port`` and the next delay.
* **Dead letters.** A handler that raises gets the message sent to
  ``sightline/deadletter/<service>`` with the reason; the message is acknowledged once the
  broker has accepted the dead letter, and the next one handled. :class:`~sightline.errors.RetryLater` instead handles it again later.
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
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from sightline.backoff import Backoff
from sightline.config.mqtt import MqttConfig
from sightline.messages.codec import encode
from sightline.messages.deadletter import DeadLetter
from sightline.metrics import ClientMetrics
from sightline.mqtt.handling import Handler, Handling, ReceivedMessage, Subscription
from sightline.mqtt.packets import Publish, plain_publish
from sightline.mqtt.pending import Completion, PendingPublish, PublishTracker
from sightline.mqtt.queue import PublishQueue
from sightline.threads import start_critical
from sightline.topics import Topic, Topics

if TYPE_CHECKING:
    from paho.mqtt.client import _OutPacket  # paho's type of a queued packet (typing only)

__all__ = ["OFFLINE", "ONLINE", "Handler", "MqttClient", "ReceivedMessage", "reason_failure"]

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"
PUBLISH_WINDOW = 500
"""Publishes handed to paho but not yet confirmed by the broker, at most (back-pressure)."""
MAX_ROUTES = 4096
"""Topics whose subscription :meth:`MqttClient.dispatch` remembers, at most."""
ACCEPTED = (0x00, 0x10)
"""Reason codes of an acknowledgement that completes a publish: Success, No matching
subscribers (MQTT v5 3.4.2.1)."""


def reason_failure(reason: ReasonCode | None) -> str | None:
    """None when an acknowledgement's reason code means delivered, else why it failed.

    >>> reason_failure(ReasonCode(PacketTypes.PUBACK, identifier=0x10)) is None
    True
    >>> reason_failure(ReasonCode(PacketTypes.PUBACK, identifier=0x87))
    'Not authorized (0x87)'
    """
    if reason is None or reason.value in ACCEPTED:
        return None
    return f"{reason} (0x{reason.value:02x})"


def _not_reconnect_noise(record: logging.LogRecord) -> bool:
    # paho 2.2 logs an ERROR on every loop turn while the broker is away; we log the loss once.
    return not str(record.msg).startswith("Client is not connected")


_PAHO_LOG = logging.getLogger("paho")
_PAHO_LOG.addFilter(_not_reconnect_noise)


READ_BLOCK = 65_536
"""Bytes :class:`BufferedPaho` asks the socket for at once."""
WRITE_BLOCK = 65_536
"""Bytes of queued packets :class:`BufferedPaho` sends in one call, at most."""


def whole_packet(block: bytes, at: int) -> tuple[int, int] | None:
    """Where the body of the MQTT packet that starts at ``at`` lies in ``block`` (its
    fixed header is the type byte and a 1-4 byte length), if all of it is there.

    >>> whole_packet(b"\\x40\\x02\\x00\\x07", 0)  # a PUBACK: 2 bytes of body
    (2, 4)
    >>> whole_packet(b"..\\x30\\x80\\x01" + bytes(128), 2)  # a 2-byte length: 128
    (5, 133)
    >>> whole_packet(b"\\x40\\x02\\x00", 0)  # its last byte is not here yet
    >>> whole_packet(b"\\x30\\x80", 0)  # nor the rest of its length
    >>> whole_packet(b"\\x30" + b"\\xff" * 5, 0)  # a 5-byte length: paho refuses it
    """
    size, index, length, shift = len(block), at + 1, 0, 0
    while index < size and shift <= 21:
        byte = block[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            end = index + length
            return (index, end) if end <= size else None
        shift += 7
    return None


def _coalesced(packet: _OutPacket) -> bool:
    """Whether a queued packet needs nothing done once written (see
    :meth:`BufferedPaho._packet_write`): paho calls ``on_publish`` after writing a QoS 0
    PUBLISH and closes the socket after a DISCONNECT.

    >>> _coalesced({"command": 0x40, "qos": 0})  # a PUBACK
    True
    >>> _coalesced({"command": 0x32, "qos": 1}), _coalesced({"command": 0x30, "qos": 0})
    (True, False)
    >>> _coalesced({"command": 0xE0, "qos": 0})  # DISCONNECT
    False
    """
    kind = packet["command"] & 0xF0
    return kind != paho.DISCONNECT and not (kind == paho.PUBLISH and packet["qos"] == 0)


class BufferedPaho(paho.Client):
    """paho's client, reading the socket a block at a time.

    paho reads each packet with three or more ``recv`` calls (its first byte, each byte of
    its length, then the rest): a system call each, and each lets the handler thread take
    the GIL, which the network thread then waits for. This one reads up to
    :data:`READ_BLOCK` bytes per call and serves paho's small reads from them, in order,
    and reads on while a whole packet is still buffered (the socket would not wake
    ``select`` for it). A new connection starts from an empty buffer.

    >>> BufferedPaho(CallbackAPIVersion.VERSION2)._buffered
    0
    """

    _read_from: object = None
    _block: bytes = b""
    _at: int = 0
    on_plain_publish: Callable[[Publish], object] | None = None
    """Given each received PUBLISH that :func:`~sightline.mqtt.packets.plain_publish` can
    read (QoS 0, or 1 with ``manual_ack``; no property), instead of paho building its
    message objects and calling ``on_message``; every other PUBLISH goes paho's way."""

    @property
    def _buffered(self) -> int:
        """Bytes read from the socket that paho has not taken yet."""
        return len(self._block) - self._at if self._read_from is self._sock else 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_from is not self._sock:  # another connection: nothing of the old one
            self._read_from, self._block, self._at = self._sock, b"", 0
        if self._at >= len(self._block):
            block = super()._sock_recv(READ_BLOCK)
            if not block:
                return block  # closed: paho sees the connection lost
            self._block, self._at = block, 0
        start = self._at
        self._at = min(start + bufsize, len(self._block))
        return self._block[start : self._at]

    def _packet_read(self) -> MQTTErrorCode:
        """paho's ``_packet_read``, taking a packet in one slice when all of it is buffered.

        paho reads a packet in pieces (its first byte, each byte of its length, then its
        body): a method call and a few dict updates each, for every message and every
        acknowledgement. A packet that is not wholly in the buffer yet, or one paho has
        begun reading, is read paho's way.
        """
        block, at = self._block, self._at
        if self._in_packet["command"] != 0 or self._read_from is not self._sock:
            return super()._packet_read()
        body = whole_packet(block, at)
        if body is None:
            return super()._packet_read()
        start, end = body
        self._at = end
        self._in_packet = {
            "command": block[at],
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": end - start,
            "packet": bytearray(block[start:end]),
            "to_process": 0,
            "pos": 0,
        }
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:  # as paho's own read answers it
            self._easy_log(paho.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = {
            "command": 0,
            "have_remaining": 0,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": 0,
            "packet": bytearray(),
            "to_process": 0,
            "pos": 0,
        }
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        return rc

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's ``loop_read``, on until no byte read from the socket waits in the buffer."""
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._buffered:
            rc = super().loop_read(max_packets)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        deliver = self.on_plain_publish
        if deliver is not None and self._protocol == paho.MQTTv5:
            message = plain_publish(self._in_packet["command"], self._in_packet["packet"])
            if message is not None and (message.qos == 0 or self._manual_ack):
                self._easy_log(
                    paho.MQTT_LOG_DEBUG,
                    "Received PUBLISH (d%d, q%d, r%d, m%d), '%s', ...  (%d bytes)",
                    message.dup,
                    message.qos,
                    message.retain,
                    message.mid,
                    message.topic,
                    len(message.payload),
                )
                with self._in_callback_mutex:  # as paho calls on_message
                    deliver(message)
                return MQTTErrorCode.MQTT_ERR_SUCCESS  # QoS 1: acknowledged by the client
        return super()._handle_publish()

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: paho.MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        """paho's ``_packet_queue``, waking the network thread only for the first packet
        of a run.

        paho writes a byte to its wake-up socket for every packet queued (an ack, a
        publish): a system call that also hands the GIL over, hundreds of times a second
        under load. A packet queued behind another is written by the same drain: the
        network thread pops packets until none is left (or the socket is full, and then it
        asks ``select`` to wait for room), so only the packet that finds the queue empty
        needs to wake it. The queue's length is read after appending: if the network
        thread emptied it meanwhile, the length is 1 (or 0) and the wake-up is written.
        """
        if self._thread is None or self._sockpairW is None:
            return super()._packet_queue(command, packet, mid, qos, info)
        out = self._out_packet
        out.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        if len(out) <= 1:
            with contextlib.suppress(BlockingIOError):  # a wake-up is pending anyway
                self._sockpairW.send(b"0")
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        """paho's ``_packet_write``, sending a run of small queued packets in one call.

        paho sends each queued packet with its own ``send``: under load that is one system
        call per 4-byte PUBACK, and each hands the GIL to the handler thread and back. The
        engine took 5,392 ``sendto`` for a flood of 4,000 envelopes (1,283 events) of
        ``bench/engine.py`` that way, 233 this way. Here the leading packets that need
        nothing done once written (every packet but a QoS 0 PUBLISH, whose ``on_publish``
        paho calls, and a DISCONNECT) go out as one buffer of at most :data:`WRITE_BLOCK`
        bytes; what the socket did not take stays queued, each packet's position moved on,
        exactly as paho leaves a partly written packet.
        Anything else is written paho's way. Unlike paho's, a write here counts as traffic
        for the keep-alive (``_last_msg_out``), as MQTT allows: a busy client sends no
        PINGREQ; a dead connection is still found by what is received.
        """
        out = self._out_packet
        while len(out) > 1:
            batch: list[_OutPacket] = []
            size = 0
            while out and _coalesced(out[0]) and size + out[0]["to_process"] <= WRITE_BLOCK:
                packet = out.popleft()
                batch.append(packet)
                size += packet["to_process"]
            if len(batch) < 2:
                out.extendleft(reversed(batch))
                break  # the next packet is paho's to write
            try:
                written = self._sock_send(b"".join(p["packet"][p["pos"] :] for p in batch))
            except (AttributeError, ValueError):  # as paho: no socket (a disconnect under way)
                out.extendleft(reversed(batch))
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                out.extendleft(reversed(batch))
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                out.extendleft(reversed(batch))
                self._easy_log(paho.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            unsent: list[_OutPacket] = []
            for packet in batch:
                taken = min(written, packet["to_process"])
                packet["to_process"] -= taken
                packet["pos"] += taken
                written -= taken
                if packet["to_process"]:
                    unsent.append(packet)
            out.extendleft(reversed(unsent))
            with self._msgtime_mutex:
                self._last_msg_out = paho.time_func()
            if unsent:
                return MQTTErrorCode.MQTT_ERR_AGAIN  # the socket is full: select waits for room
        return super()._packet_write()

    def _update_inflight(self) -> MQTTErrorCode:
        """paho's ``_update_inflight``, skipped when no message waits for a free slot.

        paho calls it for every PUBACK, and it walks every unconfirmed message looking for
        one queued past ``max_inflight_messages``: hundreds of them under load, for each
        event confirmed. A message waits for a slot only when paho holds more messages than
        it counts in flight (a QoS 0 message is never held; one held across a reconnect is
        not counted, and then paho's walk runs as before).
        """
        if len(self._out_messages) <= self._inflight_messages:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._update_inflight()


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
        self.broker = f"{config.host}:{config.port}"
        """The broker as ``host:port``, for log lines (never the URL: it may hold a password)."""

        self.stopping = threading.Event()
        self.stop_deadline = float("inf")
        self.tracker = PublishTracker(on_refused=self._refused)
        self.session = 0
        """Counts the connects the broker had no session for: a received message is
        acknowledged only in the session it came in (see :meth:`ack`)."""
        self.handling = Handling(self, config.receive_maximum)
        self.on_connect_hooks: list[Callable[[bool], None]] = []

        self._subscriptions: list[Subscription] = []
        self._routes: dict[str, Subscription | None] = {}
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._suback_mid: int | None = None
        self._worker: threading.Thread | None = None
        self._network_ident: int | None = None
        # paho's own reconnect schedule is deterministic (no jitter): mirror its ceilings
        # (random -> 1.0) so that each warning names the wait paho actually takes.
        low, high = self._reconnect_delays()
        self._backoff = Backoff(base_s=low, cap_s=max(low, high), random=lambda: 1.0)
        self._started = False
        self._paho = self._make_paho()

    # -- set-up -----------------------------------------------------------------------------

    def _reconnect_delays(self) -> tuple[int, int]:
        return max(1, int(self.config.reconnect_min_s)), max(1, int(self.config.reconnect_max_s))

    def _make_paho(self) -> paho.Client:
        client = BufferedPaho(
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
        client.reconnect_delay_set(*self._reconnect_delays())
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_plain_publish = self._received
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        return client

    def subscribe(self, topic_filter: str, handler: Handler, name: str | None = None) -> None:
        """Handle every message on ``topic_filter`` with ``handler`` (call before start)."""
        if self._started:
            raise RuntimeError("subscribe before start()")
        self._subscriptions.append(Subscription(topic_filter, handler, name or topic_filter))
        self._routes.clear()

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
        log.info(
            "connecting to %s as %s",
            self.broker,
            self.client_id,
            extra={"broker": self.broker, "client_id": self.client_id},
        )
        # The threads start before the connection so that nothing the broker sees (our
        # `online`, the first message) can come before them: /healthz asked right after
        # `online` must find the handler alive.
        self._worker = start_critical(self.handling.work, f"{self.service}-handler")
        start_critical(self.handling.acknowledge, f"{self.service}-acker")
        start_critical(self._send, f"{self.service}-sender")
        self._paho.loop_start()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    @property
    def worker_alive(self) -> bool:
        """Whether the handler thread is running (for /healthz)."""
        return self._worker is not None and self._worker.is_alive()

    @property
    def publishes_ok(self) -> bool:
        """False while this client holds back acknowledgements because even the dead letter
        of a refused publish was refused (for /healthz)."""
        return self.handling.publishes_ok

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and the broker has acknowledged the subscriptions (so what
        is published from now on reaches the handlers); False on timeout."""
        deadline = time.monotonic() + timeout
        return self._connected.wait(timeout) and self._subscribed.wait(
            max(0.0, deadline - time.monotonic())
        )

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._network_ident = threading.get_ident()
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
            log.error(
                "broker %s refused the connection: %s",
                self.broker,
                reason,
                extra={"broker": self.broker, "reason": str(reason)},
            )
            return
        self._backoff.reset()
        session_present = bool(getattr(flags, "session_present", False))
        if not session_present:
            # The broker has none of our earlier session (a first start, or it lost its
            # state): a message id of that session now names another message, never ack it.
            self.session += 1
        log.info(
            "connected to %s (session %s)",
            self.broker,
            "resumed" if session_present else "new",
            extra={"broker": self.broker, "session_present": session_present},
        )
        self._subscribed.clear()
        if self._subscriptions:
            _, self._suback_mid = client.subscribe(
                [(sub.topic_filter, SubscribeOptions(qos=1)) for sub in self._subscriptions]
            )
        else:
            self._subscribed.set()
        self.publish(self.status_topic, ONLINE, retain=True)
        self._connected.set()
        self.metrics.connected.set(1)
        for hook in self.on_connect_hooks:
            try:
                hook(session_present)
            except Exception:
                log.exception("on-connect hook failed")

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        if self.stopping.is_set():
            return
        log.warning(
            "cannot reach the broker at %s; trying again in %ds",
            self.broker,
            retry_in_s := self._backoff.next_delay(),
            extra={"broker": self.broker, "retry_in_s": retry_in_s},
        )

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
        self._subscribed.clear()
        self.metrics.connected.set(0)
        if self.stopping.is_set():
            return
        log.warning(
            "%s the broker at %s (%s); trying again in %ds",
            "lost" if was_connected else "no connection to",
            self.broker,
            reason,
            retry_in_s := self._backoff.next_delay(),
            extra={"broker": self.broker, "reason": str(reason), "retry_in_s": retry_in_s},
        )

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        for sub, reason in zip(self._subscriptions, reasons, strict=False):
            if reason.is_failure:
                log.error(
                    "subscription to %s refused: %s",
                    sub.topic_filter,
                    reason,
                    extra={"topic_filter": sub.topic_filter, "reason": str(reason)},
                )
        if mid == self._suback_mid:
            self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        """A PUBLISH paho read (one with properties, or QoS 2)."""
        self._received(
            Publish(
                message.topic,
                bytes(message.payload),
                message.qos,
                message.mid,
                bool(message.retain),
                bool(message.dup),
            )
        )

    def _received(self, message: Publish) -> None:
        """Every received PUBLISH (read by :class:`BufferedPaho` or by paho), to the handler
        thread's inbox."""
        self.handling.receive(
            ReceivedMessage(
                message.topic,
                message.payload,
                retain=message.retain,
                duplicate=message.dup,
                mid=message.mid,
                qos=message.qos,
                session=self.session,
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
        self.tracker.complete(mid, reason_failure(reason))

    def _refused(self, handle: PendingPublish) -> None:
        reason = handle.failure or "?"
        log.warning(
            "the broker refused a publish to %s: %s",
            handle.topic,
            reason,
            extra={"topic": handle.topic, "reason": reason},
        )
        self.metrics.publish_refused.labels(reason).inc()

    # -- handling ---------------------------------------------------------------------------

    def dispatch(self, message: ReceivedMessage) -> Subscription | None:
        """The subscription ``message`` belongs to (the first that matches); remembered
        per topic, so a service with a subscription per camera finds it in one look-up."""
        routes = self._routes
        try:
            return routes[message.topic]
        except KeyError:
            pass
        topic = Topic(message.topic)
        found = next((s for s in self._subscriptions if topic.matches(s.topic_filter)), None)
        if len(routes) >= MAX_ROUTES:  # bounded: topics are not ours to choose
            routes.clear()
        routes[message.topic] = found
        return found

    def ack(self, message: ReceivedMessage) -> None:
        """Acknowledge ``message`` to the broker (sent by paho's network thread); not a
        message of a session the broker no longer has (its id is another message's now)."""
        if message.qos == 0:
            return
        if message.session != self.session:
            log.warning(
                "not acknowledging message %d on %s: it came in a session the broker lost "
                "(its id now names another message)",
                message.mid,
                message.topic,
                extra={"topic": message.topic},
            )
            return
        self._paho.ack(message.mid, message.qos)

    def dead_letter(
        self, topic: str, payload: bytes, reason: str, *, size: int | None = None
    ) -> PendingPublish:
        """Publish a dead letter for a message this service could not use (``size``: the
        whole payload's, when ``payload`` is already an excerpt of it)."""
        letter = DeadLetter.from_payload(
            service=self.service,
            instance=self.instance,
            topic=topic,
            reason=reason,
            payload=payload,
        )
        if size is not None and size > len(payload):
            letter = letter.model_copy(update={"payload_size": size, "truncated": True})
        return self.publish(self.deadletter_topic, letter)

    # -- publishing -------------------------------------------------------------------------

    def publish(
        self,
        topic: Topic | str,
        payload: bytes | str | BaseModel,
        *,
        retain: bool = False,
    ) -> PendingPublish:
        """Hand a message to paho at QoS 1 (it is resent after a reconnect until
        acknowledged; there is no QoS 0 here: paho drops one it cannot send at once and
        never answers for it, so its handle would stay outstanding for good).

        Waits while :data:`PUBLISH_WINDOW` publishes are unconfirmed (never on paho's own
        thread); never raises because of it. Called from inside a handler, the handled
        message is acknowledged only after this publish is, and dead-lettered if the broker
        refuses it. Use :meth:`publish_nowait` where the caller must never wait.
        """
        if isinstance(payload, BaseModel):
            payload = encode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        self._wait_for_window()
        info = self._paho.publish(str(topic), payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"paho refused to publish to {topic}: {info.rc}")
        handle = self.tracker.register(info.mid, str(topic))
        self.metrics.published.inc()
        if self.handling.on_worker():
            self.handling.awaited.append(handle)
        return handle

    def _wait_for_window(self) -> None:
        if threading.get_ident() == self._network_ident:
            return  # paho's thread reads the confirmations: it must never wait for them
        while not self.tracker.wait_below(PUBLISH_WINDOW, 1.0):
            if time.monotonic() > self.stop_deadline:
                return  # stopping: paho keeps it queued, as far as ids go

    def ack_after(self, completion: Completion) -> None:
        """From inside a handler: acknowledge the message being handled only once
        ``completion`` is done too (e.g. the state it changed is on disk).

        Messages are still acknowledged in arrival order; the handler does not wait.
        """
        if not self.handling.on_worker():
            raise RuntimeError("ack_after is for handlers, on the handler thread")
        self.handling.awaited.append(completion)

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
        while not (self.stopping.is_set() and len(self.outbox) == 0):
            if not self._connected.wait(0.2):
                continue
            if not self.tracker.wait_below(PUBLISH_WINDOW, 0.2):  # let the broker catch up
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
            self.tracker.register(info.mid, item.topic)
            self.metrics.published.inc()
            self.metrics.queue_depth.set(len(self.outbox))

    def undelivered(self) -> dict[str, int]:
        """What the broker does not have yet: queued by :meth:`publish_nowait` (essential,
        droppable) and handed to paho but unconfirmed."""
        return {**self.outbox.counts(), "unconfirmed": self.tracker.outstanding}

    def flush(self, timeout: float) -> bool:
        """Wait until the publish queue is empty and every publish is acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.outbox) == 0 and self.tracker.outstanding == 0:
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
        self.stop_deadline = deadline
        self.stopping.set()
        handling = self.handling
        handling.worker_done.wait(max(0.0, deadline - time.monotonic()))
        handling.acks.put(None)
        handling.acker_done.wait(max(0.0, deadline - time.monotonic()))
        if self.connected:
            self.flush(max(0.0, deadline - time.monotonic()))
            handle = self.publish(self.status_topic, OFFLINE, retain=True)
            handle.wait(max(0.5, deadline - time.monotonic()))
        left = self.undelivered()
        self._paho.disconnect()
        self._paho.loop_stop()
        self._connected.clear()
        self.metrics.connected.set(0)
        if any(left.values()):
            log.warning(
                "stopped with messages the broker at %s never confirmed: %d queued "
                "(%d droppable), %d sent but unconfirmed",
                self.broker,
                left["essential"] + left["droppable"],
                left["droppable"],
                left["unconfirmed"],
                extra={"broker": self.broker, **{f"undelivered_{k}": v for k, v in left.items()}},
            )
        log.info("disconnected", extra={"client_id": self.client_id})
