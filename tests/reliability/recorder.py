"""A subscriber with a persistent session: it sees everything the broker accepted for it,
across a broker restart (Mosquitto keeps the session and its queue on SIGTERM)."""

from __future__ import annotations

import itertools
import threading

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.broker import Broker

_ids = itertools.count()
SESSION_EXPIRY_S = 3600


class Recorder:
    """Keeps ``(topic, payload)`` of every message on ``topic_filter``, in arrival order."""

    def __init__(self, broker: Broker, topic_filter: str) -> None:
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"reliability-recorder-{next(_ids)}",
            protocol=paho.MQTTv5,
        )
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 2)
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *args: subscribed.set()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self._client.loop_start()
        self._client.subscribe(topic_filter, qos=1)
        if not subscribed.wait(5):
            raise TimeoutError("recorder could not subscribe")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.payloads.append(bytes(message.payload))

    def received(self) -> list[bytes]:
        """What came so far."""
        with self._lock:
            return list(self.payloads)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()
