"""A plain subscriber for tests: collects what arrives, like ``mosquitto_sub -v``."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

_ids = itertools.count()


@dataclass(frozen=True)
class Seen:
    """A message as seen by the collector."""

    topic: str
    payload: bytes
    retain: bool


class Collector:
    """Subscribes to filters and keeps every message; ``wait_for`` blocks until enough came."""

    def __init__(
        self,
        host: str,
        port: int,
        *filters: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.messages: list[Seen] = []
        self._cond = threading.Condition()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"collector-{next(_ids)}", protocol=paho.MQTTv5
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *args: subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        self._client.subscribe([(f, 1) for f in filters])
        if not subscribed.wait(5):
            raise TimeoutError("collector could not subscribe")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Seen(message.topic, bytes(message.payload), bool(message.retain)))
            self._cond.notify_all()

    def on(self, topic_prefix: str) -> list[Seen]:
        """Messages whose topic starts with ``topic_prefix``."""
        with self._cond:
            return [m for m in self.messages if m.topic.startswith(topic_prefix)]

    def wait_for(
        self, predicate: Callable[[list[Seen]], bool], timeout: float = 10.0
    ) -> list[Seen]:
        """Wait until ``predicate(messages)`` holds; raise TimeoutError with what came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = [m.topic for m in self.messages][-20:]
                    raise TimeoutError(f"condition not met in {timeout}s; last topics: {topics}")
                self._cond.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def publish(
    host: str,
    port: int,
    topic: str,
    payloads: list[bytes],
    retain: bool = False,
    *,
    username: str | None = None,
    password: str | None = None,
    qos: int = 1,
) -> None:
    """Publish each payload at ``qos`` (1) and wait until the broker has them all (QoS 0:
    until they are written)."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"publisher-{next(_ids)}", protocol=paho.MQTTv5
    )
    if username is not None:
        client.username_pw_set(username, password)
    client.connect(host, port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=qos, retain=retain) for payload in payloads]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
