"""PUBLISH packets read without paho's per-message objects.

paho builds, for every PUBLISH it receives over MQTT v5, a ``Properties`` object (27
property names looked up and cleared one by one), an ``MQTTMessage`` and its
``MQTTMessageInfo`` (a ``threading.Condition`` each), then looks the topic up in a
matcher: most of its cost per message on the engine's network thread, for packets that
almost always carry no property at all. :func:`plain_publish` reads such a packet in a few
slices; :class:`~sightline.mqtt.client.BufferedPaho` hands it straight to the client, and
leaves every other packet (properties, QoS 2, a topic that is not UTF-8, anything odd) to
paho as before.

A PUBLISH after its fixed header: the topic (2-byte length, UTF-8), the packet id (QoS 1
and 2), the properties (a variable byte integer length, then the properties), the payload.

Example:
    >>> body = b"\\x00\\x0edetections/cam" + b"\\x00\\x07" + b"\\x00" + b'{"a":1}'
    >>> plain_publish(0x32, body)  # QoS 1, packet id 7, no property
    Publish(topic='detections/cam', payload=b'{"a":1}', qos=1, mid=7, retain=False, dup=False)
    >>> plain_publish(0x32, b"\\x00\\x0edetections/cam" + b"\\x00\\x07" + b"\\x02\\x01\\x01")
    >>> # a property (Payload Format Indicator): None, paho decodes it
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Publish", "plain_publish"]


class Publish(NamedTuple):
    """A received PUBLISH as the client takes it (read here, or by paho when it carried
    properties, which the client does not keep)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    dup: bool


def plain_publish(command: int, packet: bytes | bytearray) -> Publish | None:
    """The PUBLISH in ``packet`` (everything after the fixed header, whose first byte is
    ``command``) if it is QoS 0 or 1 with no property and a UTF-8 topic; else None.

    >>> plain_publish(0x39, b"\\x00\\x01t\\x00")  # QoS 0, retained, duplicate flag
    Publish(topic='t', payload=b'', qos=0, mid=0, retain=True, dup=True)
    >>> plain_publish(0x34, b"\\x00\\x01t\\x00\\x01\\x00")  # QoS 2: paho's
    >>> plain_publish(0x30, b"\\x00\\x02\\xff\\xfe\\x00")  # not UTF-8: paho's
    >>> plain_publish(0x32, b"\\x00\\x05t\\x00")  # shorter than its topic: paho's
    >>> plain_publish(0x30, b"\\x00\\x00\\x00x")  # no topic (an alias needs a property)
    """
    qos = (command >> 1) & 0x03
    if qos > 1 or len(packet) < 3:
        return None
    topic_end = 2 + (packet[0] << 8 | packet[1])
    if topic_end == 2:
        return None
    properties = topic_end + 2 * qos  # after the packet id, if any
    if len(packet) <= properties or packet[properties] != 0:
        return None  # too short, or a property length other than 0
    try:
        topic = packet[2:topic_end].decode()
    except UnicodeDecodeError:
        return None
    mid = packet[topic_end] << 8 | packet[topic_end + 1] if qos else 0
    return Publish(
        topic, bytes(packet[properties + 1 :]), qos, mid, bool(command & 0x01), bool(command & 0x08)
    )
