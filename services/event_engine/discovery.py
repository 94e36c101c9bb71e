"""Home Assistant MQTT discovery: each camera a device with per-class, zone, line and rule
entities.

Per camera and per object class (``homeassistant.classes``; default: the classes the camera's
rules, lines and zones name, else person and car):

* a ``sensor`` "Person count" (objects of that class tracked now) and a ``binary_sensor``
  "Person occupancy";
* per zone, a ``sensor`` "Porch person count" and a ``binary_sensor`` "Porch person
  occupancy" (tracks of that class inside the zone), besides the zone's all-class "Porch
  count" and "Porch occupied";
* per line and direction, a ``sensor`` "Driveway entry car left to right" (crossings of that
  class), besides the all-class "Driveway entry left to right".

Per rule an ``event`` entity ("Car in") whose event types are the rule's event type in Home
Assistant's style (``line_cross``, ``zone_enter``, ...), with its icon, both from the event-type
registry (:data:`sightline.messages.event.EVENT_TYPES`: a new type needs no change here), and
whose attributes name the class,
confidence, track, line and direction, zone, reason and dwell, the event id and the camera's
snapshot ``image`` entity.

Their values come from one retained JSON state per camera (``Topics.engine_state``, see
:func:`camera_state`). They are available only while both the engine and that camera's edge
say ``online`` (``availability`` as a list, ``availability_mode: all``, as zigbee2mqtt
does), so a camera whose edge stopped never shows a stale count. Counts are ``measurement``
sensors in ``objects``, counters ``total_increasing`` in ``crossings``; every entity has an
icon. Each device carries ``sw_version`` (and ``configuration_url`` when set), each config
an ``origin``.

Per edge (diagnostics): a connectivity ``binary_sensor`` reading the edge's status topic and
an fps ``sensor`` reading ``fps`` from its retained stats
(``sightline/edge-publisher/<camera_id>/stats``).

Every entity names its ``default_entity_id`` (``object_id`` is deprecated since Home
Assistant 2025.10 and removed in 2026.4).

Example:
    >>> from sightline.config import EngineSettings
    >>> settings = EngineSettings(devices={"cam": {"zones": [
    ...     {"name": "Porch", "x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 50}]}})
    >>> configs = {c.topic: c.payload for c in discovery_configs(settings, Topics(), "s")}
    >>> porch = configs["homeassistant/binary_sensor/sightline_cam/zone_porch_occupied/config"]
    >>> [a["topic"] for a in porch["availability"]], porch["availability_mode"]
    (['s', 'sightline/edge-publisher/cam/status'], 'all')
    >>> people = configs["homeassistant/sensor/sightline_cam/zone_porch_person_count/config"]
    >>> people["name"], people["state_class"], people["icon"]
    ('Porch person count', 'measurement', 'mdi:account')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.config.engine import DeviceConfig, HomeAssistantConfig
from sightline.homeassistant import (
    camera_device,
    class_icon,
    direction_icon,
    node_id,
    origin,
    readable,
)
from sightline.ids import slug
from sightline.messages.event import EventType
from sightline.topics import Service, Topics

EDGE_SERVICE = Service.EDGE
"""The edges' service name in their status and stats topics (their instance: the camera)."""

DEFAULT_CLASSES = ("person", "car")
"""The classes with entities of a camera whose rules, lines and zones name none."""

SNAPSHOT_OBJECT_ID = "snapshot"
"""The frame-store's ``image`` entity of a camera: ``image.<node>_snapshot``."""

ZONE_ICON = "mdi:vector-square"
COUNT_UNIT = "objects"
CROSSING_UNIT = "crossings"


