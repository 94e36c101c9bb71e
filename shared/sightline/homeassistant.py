"""What every service shares about Home Assistant's MQTT discovery: one device per camera.

The engine's zone and line entities and the frame-store's snapshot ``image`` must land on the
same device, so both take its node id and device block from here.

Example:
    >>> node_id("Front-Door")
    'sightline_front_door'
    >>> camera_device("Front-Door")["identifiers"]
    ['sightline_front_door']
"""

from __future__ import annotations

import re
from typing import Any

NODE_PREFIX = "sightline"


def slug(text: str) -> str:
    """``text`` in Home Assistant's id alphabet: lower case ``[a-z0-9_]``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"


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
