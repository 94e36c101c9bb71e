"""What every service shares about Home Assistant's MQTT discovery: one device per camera.

The engine's zone and line entities and the frame-store's snapshot ``image`` must land on the
same device, so both take its node id and device block from here. :func:`slug` is
:func:`sightline.ids.slug` (one rule; configs refuse names whose slugs collide or are empty).

Example:
    >>> node_id("Front-Door")
    'sightline_front_door'
    >>> camera_device("Front-Door")["identifiers"]
    ['sightline_front_door']
    >>> slug("Back Yard")
    'back_yard'
"""

from __future__ import annotations

from typing import Any

from sightline.ids import slug

__all__ = ["NODE_PREFIX", "camera_device", "node_id", "slug"]

NODE_PREFIX = "sightline"


def node_id(camera_id: str, prefix: str = NODE_PREFIX) -> str:
    """The discovery node id of a camera's device."""
    return slug(f"{prefix}_{camera_id}")


def camera_device(camera_id: str, prefix: str = NODE_PREFIX) -> dict[str, Any]:
    """The ``device`` block of every entity of a camera."""
    return {
        "identifiers": [node_id(camera_id, prefix)],
        "name": f"Sightline {camera_id}",
        "manufacturer": "Sightline",
        "model": "camera",
    }