def entity_classes(device: DeviceConfig, config: HomeAssistantConfig) -> list[str]:
    """The object classes a camera has per-class entities for, in a stable order.

    Example:
        >>> device = DeviceConfig.model_validate({"events": [{"name": "r", "match": {
        ...     "event_type": "ZONE_ENTER", "classes": ["dog", "cat"]}}]})
        >>> entity_classes(device, HomeAssistantConfig())
        ['dog', 'cat']
        >>> entity_classes(DeviceConfig(), HomeAssistantConfig())
        ['person', 'car']
        >>> entity_classes(device, HomeAssistantConfig(classes=["bicycle"]))
        ['bicycle']
    """
    if config.classes is not None:
        return list(dict.fromkeys(config.classes))
    named: list[str] = []
    for rule in device.events:
        named += rule.match.classes or []
    for line in device.lines:
        named += line.classes or []
    for zone in device.zones:
        named += zone.classes or []
    return list(dict.fromkeys(named)) or list(DEFAULT_CLASSES)


def object_counts(state: CameraState) -> dict[str, int]:
    """Objects the camera tracks now, per class (the camera's per-class counts).

    Example:
        >>> object_counts(CameraState())
        {}
    """
    counts: dict[str, int] = {}
    for track in state.tracks.values():
        counts[track.object_class] = counts.get(track.object_class, 0) + 1
    return counts


def camera_state(device: DeviceConfig, state: CameraState) -> dict[str, Any]:
    """The JSON state of one camera, which every entity of it reads.

    ``zones``: objects per zone; ``lines``: crossings per line and direction; ``objects``:
    objects tracked now per class; ``zone_objects``: per zone, objects inside per class;
    ``line_objects``: per line and direction, crossings per class. Every configured zone,
    line and direction is present (a class only once it has a value: templates default to 0).
    """
    zones = {z.label: 0 for z in device.zones}
    zone_objects: dict[str, dict[str, int]] = {z.label: {} for z in device.zones}
    for track in state.tracks.values():
        kind = track.object_class
        for name in track.occupied_zones():
            if name in zones:
                zones[name] += 1
                zone_objects[name][kind] = zone_objects[name].get(kind, 0) + 1
    lines: dict[str, dict[str, int]] = {}
    line_objects: dict[str, dict[str, dict[str, int]]] = {}
    for line in device.lines:
        directions = [str(d) for d in sorted(line.directions)]
        lines[line.label] = {d: state.crossings.get(f"{line.label}|{d}", 0) for d in directions}
        line_objects[line.label] = {d: {} for d in directions}
    for key, count in state.class_crossings.items():
        label, _, rest = key.partition("|")
        direction, _, kind = rest.partition("|")
        if direction in line_objects.get(label, {}):
            line_objects[label][direction][kind] = count
    return {
        "zones": zones,
        "lines": lines,
        "objects": object_counts(state),
        "zone_objects": zone_objects,
        "line_objects": line_objects,
    }


@dataclass(frozen=True)
class DiscoveryConfig:
    """One retained discovery message."""

    topic: str
    payload: dict[str, Any]

    def encode(self) -> bytes:
        """The payload as compact JSON."""
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def _key(*names: str) -> str:
    """A Jinja subscript path into ``value_json``: ``["a"]["b"]`` (names quoted as JSON)."""
    return "".join(f"[{json.dumps(name)}]" for name in names)


def _number(path: str) -> str:
    return f"(value_json{path} | default(0))"


class SharedEntityError(ValueError):
    """Two entities of one camera would have the same unique id (zone ``Porch`` counting
    ``person`` and zone ``Porch person``, say)."""


def discovery_problems(settings: EngineSettings, topics: Topics | None = None) -> list[str]:
    """Why the configured devices cannot all be announced, if they cannot (key paths named).

    >>> from sightline.config import EngineSettings
    >>> square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    >>> settings = EngineSettings.model_validate({"devices": {"pi": {"camera_id": "cam",
    ...     "zones": [{"name": n, "points": square} for n in ("Porch", "Porch person")]}}})
    >>> print(discovery_problems(settings)[0])  # doctest: +ELLIPSIS
    devices.pi.zones: two Home Assistant entities of camera 'cam' would share the id 'zone_porch_person_count' ...
    """
    return [
        f"devices.{device_id}.zones: {problem}"
        for device_id, device in settings.devices.items()
        if (problem := shared_entity(settings, device_id, device, topics)) is not None
    ]


