"""The MQTT client every service uses, and its bounded publish queue."""

from __future__ import annotations

from sightline.mqtt.client import (
    OFFLINE,
    ONLINE,
    Handler,
    MqttClient,
    ReceivedMessage,
)
from sightline.mqtt.pending import Completion, PendingPublish
from sightline.mqtt.queue import PublishQueue, QueuedMessage

__all__ = [
    "OFFLINE",
    "ONLINE",
    "Completion",
    "Handler",
    "MqttClient",
    "PendingPublish",
    "PublishQueue",
    "QueuedMessage",
    "ReceivedMessage",
]
