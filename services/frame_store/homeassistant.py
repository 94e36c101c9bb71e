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

import re
from typing import Any

from sightline.topics import Topic, Topics

NODE_PREFIX = "sightline"
OBJECT_ID = "snapshot"


def node_id(camera_id: str) -> str:
    """The camera's Home Assistant node id: ``sightline_<camera>``, in HA's alphabet."""
    return f"{NODE_PREFIX}_{re.sub(r'[^A-Za-z0-9_-]', '_', camera_id)}"


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
        "device": {
            "identifiers": [node],
            "name": f"Sightline {camera_id}",
            "manufacturer": "Sightline",
            "model": "camera",
        },
    }
    return topics.discovery("image", node, OBJECT_ID), config