def shared_entity(
    settings: EngineSettings, device_id: str, device: DeviceConfig, topics: Topics | None = None
) -> str | None:
    """Why ``device``'s entities cannot all be announced (two would share an id), or None."""
    one = settings.model_copy(update={"devices": {device_id: device}})
    try:
        discovery_configs(one, topics or Topics(), "status")
    except SharedEntityError as exc:
        return str(exc)
    return None


class _Camera:
    """Collects the discovery configs of one camera."""

    def __init__(
        self,
        settings: EngineSettings,
        topics: Topics,
        availability_topic: str,
        camera: str,
    ) -> None:
        ha = settings.homeassistant
        self.topics = topics
        self.camera = camera
        self.node = node_id(camera, ha.node_prefix)
        self.edge_status = str(topics.status(EDGE_SERVICE, camera))
        self.device = camera_device(camera, ha.node_prefix, ha.configuration_url)
        self.origin = origin(ha.support_url)
        self.common: dict[str, Any] = {
            "availability": [{"topic": availability_topic}, {"topic": self.edge_status}],
            "availability_mode": "all",
            "state_topic": str(topics.engine_state(camera)),
        }
        self.configs: list[DiscoveryConfig] = []
        self.names: dict[str, str] = {}
        """Unique id -> the entity's name: two entities must never share one (the second
        config would replace the first, retained, and an entity would vanish)."""

    def add(
        self, component: str, object_id: str, name: str, extra: dict[str, Any], shared: bool = True
    ) -> None:
        unique = f"{self.node}_{object_id}"
        if unique in self.names:
            raise SharedEntityError(
                f"two Home Assistant entities of camera {self.camera!r} would share the id "
                f"{object_id!r} ({self.names[unique]!r}): a zone named as another zone and "
                'a class ("Porch" counting person, and "Porch person") does that; rename one'
            )
        self.names[unique] = name
        payload = {
            **(self.common if shared else {}),
            "name": name,
            "unique_id": unique,
            "default_entity_id": f"{component}.{unique}",
            "device": self.device,
            "origin": self.origin,
            **extra,
        }
        topic = str(self.topics.discovery(component, self.node, object_id))
        self.configs.append(DiscoveryConfig(topic, payload))

    def count(self, object_id: str, name: str, path: str, icon: str) -> None:
        self.add(
            "sensor",
            object_id,
            name,
            {
                "state_class": "measurement",
                "unit_of_measurement": COUNT_UNIT,
                "icon": icon,
                "value_template": f"{{{{ {_number(path)} }}}}",
            },
        )

    def occupancy(self, object_id: str, name: str, path: str, icon: str | None = None) -> None:
        extra: dict[str, Any] = {
            "device_class": "occupancy",
            "value_template": f"{{{{ 'ON' if {_number(path)} > 0 else 'OFF' }}}}",
        }
        if icon:
            extra["icon"] = icon
        self.add("binary_sensor", object_id, name, extra)

    def counter(self, object_id: str, name: str, path: str, icon: str) -> None:
        self.add(
            "sensor",
            object_id,
            name,
            {
                "state_class": "total_increasing",
                "unit_of_measurement": CROSSING_UNIT,
                "icon": icon,
                "value_template": f"{{{{ {_number(path)} }}}}",
            },
        )

    def diagnostics(self) -> None:
        diagnostic = {"entity_category": "diagnostic"}
        self.add(
            "binary_sensor",
            "edge_connected",
            "Edge connected",
            {
                **diagnostic,
                "state_topic": self.edge_status,
                "payload_on": "online",
                "payload_off": "offline",
                "device_class": "connectivity",
            },
            shared=False,  # it shows the edge's status itself, always
        )
        self.add(
            "sensor",
            "edge_fps",
            "Edge fps",
            {
                **diagnostic,
                "availability": [{"topic": self.edge_status}],
                "state_topic": str(self.topics.stats(EDGE_SERVICE, self.camera)),
                "value_template": "{{ value_json.fps }}",
                "unit_of_measurement": "fps",
                "state_class": "measurement",
                "suggested_display_precision": 1,
                "icon": "mdi:speedometer",
            },
            shared=False,
        )

    def rule_event(self, rule_name: str, kind: EventType, snapshot: bool) -> None:
        name = json.dumps(rule_name)
        snapshot_entity = f"image.{self.node}_{SNAPSHOT_OBJECT_ID}" if snapshot else None
        fields = {
            "event_type": json.dumps(kind.info.ha_event_type),  # the rule's one type
            "class": "value_json.object.class_name",
            "confidence": "value_json.object.confidence",
            "track_id": "value_json.object.track_id",
            "event_id": "value_json.event_id",
            "camera": "value_json.camera_id",
            "line": "value_json.line.name if value_json.line else none",
            "direction": "value_json.line.direction if value_json.line else none",
            "zone": "value_json.zone.name if value_json.zone else none",
            "reason": "value_json.zone.reason if value_json.zone else none",
            "dwell_s": "value_json.zone.dwell_s if value_json.zone else none",
            "snapshot_entity": json.dumps(snapshot_entity) if snapshot_entity else "none",
        }
        body = ", ".join(f"'{key}': ({value})" for key, value in fields.items())
        self.add(
            "event",
            f"rule_{slug(rule_name)}",
            readable(rule_name),
            {
                "state_topic": str(self.topics.event(self.camera, kind)),
                "event_types": [kind.info.ha_event_type],
                "device_class": "motion",
                "icon": kind.info.icon,
                # Events of other rules share the topic: render nothing for them (ignored).
                "value_template": (
                    f"{{% if value_json.rule == {name} %}}{{{{ {{{body}}} | to_json }}}}"
                    "{% endif %}"
                ),
            },
        )


