"""Home Assistant's MQTT ``image`` entity for each camera's latest snapshot.

Example:
    >>> from sightline.topics import Topics
    >>> topic, config = image_discovery(Topics(), "front.door", "frame-store", "main")
    >>> str(topic)
    'homeassistant/image/sightline_front_door/snapshot/config'
    >>> config["image_topic"], config["content_type"]
    ('sightline/front.door/snapshot/latest', 'image/jpeg')
"""

from __future__ import annotations

from typing import Any

from sightline.homeassistant import camera_device, node_id
from sightline.topics import Topic, Topics

OBJECT_ID = "snapshot"


def image_discovery(
    topics: Topics, camera_id: str, service: str, instance: str
) -> tuple[Topic, dict[str, Any]]:
    """The discovery topic and config of the camera's latest-snapshot ``image`` entity."""
    node = node_id(camera_id)
    config = {
        "name": "Last event snapshot",
        "unique_id": f"{node}_{OBJECT_ID}",
        "object_id": f"{node}_{OBJECT_ID}",
        "image_topic": str(topics.latest_snapshot(camera_id)),
        "content_type": "image/jpeg",
        "availability_topic": str(topics.status(service, instance)),
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": camera_device(camera_id),
    }
    return topics.discovery("image", node, OBJECT_ID), config
