"""Zone, line and rule names become Home Assistant ids by the one slug rule (sightline.ids):
names whose slugs meet are refused at config time, naming the key path and both names, and
the entity ids of existing configs do not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from event_engine.discovery import discovery_configs, discovery_problems
from event_engine.engine import Engine
from event_engine.reconfigure import Reconfigurer, SavedChanges
from sightline import homeassistant, ids
from sightline.config import EngineSettings, load_config
from sightline.errors import ConfigError, MessageError
from sightline.topics import Topics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BOX = {"x1_pct": 10, "y1_pct": 10, "x2_pct": 60, "y2_pct": 60}


def zone(name: str) -> dict[str, Any]:
    return {"name": name, **BOX}


def line(name: str) -> dict[str, Any]:
    return {"type": "vertical", "position_pct": 50, "name": name}


def rule(name: str) -> dict[str, Any]:
    return {"name": name, "match": {"event_type": "LINE_CROSS"}}


@pytest.mark.parametrize(
    ("device", "problem"),
    [
        (
            {"zones": [zone("Back Yard"), zone("back-yard")]},
            "devices.pi.zones: 'Back Yard' and 'back-yard' would be the same Home Assistant "
            "id 'back_yard'; rename one",
        ),
        (
            {"lines": [line("gate"), {**line("x"), "name": None, "description": "Gate!"}]},
            "devices.pi.lines: 'gate' and 'Gate!' would be the same Home Assistant id 'gate'",
        ),
        (
            {"lines": [line("gate")], "events": [rule("car-in"), rule("car_in")]},
            "devices.pi.events: 'car-in' and 'car_in' would be the same Home Assistant id",
        ),
        (
            {"zones": [zone("***")]},
            "devices.pi.zones: '***' has no letter or digit to make a Home Assistant id of",
        ),
    ],
)
def test_names_that_would_be_one_home_assistant_entity_are_refused_naming_both(
    clean_env: pytest.MonkeyPatch, device: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EngineSettings, None, devices={"pi": device})

    assert [p for p in caught.value.problems if p.startswith(problem)], caught.value.problems


def test_a_zone_and_a_line_may_share_a_slug_and_so_may_two_cameras_zones(
    clean_env: pytest.MonkeyPatch,
) -> None:
    device = {"zones": [zone("Gate")], "lines": [line("gate")]}  # zone_gate_*, line_gate_*
    settings = load_config(EngineSettings, None, devices={"pi": device, "pi-2": device})

    entities = {c.payload["unique_id"] for c in discovery_configs(settings, Topics(), "s")}

    assert {"sightline_pi_zone_gate_occupied", "sightline_pi_line_gate_left_to_right"} <= entities
    assert "sightline_pi_2_zone_gate_occupied" in entities


@pytest.mark.parametrize(
    ("fixture", "entities"),
    [
        (
            "engine/processor.yaml",
            [
                "binary_sensor.sightline_driveway_edge_connected",
                "sensor.sightline_driveway_edge_fps",
                "sensor.sightline_driveway_line_driveway_entry_left_to_right",
                "sensor.sightline_driveway_line_driveway_entry_right_to_left",
                "event.sightline_driveway_rule_car_detected",
                "binary_sensor.sightline_backyard_edge_connected",
                "sensor.sightline_backyard_edge_fps",
                "binary_sensor.sightline_backyard_zone_garden_occupied",
                "sensor.sightline_backyard_zone_garden_count",
                "event.sightline_backyard_rule_animal_in_garden",
            ],
        ),
        (
            "engine/pedestrians.yaml",
            [
                "binary_sensor.sightline_street_edge_connected",
                "sensor.sightline_street_edge_fps",
                "binary_sensor.sightline_street_zone_corner_occupied",
                "sensor.sightline_street_zone_corner_count",
                "sensor.sightline_street_line_kerb_in",
                "sensor.sightline_street_line_kerb_out",
                "event.sightline_street_rule_kerb_crossed",
                "event.sightline_street_rule_corner_entered",
                "event.sightline_street_rule_corner_left",
            ],
        ),
    ],
)
def test_the_fixtures_keep_their_home_assistant_entity_ids(
    clean_env: pytest.MonkeyPatch, fixture: str, entities: list[str]
) -> None:
    settings = load_config(EngineSettings, FIXTURES / fixture)

    configs = discovery_configs(settings, Topics(), "s")

    ids = [c.payload["default_entity_id"] for c in configs]
    assert [i for i in ids if i in entities] == entities  # all kept, new ones added around


def test_home_assistant_slugs_by_the_one_rule() -> None:
    assert homeassistant.slug is ids.slug
    assert homeassistant.node_id("Front-Door") == "sightline_front_door"


@pytest.mark.parametrize(
    ("zones", "classes", "shared"),
    [
        (["Porch", "Porch person"], None, "zone_porch_person_count"),  # person: a default class
        (["Yard", "Yard dog"], ["dog"], "zone_yard_dog_count"),
        (["Porch", "Porch steps"], None, None),  # no class is called steps
        (["Yard", "Yard dog"], ["cat"], None),
    ],
)
def test_a_zone_named_as_another_and_a_class_is_refused_when_their_entities_meet(
    zones: list[str], classes: list[str] | None, shared: str | None
) -> None:
    """Zone "Porch" counting persons and zone "Porch person" would be one entity: the
    second retained config would replace the first, and a sensor would vanish from HA."""
    settings = EngineSettings.model_validate(
        {
            "devices": {"pi": {"camera_id": "cam", "zones": [zone(z) for z in zones]}},
            "homeassistant": {"classes": classes},
        }
    )
    problems = discovery_problems(settings)
    if shared is None:
        assert problems == []
        configs = discovery_configs(settings, Topics(), "status")
        assert len({c.topic for c in configs}) == len(configs)
    else:
        [problem] = problems
        assert problem.startswith(
            f"devices.pi.zones: two Home Assistant entities of camera 'cam' would share the "
            f"id {shared!r}"
        )


@pytest.mark.parametrize("device", ["pi", "pi.porch"])  # a device id may hold dots
def test_a_live_change_whose_zones_would_share_an_entity_is_refused(
    tmp_path: Path, device: str
) -> None:
    engine = Engine(EngineSettings.model_validate({"devices": {device: {"camera_id": "cam"}}}))
    states: list[bytes] = []
    reconfigurer = Reconfigurer(
        engine, SavedChanges(tmp_path), lambda t, p, r: states.append(p), Topics()
    )
    change = {"device_id": device, "config": {"zones": [zone("Porch"), zone("Porch person")]}}
    with pytest.raises(MessageError, match=r"^config\.zones: two Home Assistant entities"):
        reconfigurer.on_set(
            "sightline/event-engine/config/cam/set", json.dumps(change).encode(), False
        )
    assert engine.device_config(device).zones == []  # type: ignore[union-attr]
    assert json.loads(states[-1])["applied"] is False