def discovery_configs(
    settings: EngineSettings, topics: Topics, availability_topic: str
) -> list[DiscoveryConfig]:
    """Every discovery config for the configured devices."""
    configs: list[DiscoveryConfig] = []
    for device_id, device in settings.devices.items():
        camera = _Camera(settings, topics, availability_topic, device.camera_id or device_id)
        classes = entity_classes(device, settings.homeassistant)
        camera.diagnostics()
        for kind in classes:
            label = readable(kind)
            path, icon = _key("objects", kind), class_icon(kind)
            camera.count(f"{slug(kind)}_count", f"{label} count", path, icon)
            camera.occupancy(f"{slug(kind)}_occupancy", f"{label} occupancy", path, icon)
        for zone in device.zones:
            z, name = slug(zone.label), readable(zone.label)
            camera.occupancy(f"zone_{z}_occupied", f"{name} occupied", _key("zones", zone.label))
            camera.count(f"zone_{z}_count", f"{name} count", _key("zones", zone.label), ZONE_ICON)
            for kind in classes:
                path = _key("zone_objects", zone.label, kind)
                words = f"{name} {kind.replace('_', ' ')}"
                icon = class_icon(kind)
                camera.count(f"zone_{z}_{slug(kind)}_count", f"{words} count", path, icon)
                camera.occupancy(
                    f"zone_{z}_{slug(kind)}_occupancy", f"{words} occupancy", path, icon
                )
        for line in device.lines:
            name = readable(line.label)
            for direction in sorted(line.directions):
                d = str(direction)
                words = d.replace("_", " ")
                icon = direction_icon(d)
                object_id = f"line_{slug(line.label)}_{d}"
                camera.counter(object_id, f"{name} {words}", _key("lines", line.label, d), icon)
                for kind in classes:
                    path = _key("line_objects", line.label, d, kind)
                    label = f"{name} {kind.replace('_', ' ')} {words}"
                    camera.counter(f"{object_id}_{slug(kind)}", label, path, icon)
        for rule in device.events:
            camera.rule_event(rule.name, rule.match.event_type, rule.actions.snapshot)
        configs += camera.configs
    return configs
