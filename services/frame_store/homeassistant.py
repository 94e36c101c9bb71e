"""Home Assistant's MQTT ``image`` entity for each camera's latest snapshot.

It lands on the camera's device (the engine's entities' too), names its
``default_entity_id`` (``object_id`` is deprecated since Home Assistant 2025.10, removed in
2026.4) and is available while the frame-store says ``online``. The engine's rule events name
this entity (``image.<node>_snapshot``) in their ``snapshot_entity`` attribute.

Example:
    >>> from sightline.topics import Topics
    >>> topic, config = image_discovery(Topics(), "front.door", "frame-store", "main")
    >>> str(topic)
    'homeassistant/image/sightline_front_door/snapshot/config'
    >>> config["image_topic"], config["content_type"], config["default_entity_id"]
    ('sightline/front.door/snapshot/latest', 'image/jpeg', 'image.sightline_front_door_snapshot')
    >>> "object_id" in config
    False
"""

from __future__ import annotations

from typing import Any

from sightline.homeassistant import camera_device, node_id, origin
from sightline.topics import Topic, Topics

OBJECT_ID = "snapshot"


def image_discovery(
    topics: Topics, camera_id: str, service: str, instance: str
) -> tuple[Topic, dict[str, Any]]:
    """The discovery topic and config of the camera's latest-snapshot ``image`` entity."""
    node = node_id(camera_id)
    unique = f"{node}_{OBJECT_ID}"
    config = {
        "name": "Last event snapshot",
        "unique_id": unique,
        "default_entity_id": f"image.{unique}",
        "image_topic": str(topics.latest_snapshot(camera_id)),
        "content_type": "image/jpeg",
        "icon": "mdi:cctv",
        "availability_topic": str(topics.status(service, instance)),
        "device": camera_device(camera_id),
        "origin": origin(),
    }
    return topics.discovery("image", node, OBJECT_ID), config
