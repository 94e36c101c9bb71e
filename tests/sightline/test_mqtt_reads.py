"""The client reads the socket a block at a time: every message still arrives whole, in
order, whatever its size and however the packets fall across the blocks."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

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


class _CountingSocket:
    """paho's wake-up socket, counting the bytes written to it."""

    def __init__(self, sock: object) -> None:
        self.sock, self.sends = sock, 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self.sock.send(data)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


def test_packets_queued_together_wake_the_network_thread_once_and_all_go_out(
    broker: Broker,
) -> None:
    """Publishes from several threads at once (and the acks of what arrives) wake paho's
    network thread only for the first packet of a run; every packet still goes out, and a
    publish on an idle client still wakes it at once (not at paho's 1 s poll)."""
    received: list[bytes] = []
    sink = MqttClient(MqttConfig(url=broker.url), service="test", instance="sink")
    sink.subscribe("burst/#", lambda message: received.append(message.payload))
    source = MqttClient(MqttConfig(url=broker.url), service="test", instance="source")
    sink.start()
    source.start()
    try:
        assert sink.wait_connected(5)
        assert source.wait_connected(5)
        counting = _CountingSocket(source._paho._sockpairW)
        source._paho._sockpairW = counting  # type: ignore[assignment]
        queued = 0
        original = BufferedPaho._packet_queue

        def count(*args: object, **kwargs: object) -> object:
            nonlocal queued
            queued += 1
            return original(source._paho, *args, **kwargs)  # type: ignore[arg-type]

        source._paho._packet_queue = count  # type: ignore[method-assign, assignment]

        def burst(thread: int) -> None:
            for index in range(300):
                source.publish(f"burst/{thread}", f"{thread}-{index}".encode())

        threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_until(lambda: len(received) >= 1_200, 30, "every message of the bursts", 0.05)
        assert source.flush(10)
        assert sorted(received) == sorted(f"{t}-{i}".encode() for t in range(4) for i in range(300))
        assert queued >= 1_200
        assert counting.sends < queued  # coalesced: runs of packets shared a wake-up

        took = []
        for index in range(20):  # one at a time on an idle client: each wakes it itself
            started = time.monotonic()
            assert source.publish("burst/alone", b"%d" % index).wait(10)
            took.append(time.monotonic() - started)
        # A lost wake-up holds each of them for paho's 1 s poll (it polls afresh after each
        # confirmation); the median shrugs off a stall of a busy machine.
        assert sorted(took)[len(took) // 2] < 0.5, f"publishes waited for paho's poll: {took}"
    finally:
        source.stop()
        sink.stop()


@pytest.mark.parametrize(("send_buffer", "at_most"), [(4_096, None), (None, 1 / 50)])
def test_queued_packets_go_out_whole_and_in_order_in_few_sends(
    send_buffer: int | None, at_most: float | None
) -> None:
    """A run of queued packets goes out in one ``send`` per block (at most one for 50
    packets, when the socket takes all of it); a socket that takes only part of it (a 4 KiB
    buffer) leaves the rest queued where paho would, and the peer still reads every byte in
    order. A QoS 0 PUBLISH among them is written paho's way (its ``on_publish`` is called)."""
    ours, peer = socket.socketpair()
    if send_buffer is not None:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    ours.setblocking(False)
    peer.setblocking(False)
    client = BufferedPaho(CallbackAPIVersion.VERSION2)
    client._sock = ours
    sends = 0
    original = client._sock_send

    def counting(data: bytes | bytearray) -> int:
        nonlocal sends
        sends += 1
        return original(data)

    client._sock_send = counting  # type: ignore[method-assign, assignment]
    published: list[int] = []
    client.on_publish = lambda *args: published.append(args[2])
    rng = random.Random(3)
    packets: list[bytes] = []
    with client._in_callback_mutex:  # queued only: paho writes at once for an idle caller
        for mid in range(1, 3_001):
            size = rng.choice([2, 2, 2, 2, 2, 300, 1_000])  # PUBACKs, and QoS 1 PUBLISHes
            command, qos = (0x40, 1) if size == 2 else (0x32, 1)
            if mid == 2_990:  # a QoS 0 PUBLISH: paho's own write calls on_publish
                command, qos = 0x30, 0
            packet = bytes([command, *_length(size)]) + bytes([mid % 251]) * size
            client._packet_queue(command, packet, mid, qos, paho.MQTTMessageInfo(mid))
            packets.append(packet)
    expected = b"".join(packets)
    got = bytearray()
    while len(got) < len(expected):
        client._packet_write()
        with contextlib.suppress(BlockingIOError):
            while len(got) < len(expected):
                got += peer.recv(rng.choice([1, 100, 10_000, 1_000_000]))
    ours.close()
    peer.close()

    assert bytes(got) == expected
    assert not client._out_packet
    assert published == [2_990]
    if at_most is not None:
        assert sends <= len(packets) * at_most, f"{sends} sends for {len(packets)} packets"


def _length(size: int) -> list[int]:
    """MQTT's variable-length encoding of ``size``."""
    out = []
    while True:
        byte, size = size % 128, size // 128
        out.append(byte | (0x80 if size else 0))
        if not size:
            return out
