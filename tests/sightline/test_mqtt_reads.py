"""The client reads the socket a block at a time: every message still arrives whole, in
order, whatever its size and however the packets fall across the blocks."""

from __future__ import annotations

import random

from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from sightline.mqtt.client import READ_BLOCK, BufferedPaho
from tests.support.broker import Broker
from tests.support.mqtt import publish
from tests.support.waiting import wait_until


def test_a_backlog_of_small_and_large_messages_arrives_whole_and_in_order(broker: Broker) -> None:
    sizes = [1, 2, 127, 128, 129, 2_000, 16_383, 16_384, 70_000, READ_BLOCK + 1, 3 * READ_BLOCK]
    sizes += random.Random(7).choices(range(1, 5_000), k=300)
    payloads = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    received: list[bytes] = []

    def make() -> MqttClient:
        client = MqttClient(MqttConfig(url=broker.url), service="test", instance="reads")
        client.subscribe("bulk/#", lambda message: received.append(message.payload))
        return client

    first = make()  # leaves a session behind for the backlog
    first.start()
    assert first.wait_connected(5)
    first.stop()
    publish(broker.host, broker.port, "bulk/a", payloads)

    again = make()  # the whole backlog comes at once: packets split across blocks
    assert isinstance(again._paho, BufferedPaho)
    again.start()
    try:
        wait_until(lambda: len(received) >= len(payloads), 30, "the whole backlog", 0.05)
    finally:
        again.stop()

    assert [len(p) for p in received] == sizes
    assert received == payloads


def test_a_reconnect_reads_nothing_left_over_from_the_old_connection(broker: Broker) -> None:
    received: list[ReceivedMessage] = []
    client = MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=0.5, reconnect_max_s=1),
        service="test",
        instance="reconnect",
    )
    client.subscribe("again/#", received.append)
    client.start()
    try:
        assert client.wait_connected(5)
        publish(broker.host, broker.port, "again/a", [b"before"])
        wait_until(lambda: len(received) == 1, 10, "the first message")
        client._paho.reconnect()  # a new socket: the buffer starts empty
        assert client.wait_connected(10)
        publish(broker.host, broker.port, "again/a", [b"after"])
        wait_until(lambda: len(received) >= 2, 10, "the message after the reconnect")
    finally:
        client.stop()

    # "before" may come twice (its acknowledgement may not have left before the reconnect:
    # at least once); nothing else, and nothing garbled by bytes of the old connection.
    assert received[0].payload == b"before"
    assert received[-1].payload == b"after"
    assert {m.payload for m in received} == {b"before", b"after"}
