"""The discovery of a two-camera config, checked against Home Assistant's documented MQTT
schemas (tests/sightline/homeassistant_schemas.py), and its entities' templates rendered
against the engine's state and events after a scripted walk, as Home Assistant renders them.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from event_engine.discovery import camera_state, discovery_configs
from event_engine.engine import Engine
from frame_store.homeassistant import image_discovery
from sightline import __version__
from sightline.config import EngineSettings
from sightline.messages.codec import encode
from sightline.messages.event import Event
from sightline.topics import Topics
from tests.event_engine.walks import run, walk
from tests.sightline.homeassistant_schemas import problems, render

ENGINE_STATUS = "sightline/event-engine/main/status"
CONFIG: dict[str, Any] = {
    "homeassistant": {"configuration_url": "http://sightline.local:8090/"},
    "devices": {
        "pi-1": {
            "camera_id": "driveway",
            "lines": [{"type": "vertical", "position_pct": 50, "description": "driveway entry"}],
            "events": [
                {
                    "name": "car-in",
                    "match": {"event_type": "LINE_CROSS", "classes": ["car"]},
                    "actions": {"snapshot": True},
                },
                {"name": "someone-crossed", "match": {"event_type": "LINE_CROSS"}},
            ],
        },
        "pi-2": {
            "camera_id": "backyard",
            "zones": [{"name": "garden", "x1_pct": 20, "y1_pct": 30, "x2_pct": 80, "y2_pct": 90}],
            "events": [
                {
                    "name": "visitor",
                    "match": {"event_type": "ZONE_ENTER", "classes": ["person", "dog"]},
                }
            ],
        },
    },
}
ACROSS = [(300 + 60 * i, 400) for i in range(12)]  # left to right across x = 640
INTO_GARDEN = [(100, 500), (100, 500), *[(600, 500)] * 6]  # (20-80 %, 30-90 %): 256..1024


def settings() -> EngineSettings:
    return EngineSettings.model_validate(CONFIG)


def configs_by_entity() -> dict[str, dict[str, Any]]:
    configs = discovery_configs(settings(), Topics(), ENGINE_STATUS)
    return {c.payload["default_entity_id"]: c.payload for c in configs}


def platform_of(entity_id: str) -> str:
    return entity_id.split(".")[0]


def test_every_config_passes_home_assistants_schema_with_no_deprecated_key() -> None:
    configs = discovery_configs(settings(), Topics(), ENGINE_STATUS)
    topic, image = image_discovery(Topics(), "driveway", "frame-store", "main")
    payloads = [(c.topic, c.payload) for c in configs] + [(str(topic), image)]

    found = {t: problems(t.split("/")[1], p) for t, p in payloads if problems(t.split("/")[1], p)}

    assert found == {}
    assert not [t for t, p in payloads if "object_id" in p]
    assert len({p["unique_id"] for _, p in payloads}) == len(payloads)
    assert Counter(platform_of(p["default_entity_id"]) for _, p in payloads) == {
        "sensor": 12,
        "binary_sensor": 8,
        "event": 3,
        "image": 1,
    }


def test_the_validator_refuses_what_home_assistant_drops_or_deprecates() -> None:
    config = configs_by_entity()["sensor.sightline_driveway_car_count"]

    assert problems("sensor", {**config, "object_id": "x"}) == [
        "object_id: deprecated by Home Assistant 2025.10, removed in 2026.4; use default_entity_id"
    ]
    assert problems("sensor", {**config, "stat_class": "measurement"}) == [
        "stat_class: not a key of sensor"
    ]
    assert problems("binary_sensor", {**config, "state_class": "measurement"})
    assert problems("event", {**config, "event_types": ["x"], "icon": "car"})
    assert problems("sensor", {**config, "payload_available": "online"})


def test_devices_name_version_visit_link_and_origin() -> None:
    config = configs_by_entity()["binary_sensor.sightline_backyard_zone_garden_person_occupancy"]

    assert config["device"] == {
        "identifiers": ["sightline_backyard"],
        "name": "Sightline backyard",
        "manufacturer": "Sightline",
        "model": "Camera",
        "sw_version": __version__,
        "configuration_url": "http://sightline.local:8090/",
    }
    assert config["origin"] == {"name": "Sightline", "sw_version": __version__}
    assert config["availability"] == [
        {"topic": ENGINE_STATUS},
        {"topic": "sightline/edge-publisher/backyard/status"},
    ]
    assert config["availability_mode"] == "all"


def test_per_class_counts_occupancy_and_counters_with_readable_names_icons_and_units() -> None:
    configs = configs_by_entity()
    shown = {
        entity: (c["name"], c.get("icon"), c.get("unit_of_measurement"), c.get("state_class"))
        for entity, c in configs.items()
        if entity.startswith(("sensor", "binary_sensor"))
    }

    assert shown["sensor.sightline_driveway_car_count"] == (
        "Car count",
        "mdi:car",
        "objects",
        "measurement",
    )
    assert shown["binary_sensor.sightline_driveway_car_occupancy"][:2] == (
        "Car occupancy",
        "mdi:car",
    )
    assert shown["sensor.sightline_driveway_line_driveway_entry_left_to_right"] == (
        "Driveway entry left to right",
        "mdi:arrow-right-bold",
        "crossings",
        "total_increasing",
    )
    assert shown["sensor.sightline_driveway_line_driveway_entry_right_to_left_car"] == (
        "Driveway entry car right to left",
        "mdi:arrow-left-bold",
        "crossings",
        "total_increasing",
    )
    # classes: the rules' (car on the driveway; person and dog in the backyard)
    assert "sensor.sightline_driveway_line_driveway_entry_left_to_right_person" not in shown
    assert shown["sensor.sightline_backyard_zone_garden_dog_count"] == (
        "Garden dog count",
        "mdi:dog",
        "objects",
        "measurement",
    )
    assert shown["binary_sensor.sightline_backyard_zone_garden_person_occupancy"][0] == (
        "Garden person occupancy"
    )
    assert (
        configs["binary_sensor.sightline_backyard_zone_garden_person_occupancy"]["device_class"]
        == "occupancy"
    )


def test_event_entities_have_home_assistant_event_types_and_a_readable_name() -> None:
    configs = configs_by_entity()
    car_in = configs["event.sightline_driveway_rule_car_in"]
    visitor = configs["event.sightline_backyard_rule_visitor"]

    assert (car_in["name"], car_in["event_types"], car_in["state_topic"]) == (
        "Car in",
        ["line_cross"],
        "events/driveway/line_cross",
    )
    assert (visitor["name"], visitor["event_types"]) == ("Visitor", ["zone_enter"])


def _entity_states(engine: Engine) -> dict[str, str]:
    """Every state entity's value, rendered from the camera's published state JSON."""
    bodies = {
        camera: json.dumps(camera_state(engine.settings.devices[device], engine.states[camera]))
        for device, camera in (("pi-1", "driveway"), ("pi-2", "backyard"))
    }
    return {
        entity: render(c["value_template"], bodies[c["state_topic"].split("/")[1]])
        for entity, c in configs_by_entity().items()
        if c.get("state_topic", "").endswith("/engine/state")
    }


def test_the_state_json_gives_each_entity_its_value_after_a_scripted_walk() -> None:
    engine = Engine(settings())
    events: list[Event] = []
    events += run(engine, walk(1, ACROSS, class_name="car"), device="pi-1", camera="driveway")
    events += run(
        engine, walk(2, ACROSS, class_name="person"), start=20, device="pi-1", camera="driveway"
    )
    events += run(
        engine, walk(3, INTO_GARDEN, class_name="person"), device="pi-2", camera="backyard"
    )

    states = _entity_states(engine)

    line = "sensor.sightline_driveway_line_driveway_entry"
    assert {k.removeprefix(line): v for k, v in states.items() if k.startswith(line)} == {
        "_left_to_right": "2",
        "_left_to_right_car": "1",
        "_right_to_left": "0",
        "_right_to_left_car": "0",
    }
    assert states["sensor.sightline_driveway_car_count"] == "1"
    assert states["binary_sensor.sightline_driveway_car_occupancy"] == "ON"
    garden = "sightline_backyard_zone_garden"
    assert states[f"binary_sensor.{garden}_occupied"] == "ON"
    assert states[f"sensor.{garden}_count"] == "1"
    assert states[f"sensor.{garden}_person_count"] == "1"
    assert states[f"binary_sensor.{garden}_person_occupancy"] == "ON"
    assert states[f"sensor.{garden}_dog_count"] == "0"
    assert states[f"binary_sensor.{garden}_dog_occupancy"] == "OFF"
    assert states["sensor.sightline_backyard_person_count"] == "1"
    assert states["binary_sensor.sightline_backyard_dog_occupancy"] == "OFF"
    assert sorted((e.rule, str(e.event_type)) for e in events) == [
        ("car-in", "LINE_CROSS"),
        ("someone-crossed", "LINE_CROSS"),
        ("someone-crossed", "LINE_CROSS"),
        ("visitor", "ZONE_ENTER"),
    ]


def _fired(event: Event) -> dict[str, dict[str, Any]]:
    """What each event entity makes of an event on its topic (those that render nothing
    ignore it, as Home Assistant does)."""
    fired: dict[str, dict[str, Any]] = {}
    topic = f"events/{event.camera_id}/{event.event_type.topic_level}"
    for entity, config in configs_by_entity().items():
        if entity.startswith("event.") and config["state_topic"] == topic:
            rendered = render(config["value_template"], encode(event).decode())
            if rendered.strip():
                attributes = json.loads(rendered)
                assert attributes["event_type"] in config["event_types"]
                fired[entity] = attributes
    return fired


@pytest.mark.parametrize("rule", ["car-in", "visitor"])
def test_event_entities_fire_with_class_direction_zone_track_and_snapshot(rule: str) -> None:
    engine = Engine(settings())
    events = run(engine, walk(1, ACROSS, class_name="car"), device="pi-1", camera="driveway")
    events += run(
        engine, walk(3, INTO_GARDEN, class_name="person"), device="pi-2", camera="backyard"
    )
    [event] = [e for e in events if e.rule == rule]

    fired = _fired(event)

    if rule == "car-in":
        assert fired == {
            "event.sightline_driveway_rule_car_in": {
                "event_type": "line_cross",
                "class": "car",
                "confidence": 0.9,
                "track_id": 1,
                "event_id": event.event_id,
                "camera": "driveway",
                "line": "driveway entry",
                "direction": "left_to_right",
                "zone": None,
                "reason": None,
                "dwell_s": None,
                "snapshot_entity": "image.sightline_driveway_snapshot",
            }
        }
    else:
        [(entity, attributes)] = fired.items()
        assert entity == "event.sightline_backyard_rule_visitor"
        assert attributes["event_type"] == "zone_enter"
        assert (attributes["class"], attributes["zone"], attributes["track_id"]) == (
            "person",
            "garden",
            3,
        )
        assert (attributes["line"], attributes["direction"]) == (None, None)
