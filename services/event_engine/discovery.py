"""Home Assistant MQTT discovery: each camera a device with zone and line entities.

Per camera: a ``binary_sensor`` per zone (occupied), a ``sensor`` per zone (objects inside)
and per line and direction (crossings), an ``event`` per rule. Their values come from one
retained JSON state per camera (``Topics.engine_state``). They are available only while both
the engine and that camera's edge say ``online`` (``availability`` as a list,
``availability_mode: all``), so a camera whose edge stopped never shows a stale count.

Per edge (diagnostics): a connectivity ``binary_sensor`` reading the edge's status topic and
an fps ``sensor`` reading ``fps`` from its retained stats
(``sightline/edge-publisher/<camera_id>/stats``).

Every entity names its ``default_entity_id`` (``object_id`` is deprecated since Home
Assistant 2025.10).

Example:
    >>> from sightline.config import EngineSettings
    >>> settings = EngineSettings(devices={"cam": {"zones": [
    ...     {"name": "Porch", "x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 50}]}})
    >>> configs = {c.topic: c.payload for c in discovery_configs(settings, Topics(), "s")}
    >>> porch = configs["homeassistant/binary_sensor/sightline_cam/zone_porch_occupied/config"]
    >>> [a["topic"] for a in porch["availability"]], porch["availability_mode"]
    (['s', 'sightline/edge-publisher/cam/status'], 'all')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.config.engine import DeviceConfig
from sightline.homeassistant import camera_device, node_id
from sightline.ids import slug
from sightline.topics import Topics

EDGE_SERVICE = "edge-publisher"
"""The edges' service name in their status and stats topics (their instance: the camera)."""


def camera_state(device: DeviceConfig, state: CameraState) -> dict[str, Any]:
    """The JSON state of one camera: objects per zone, crossings per line and direction."""
    counts = state.zone_counts()
    lines: dict[str, dict[str, int]] = {}
    for line in device.lines:
        lines[line.label] = {
            str(d): state.crossings.get(f"{line.label}|{d}", 0) for d in sorted(line.directions)
        }
    return {"zones": {z.label: counts.get(z.label, 0) for z in device.zones}, "lines": lines}


@dataclass(frozen=True)
class DiscoveryConfig:
    """One retained discovery message."""

    topic: str
    payload: dict[str, Any]

    def encode(self) -> bytes:
        """The payload as compact JSON."""
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def discovery_configs(
    settings: EngineSettings, topics: Topics, availability_topic: str
) -> list[DiscoveryConfig]:
    """Every discovery config for the configured devices."""
    configs: list[DiscoveryConfig] = []
    prefix = settings.homeassistant.node_prefix
    for device_id, device in settings.devices.items():
        camera = device.camera_id or device_id
        node = node_id(camera, prefix)
        edge_status = str(topics.status(EDGE_SERVICE, camera))
        common: dict[str, Any] = {
            "availability": [{"topic": availability_topic}, {"topic": edge_status}],
            "availability_mode": "all",
            "payload_available": "online",
            "payload_not_available": "offline",
            "state_topic": str(topics.engine_state(camera)),
            "device": camera_device(camera, prefix),
        }

        def add(
            component: str,
            object_id: str,
            name: str,
            extra: dict[str, Any],
            node: str = node,
            common: dict[str, Any] = common,
        ) -> None:
            unique = f"{node}_{object_id}"
            payload = {
                **common,
                "name": name,
                "unique_id": unique,
                "default_entity_id": f"{component}.{unique}",
                **extra,
            }
            configs.append(
                DiscoveryConfig(str(topics.discovery(component, node, object_id)), payload)
            )

        bare = {"device": camera_device(camera, prefix), "entity_category": "diagnostic"}
        add(
            "binary_sensor",
            "edge_connected",
            "Edge connected",
            {
                **bare,
                "state_topic": edge_status,
                "payload_on": "online",
                "payload_off": "offline",
                "device_class": "connectivity",
            },
        )
        for key in ("availability", "availability_mode", "payload_available"):
            configs[-1].payload.pop(key)  # it shows the edge's status itself, always
        configs[-1].payload.pop("payload_not_available")
        add(
            "sensor",
            "edge_fps",
            "Edge fps",
            {
                **bare,
                "availability": [{"topic": edge_status}],
                "state_topic": str(topics.stats(EDGE_SERVICE, camera)),
                "value_template": "{{ value_json.fps }}",
                "unit_of_measurement": "fps",
                "state_class": "measurement",
            },
        )

        for zone in device.zones:
            key = json.dumps(zone.label)
            count = f"(value_json.zones[{key}] | default(0))"
            add(
                "binary_sensor",
                f"zone_{slug(zone.label)}_occupied",
                f"{zone.label} occupied",
                {
                    "device_class": "occupancy",
                    "value_template": f"{{{{ 'ON' if {count} > 0 else 'OFF' }}}}",
                },
            )
            add(
                "sensor",
                f"zone_{slug(zone.label)}_count",
                f"{zone.label} objects",
                {"state_class": "measurement", "value_template": f"{{{{ {count} }}}}"},
            )
        for line in device.lines:
            key = json.dumps(line.label)
            for direction in sorted(line.directions):
                add(
                    "sensor",
                    f"line_{slug(line.label)}_{direction}",
                    f"{line.label} {direction.replace('_', ' ')}",
                    {
                        "state_class": "total_increasing",
                        "value_template": (
                            f"{{{{ value_json.lines[{key}][{json.dumps(str(direction))}] }}}}"
                        ),
                    },
                )
        for rule in device.events:
            kind = rule.match.event_type
            name = json.dumps(rule.name)
            add(
                "event",
                f"rule_{slug(rule.name)}",
                rule.name,
                {
                    "state_topic": str(topics.event(camera, kind)),
                    "event_types": [str(kind)],
                    # Events of other rules share the topic: render nothing for them (ignored).
                    "value_template": (
                        f"{{% if value_json.rule == {name} %}}{{{{ {{'event_type': "
                        "value_json.event_type, 'track_id': value_json.object.track_id, "
                        "'event_id': value_json.event_id} | to_json }}{% endif %}"
                    ),
                },
            )
    return configs
