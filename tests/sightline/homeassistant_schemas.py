"""Home Assistant's MQTT discovery schemas, as documented, for the platforms Sightline uses.

Built from Home Assistant's MQTT integration docs (``sensor.mqtt``, ``binary_sensor.mqtt``,
``event.mqtt``, ``image.mqtt``) and the schemas in its source
(``homeassistant/components/mqtt/schemas.py``: ``MQTT_ENTITY_COMMON_SCHEMA``, the
availability, device and origin schemas) as of 2026: every key a platform takes, with the
type Home Assistant checks. Unlike Home Assistant, which silently drops unknown keys from
discovery payloads, :func:`problems` reports each one, and each deprecated or removed key
(``object_id``: deprecated in 2025.10 for ``default_entity_id``, removed in 2026.4), so a
typo or a stale key cannot hide.

Templates are checked to parse as Jinja, and :func:`render` renders a value template as
Home Assistant does for MQTT (``value``, ``value_json``, its ``to_json`` filter).

Example:
    >>> problems("sensor", {"state_topic": "a/b", "object_id": "x", "colour": "red"})
    ['object_id: deprecated by Home Assistant 2025.10, removed in 2026.4; use default_entity_id', 'colour: not a key of sensor']
    >>> render("{{ value_json.n | default(0) }}", '{"n": 3}')
    '3'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

Check = Callable[[Any], str | None]
"""A value check: None when fine, else what is wrong."""

DEPRECATED = {
    "object_id": "deprecated by Home Assistant 2025.10, removed in 2026.4; use default_entity_id",
    "via_hub": "deprecated; use via_device",
    "json_attributes": "removed; use json_attributes_topic",
    "last_reset_topic": "removed; use last_reset_value_template",
}

TOPIC = re.compile(r"^[^#+\x00]+$")
SUBSCRIBE = re.compile(r"^[^\x00]+$")
ICON = re.compile(r"^[a-z0-9_-]+:[a-z0-9-]+$")


def _env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=jinja2.Undefined)
    env.filters["to_json"] = lambda value: json.dumps(value)
    return env


def render(template: str, payload: str) -> str:
    """Render a value template against an MQTT payload, as Home Assistant does."""
    try:
        value_json: Any = json.loads(payload)
    except ValueError:
        value_json = None
    return _env().from_string(template).render(value=payload, value_json=value_json)


def string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"{value!r} is not a string"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"{value!r} is not a boolean"


def positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"{value!r} is not a positive integer"


def one_of(*allowed: Any) -> Check:
    return lambda value: None if value in allowed else f"{value!r} is not one of {allowed}"


def subscribe_topic(value: Any) -> str | None:
    if not isinstance(value, str) or not SUBSCRIBE.match(value):
        return f"{value!r} is not a topic"
    return None


def template(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} is not a template"
    try:
        _env().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        return f"template does not parse: {exc}"
    return None


def url(value: Any) -> str | None:
    ok = isinstance(value, str) and re.match(r"^(https?|homeassistant)://\S+$", value)
    return None if ok else f"{value!r} is not a URL"


def icon(value: Any) -> str | None:
    return None if isinstance(value, str) and ICON.match(value) else f"{value!r} is not an icon"


def string_list(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    return None if ok else f"{value!r} is not a list of strings"


def keyed(schema: dict[str, Check], required: set[str] = frozenset()) -> Check:  # type: ignore[assignment]
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{value!r} is not a mapping"
        found = _check(schema, value, "")
        found += [f"{key}: required" for key in sorted(required - value.keys())]
        return "; ".join(found) or None

    return check


DEVICE = {
    "identifiers": string_list,
    "connections": lambda v: None if isinstance(v, list) else "not a list",
    "manufacturer": string,
    "model": string,
    "model_id": string,
    "name": string,
    "hw_version": string,
    "serial_number": string,
    "sw_version": string,
    "via_device": string,
    "suggested_area": string,
    "configuration_url": url,
}
ORIGIN = {"name": string, "sw_version": string, "support_url": url}
AVAILABILITY_ITEM = {
    "topic": subscribe_topic,
    "payload_available": string,
    "payload_not_available": string,
    "value_template": template,
}


def availability_list(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"{value!r} is not a list of topics"
    found = [keyed(AVAILABILITY_ITEM, {"topic"})(item) for item in value]
    return "; ".join(f for f in found if f) or None


BASE: dict[str, Check] = {"qos": one_of(0, 1, 2), "encoding": string, "group": string_list}
AVAILABILITY: dict[str, Check] = {
    "availability_topic": subscribe_topic,
    "availability_template": template,
    "payload_available": string,
    "payload_not_available": string,
    "availability_mode": one_of("all", "any", "latest"),
    "availability": availability_list,
}
COMMON: dict[str, Check] = {
    **AVAILABILITY,
    "device": keyed(DEVICE),
    "entity_picture": url,
    "origin": keyed(ORIGIN, {"name"}),
    "enabled_by_default": boolean,
    "entity_category": one_of("config", "diagnostic"),
    "icon": icon,
    "json_attributes_topic": subscribe_topic,
    "json_attributes_template": template,
    "default_entity_id": string,
    "message_expiry_interval": positive_int,
    "unique_id": string,
    "visible_by_default": boolean,
}
READ_ONLY: dict[str, Check] = {**BASE, "state_topic": subscribe_topic, "value_template": template}

SENSOR_DEVICE_CLASSES = [
    "apparent_power",
    "aqi",
    "area",
    "atmospheric_pressure",
    "battery",
    "blood_glucose_concentration",
    "carbon_dioxide",
    "carbon_monoxide",
    "current",
    "data_rate",
    "data_size",
    "date",
    "distance",
    "duration",
    "energy",
    "energy_distance",
    "energy_storage",
    "enum",
    "frequency",
    "gas",
    "humidity",
    "illuminance",
    "irradiance",
    "moisture",
    "monetary",
    "nitrogen_dioxide",
    "nitrogen_monoxide",
    "nitrous_oxide",
    "ozone",
    "ph",
    "pm1",
    "pm10",
    "pm25",
    "power",
    "power_factor",
    "precipitation",
    "precipitation_intensity",
    "pressure",
    "reactive_power",
    "signal_strength",
    "sound_pressure",
    "speed",
    "sulphur_dioxide",
    "temperature",
    "timestamp",
    "volatile_organic_compounds",
    "volatile_organic_compounds_parts",
    "voltage",
    "volume",
    "volume_flow_rate",
    "volume_storage",
    "water",
    "weight",
    "wind_direction",
    "wind_speed",
]
BINARY_SENSOR_DEVICE_CLASSES = [
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
]

PLATFORMS: dict[str, dict[str, Check]] = {
    "sensor": {
        **READ_ONLY,
        **COMMON,
        "device_class": one_of(None, *SENSOR_DEVICE_CLASSES),
        "expire_after": positive_int,
        "force_update": boolean,
        "last_reset_value_template": template,
        "name": lambda v: None if v is None else string(v),
        "options": string_list,
        "suggested_display_precision": positive_int,
        "state_class": one_of(
            None, "measurement", "measurement_angle", "total", "total_increasing"
        ),
        "unit_of_measurement": lambda v: None if v is None else string(v),
    },
    "binary_sensor": {
        **READ_ONLY,
        **COMMON,
        "device_class": one_of(None, *BINARY_SENSOR_DEVICE_CLASSES),
        "expire_after": positive_int,
        "force_update": boolean,
        "name": lambda v: None if v is None else string(v),
        "off_delay": positive_int,
        "payload_off": string,
        "payload_on": string,
    },
    "event": {
        **READ_ONLY,
        **COMMON,
        "device_class": one_of("button", "doorbell", "motion"),
        "name": lambda v: None if v is None else string(v),
        "event_types": string_list,
    },
    "image": {
        **BASE,
        **COMMON,
        "content_type": string,
        "name": lambda v: None if v is None else string(v),
        "url_topic": subscribe_topic,
        "image_topic": subscribe_topic,
        "image_encoding": one_of("b64"),
        "url_template": template,
    },
}
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
    "image": set(),
}


def _check(schema: dict[str, Check], payload: dict[str, Any], platform: str) -> list[str]:
    found: list[str] = []
    for key, value in payload.items():
        if key in DEPRECATED:
            found.append(f"{key}: {DEPRECATED[key]}")
        elif key not in schema:
            found.append(f"{key}: not a key of {platform or 'this block'}")
        elif (problem := schema[key](value)) is not None:
            found.append(f"{key}: {problem}")
    return found


def problems(platform: str, payload: dict[str, Any]) -> list[str]:
    """What Home Assistant's schema of ``platform`` refuses, warns about or would drop."""
    found = _check(PLATFORMS[platform], payload, platform)
    found += [f"{key}: required" for key in sorted(REQUIRED[platform] - payload.keys())]
    if "availability" in payload and "availability_topic" in payload:
        found.append("availability: not together with availability_topic")
    if "availability" in payload and {"payload_available", "payload_not_available"} & set(payload):
        found.append("payload_available: belongs in each availability item of the list")
    if platform == "image":
        topics = {"image_topic", "url_topic"} & payload.keys()
        if len(topics) != 1:
            found.append("image_topic: exactly one of image_topic and url_topic")
        if "content_type" in payload and "url_topic" in payload:
            found.append("content_type: not together with url_topic")
    entity_id = payload.get("default_entity_id")
    if isinstance(entity_id, str) and not re.match(rf"^{platform}\.[a-z0-9_]+$", entity_id):
        found.append(f"default_entity_id: {entity_id!r} is not a {platform} entity id")
    device_name = payload.get("device", {}).get("name")
    name = payload.get("name")
    if isinstance(name, str) and isinstance(device_name, str) and name.startswith(device_name):
        found.append(f"name: {name!r} starts with the device's name (Home Assistant strips it)")
    return found
