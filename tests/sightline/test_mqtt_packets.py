"""The client reads plain PUBLISH packets itself (no paho message objects) and leaves every
other one to paho: the same topic, payload, QoS, packet id and flags either way."""

from __future__ import annotations

import itertools
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from sightline.mqtt.packets import Publish, plain_publish
from tests.support.broker import Broker
from tests.support.waiting import wait_until


def _properties(**values: Any) -> bytes:
    properties = Properties(PacketTypes.PUBLISH)
    for name, value in values.items():
        setattr(properties, name, value)
    return properties.pack()


NO_PROPERTY = b"\x00"
EXPIRY = _properties(MessageExpiryInterval=60)
USER = _properties(UserProperty=[("k", "v")])


def _packet_of(topic: bytes, qos: int, mid: int, properties: bytes, payload: bytes) -> bytes:
    """A PUBLISH after its fixed header."""
    packet = len(topic).to_bytes(2, "big") + topic
    if qos:
        packet += mid.to_bytes(2, "big")
    return packet + properties + payload


TOPICS = [b"detections/cam-1", b"t", "caméra/é".encode(), b"a" * 300]
PAYLOADS = [b"", b"{}", b"\x00" * 3, b'{"version":1}' * 100, bytes(range(256))]


@pytest.mark.parametrize(
    ("topic", "payload", "qos", "flags"),
    list(itertools.product(TOPICS, PAYLOADS, [0, 1], [0, 0x01, 0x08, 0x09])),
)
def test_a_plain_publish_reads_as_paho_reads_it(
    topic: bytes, payload: bytes, qos: int, flags: int
) -> None:
    command = 0x30 | (qos << 1) | flags
    mid = 65_535 if qos else 0
    packet = _packet_of(topic, qos, mid, NO_PROPERTY, payload)
    paho_reads = _packet.decode_publish(command, packet, MQTTProtocolVersion.MQTTv5)

    ours = plain_publish(command, packet)

    assert ours == Publish(
        topic=paho_reads.topic.decode(),
        payload=paho_reads.payload,
        qos=paho_reads.qos,
        mid=paho_reads.mid,
        retain=paho_reads.retain,
        dup=paho_reads.dup,
    )
    assert type(ours.payload) is bytes  # not a view of paho's buffer


@pytest.mark.parametrize(
    ("what", "command", "packet"),
    [
        ("a property", 0x32, _packet_of(b"t", 1, 7, EXPIRY, b"x")),
        ("a user property", 0x30, _packet_of(b"t", 0, 0, USER, b"x")),
        ("QoS 2", 0x34, _packet_of(b"t", 2, 7, NO_PROPERTY, b"x")),
        ("a topic that is not UTF-8", 0x30, _packet_of(b"\xff\xfe", 0, 0, NO_PROPERTY, b"x")),
        ("no topic (an alias)", 0x30, _packet_of(b"", 0, 0, NO_PROPERTY, b"x")),
        ("cut in its topic", 0x30, b"\x00\x09abc"),
        ("cut before its packet id", 0x32, b"\x00\x01t\x00"),
        ("cut before its properties", 0x30, b"\x00\x01t"),
        ("shorter than a header", 0x30, b"\x00"),
    ],
)
def test_anything_else_is_left_to_paho(what: str, command: int, packet: bytes) -> None:
    assert plain_publish(command, packet) is None, what


def test_through_a_broker_plain_messages_skip_paho_and_the_rest_go_its_way(
    broker: Broker,
) -> None:
    received: list[ReceivedMessage] = []
    client = MqttClient(MqttConfig(url=broker.url), service="test", instance="packets")
    client.subscribe("in/#", received.append)
    ours: list[Publish] = []
    paho_ways: list[str] = []
    inner = client._paho
    plain, on_message = inner.on_plain_publish, inner.on_message  # type: ignore[attr-defined]
    assert plain is not None
    assert on_message is not None

    def counted_plain(message: Publish) -> object:
        ours.append(message)
        return plain(message)

    def counted_paho(client_: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        paho_ways.append(message.topic)
        on_message(client_, userdata, message)

    inner.on_plain_publish = counted_plain  # type: ignore[attr-defined]
    inner.on_message = counted_paho
    client.start()
    sender = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    try:
        assert client.wait_connected(5)
        sender.connect(broker.host, broker.port)
        sender.loop_start()
        expiry = Properties(PacketTypes.PUBLISH)
        expiry.MessageExpiryInterval = 60
        infos = [
            sender.publish("in/plain-1", b"one", qos=1),
            sender.publish("in/plain-0", b"zero", qos=0),
            sender.publish("in/expiring", b"two", qos=1, properties=expiry),
            sender.publish("in/plain-1", b"three", qos=1),
        ]
        for info in infos:
            info.wait_for_publish(5)
        wait_until(lambda: len(received) == 4, 10, "all four messages")
    finally:
        sender.disconnect()
        sender.loop_stop()
        client.stop()

    assert [(m.topic, m.payload, m.qos) for m in received] == [
        ("in/plain-1", b"one", 1),
        ("in/plain-0", b"zero", 0),
        ("in/expiring", b"two", 1),
        ("in/plain-1", b"three", 1),
    ]
    assert [m.topic for m in ours] == ["in/plain-1", "in/plain-0", "in/plain-1"]
    assert paho_ways == ["in/expiring"]  # a property: paho decodes it
    assert client.handling.bound.count == 0  # every QoS 1 message acknowledged
