"""What every service shares about Home Assistant's MQTT discovery: one device per camera.

The engine's zone and line entities and the frame-store's snapshot ``image`` must land on the
same device, so both take its node id, device block and ``origin`` from here. :func:`slug` is
:func:`sightline.ids.slug` (one rule; configs refuse names whose slugs collide or are empty).
Names are made readable here too (:func:`readable`), and icons chosen per object class and
crossing direction.

Example:
    >>> node_id("Front-Door")
    'sightline_front_door'
    >>> camera_device("Front-Door")["identifiers"]
    ['sightline_front_door']
    >>> slug("Back Yard")
    'back_yard'
    >>> readable("car-in"), readable("driveway entry"), readable("left_to_right")
    ('Car in', 'Driveway entry', 'Left to right')
    >>> class_icon("car"), class_icon("zebra")
    ('mdi:car', 'mdi:shape')
    >>> origin()["name"]
    'Sightline'
"""

from __future__ import annotations

import re
from typing import Any

from sightline import __version__
from sightline.ids import slug

__all__ = [
    "NODE_PREFIX",
    "camera_device",
    "class_icon",
    "direction_icon",
    "node_id",
    "origin",
    "readable",
    "slug",
]

NODE_PREFIX = "sightline"

CLASS_ICONS = {
    "person": "mdi:account",
    "bicycle": "mdi:bicycle",
    "car": "mdi:car",
    "motorcycle": "mdi:motorbike",
    "bus": "mdi:bus",
    "train": "mdi:train",
    "truck": "mdi:truck",
    "boat": "mdi:sail-boat",
    "bird": "mdi:bird",
    "cat": "mdi:cat",
    "dog": "mdi:dog",
    "horse": "mdi:horse",
    "sheep": "mdi:sheep",
    "cow": "mdi:cow",
    "bear": "mdi:teddy-bear",
    "backpack": "mdi:bag-personal",
    "umbrella": "mdi:umbrella",
    "handbag": "mdi:purse",
    "suitcase": "mdi:bag-suitcase",
}
"""Material Design icons of the COCO classes people watch for; others get ``mdi:shape``."""

DIRECTION_ICONS = {
    "left_to_right": "mdi:arrow-right-bold",
    "right_to_left": "mdi:arrow-left-bold",
    "top_to_bottom": "mdi:arrow-down-bold",
    "bottom_to_top": "mdi:arrow-up-bold",
    "in": "mdi:login",
    "out": "mdi:logout",
}


def node_id(camera_id: str, prefix: str = NODE_PREFIX) -> str:
    """The discovery node id of a camera's device."""
    return slug(f"{prefix}_{camera_id}")


def origin(support_url: str | None = None) -> dict[str, str]:
    """The ``origin`` block of every discovery config: who published it (shown in Home
    Assistant's MQTT info and logs); ``support_url`` left out when unset."""
    block = {"name": "Sightline", "sw_version": __version__}
    if support_url:
        block["support_url"] = support_url
    return block


def camera_device(
    camera_id: str, prefix: str = NODE_PREFIX, configuration_url: str | None = None
) -> dict[str, Any]:
    """The ``device`` block of every entity of a camera (``configuration_url``: the
    device page's "Visit" link, left out when unset)."""
    device: dict[str, Any] = {
        "identifiers": [node_id(camera_id, prefix)],
        "name": f"Sightline {camera_id}",
        "manufacturer": "Sightline",
        "model": "Camera",
        "sw_version": __version__,
    }
    if configuration_url:
        device["configuration_url"] = configuration_url
    return device


def readable(name: str) -> str:
    """A config name as Home Assistant shows names: words, the first capitalised."""
    words = re.sub(r"[-_\s]+", " ", name).strip()
    return words[:1].upper() + words[1:]


def class_icon(object_class: str) -> str:
    """The icon of an object class."""
    return CLASS_ICONS.get(object_class, "mdi:shape")


def direction_icon(direction: str) -> str:
    """The icon of a crossing direction."""
    return DIRECTION_ICONS.get(direction, "mdi:arrow-decision")
