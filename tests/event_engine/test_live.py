"""The live engine against a real Mosquitto with the seed's processor.yaml shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.messages import decode_event, encode
from tests.event_engine.engine_process import STATUS_TOPIC, EngineProcess
from tests.event_engine.walks import Box, envelope
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "engine"
DEAD = "sightline/deadletter/event-engine"
GARDEN_OCCUPIED = "homeassistant/binary_sensor/sightline_backyard/zone_garden_occupied/config"


@pytest.fixture
def engine(broker: Broker, tmp_path: Path) -> Iterator[EngineProcess]:
    process = EngineProcess(broker, FIXTURES / "processor.yaml", tmp_path / "state")
    yield process
    process.close()


def online(messages: list[Seen]) -> bool:
    return any(m.topic == STATUS_TOPIC and m.payload == b"online" for m in messages)


def on(collector: Collector, topic: str) -> list[Seen]:
    return [m for m in collector.messages if m.topic == topic]


def send(broker: Broker, camera: str, device: str, number: int, boxes: list[Box]) -> None:
    payload = encode(envelope(number, boxes, device=device, camera=camera))
    publish(broker.host, broker.port, f"detections/{camera}", [payload])


def test_events_on_the_bus_with_redelivery_ignored_and_unknown_device_dead_lettered_once(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    engine.start()
    collector.wait_for(online)
    send(broker, "driveway", "jetson-01", 0, [Box.at_foot(4, 600, 500, class_name="car")])
    send(broker, "driveway", "jetson-01", 1, [Box.at_foot(4, 700, 500, class_name="car")])
    # Frame 0 again (a redelivery): taken as new, the car would cross back right to left.
    send(broker, "driveway", "jetson-01", 0, [Box.at_foot(4, 600, 500, class_name="car")])
    send(broker, "driveway", "jetson-01", 2, [Box.at_foot(4, 700, 500, class_name="car")])
    for number in range(3):
        send(broker, "stranger", "jetson-99", number, [])
    rule_entity = "homeassistant/event/sightline_driveway/rule_car_detected/config"
    collector.wait_for(lambda ms: bool(on(collector, rule_entity)))
    rule_config = json.loads(on(collector, rule_entity)[0].payload)
    assert (rule_config["state_topic"], rule_config["event_types"]) == (
        "events/driveway/line_cross",
        ["line_cross"],
    )

    send(broker, "backyard", "jetson-02", 0, [Box.at_foot(9, 640, 500, class_name="dog")])

    collector.wait_for(lambda ms: any(m.topic == "events/backyard/zone_enter" for m in ms))
    crossings = on(collector, "events/driveway/line_cross")
    entries = on(collector, "events/backyard/zone_enter")
    dead = on(collector, DEAD)
    assert len(crossings) == 1
    crossing = decode_event(crossings[0].payload)
    assert (crossing.rule, crossing.line and crossing.line.direction) == (
        "car-detected",
        "left_to_right",
    )
    assert crossing.actions.email_immediate
    assert decode_event(entries[0].payload).zone.name == "garden"  # type: ignore[union-attr]
    assert [json.loads(m.payload)["reason"] for m in dead] == [
        "source.device_id: unknown device 'jetson-99' (not under devices:)"
    ]
    assert engine.stop() == 0


def test_home_assistant_discovery_is_retained_republished_and_removed(
    broker: Broker, collector: Collector, engine: EngineProcess, tmp_path: Path
) -> None:
    engine.start()
    collector.wait_for(lambda ms: bool(on(collector, GARDEN_OCCUPIED)))
    config = json.loads(on(collector, GARDEN_OCCUPIED)[0].payload)
    assert config["availability"] == [
        {"topic": STATUS_TOPIC},
        {"topic": "sightline/edge-publisher/backyard/status"},
    ]
    assert config["availability_mode"] == "all"
    assert config["default_entity_id"] == "binary_sensor.sightline_backyard_zone_garden_occupied"
    assert config["state_topic"] == "sightline/backyard/engine/state"
    late = Collector(broker.host, broker.port, "homeassistant/#")  # sees retained messages
    try:
        retained = late.wait_for(lambda ms: any(m.topic == GARDEN_OCCUPIED for m in ms))
    finally:
        late.close()
    assert all(m.retain for m in retained)
    crossing_sensors = [
        m.topic
        for m in collector.messages
        if m.topic.startswith("homeassistant/sensor/sightline_driveway/")
    ]
    assert sorted(crossing_sensors) == [
        "homeassistant/sensor/sightline_driveway/car_count/config",
        "homeassistant/sensor/sightline_driveway/edge_fps/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_left_to_right/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_left_to_right_car/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_left_to_right_person/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_right_to_left/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_right_to_left_car/config",
        "homeassistant/sensor/sightline_driveway/line_driveway_entry_right_to_left_person/config",
        "homeassistant/sensor/sightline_driveway/person_count/config",
    ]

    send(broker, "backyard", "jetson-02", 0, [Box.at_foot(9, 640, 500, class_name="dog")])
    collector.wait_for(
        lambda ms: any(
            m.topic == "sightline/backyard/engine/state"
            and json.loads(m.payload)["zones"]["garden"] == 1
            for m in ms
        )
    )
    publish(broker.host, broker.port, "homeassistant/status", [b"online"])
    collector.wait_for(lambda ms: len(on(collector, GARDEN_OCCUPIED)) >= 2)
    assert engine.stop() == 0

    # The garden is removed from the config: its retained configs are emptied.
    trimmed = tmp_path / "trimmed.yaml"
    text = (FIXTURES / "processor.yaml").read_text()
    trimmed.write_text(text.split("  jetson-02:")[0])
    second = EngineProcess(broker, trimmed, tmp_path / "state")
    try:
        second.start()
        collector.wait_for(
            lambda ms: any(m.topic == GARDEN_OCCUPIED and m.payload == b"" for m in ms)
        )
        assert second.stop() == 0
    finally:
        second.close()


DWELL_CONFIG = """
devices:
  jetson-02:
    camera_id: backyard
    zones:
      - {x1_pct: 20, y1_pct: 30, x2_pct: 80, y2_pct: 90, description: garden, dwell_s: 0.2}
    events:
      - {name: in-garden, match: {event_type: ZONE_ENTER, zone: garden}}
      - {name: stays, match: {event_type: ZONE_DWELL, zone: garden}}
homeassistant: {enabled: false}
"""


def test_an_engine_restarted_mid_visit_neither_reenters_nor_forgets_the_dwell(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    config = tmp_path / "dwell.yaml"
    config.write_text(DWELL_CONFIG)
    dog = [Box.at_foot(9, 640, 500, class_name="dog")]
    first = EngineProcess(broker, config, tmp_path / "state")
    second = EngineProcess(broker, config, tmp_path / "state")
    try:
        first.start()
        collector.wait_for(online)
        for number in range(3):  # 80 ms inside
            send(broker, "backyard", "jetson-02", number, dog)
        collector.wait_for(lambda ms: bool(on(collector, "events/backyard/zone_enter")))
        assert first.stop() == 0
        second.start()
        for number in range(3, 8):  # on to 280 ms
            send(broker, "backyard", "jetson-02", number, dog)
        collector.wait_for(lambda ms: bool(on(collector, "events/backyard/zone_dwell")))
        assert second.stop() == 0
    finally:
        first.close()
        second.close()
    assert len(on(collector, "events/backyard/zone_enter")) == 1
    dwell = decode_event(on(collector, "events/backyard/zone_dwell")[0].payload)
    assert dwell.frame_number == 5
