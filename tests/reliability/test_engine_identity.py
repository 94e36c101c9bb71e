"""The live engine on a real Mosquitto: a camera's topic is its identity, poison envelopes
never mute a camera, and Home Assistant never shows the zones of a stopped edge as occupied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sightline.messages import decode_event, encode
from tests.event_engine.engine_process import STATUS_TOPIC, EngineProcess
from tests.event_engine.walks import Box, envelope
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish
from tests.support.service_process import status_now

DEAD = "sightline/deadletter/event-engine"
TIMEOUT_S = 1.0
MARGIN_S = 5.0
CONFIG = f"""
devices:
  jetson-01:
    camera_id: driveway
    track_timeout_s: {TIMEOUT_S}
    zones:
      - {{name: drive, x1_pct: 20, y1_pct: 30, x2_pct: 80, y2_pct: 90}}
    events:
      - {{name: in-drive, match: {{event_type: ZONE_ENTER, zone: drive}}}}
      - {{name: out-drive, match: {{event_type: ZONE_EXIT, zone: drive}}}}
  jetson-02:
    camera_id: backyard
    track_timeout_s: {TIMEOUT_S}
    silence_s: 60  # so that only its edge going offline can end its tracks this soon
    zones:
      - {{name: garden, x1_pct: 20, y1_pct: 30, x2_pct: 80, y2_pct: 90}}
    events:
      - {{name: in-garden, match: {{event_type: ZONE_ENTER, zone: garden}}}}
      - {{name: out-garden, match: {{event_type: ZONE_EXIT, zone: garden}}}}
  jetson-03:
    camera_id: porch
    track_timeout_s: {TIMEOUT_S}
    zones:
      - {{name: steps, x1_pct: 20, y1_pct: 30, x2_pct: 80, y2_pct: 90}}
    events:
      - {{name: out-steps, match: {{event_type: ZONE_EXIT, zone: steps}}}}
"""
DOG = [Box.at_foot(9, 640, 500, class_name="dog")]


@pytest.fixture
def engine(broker: Broker, tmp_path: Path) -> Iterator[EngineProcess]:
    config = tmp_path / "engine.yaml"
    config.write_text(CONFIG)
    process = EngineProcess(broker, config, tmp_path / "state")
    yield process
    process.close()


def send(broker: Broker, topic: str, payloads: list[bytes], retain: bool = False) -> None:
    publish(broker.host, broker.port, topic, payloads, retain=retain)


def frames(camera: str, device: str, numbers: range, boxes: list[Box] = DOG) -> list[bytes]:
    return [encode(envelope(n, boxes, device=device, camera=camera)) for n in numbers]


def on(messages: list[Seen], topic: str) -> list[Seen]:
    return [m for m in messages if m.topic == topic]


def published(topic: str) -> Callable[[list[Seen]], bool]:
    return lambda messages: bool(on(messages, topic))


def reasons(collector: Collector) -> list[str]:
    return [json.loads(m.payload)["reason"] for m in on(collector.messages, DEAD)]


def zones_now(broker: Broker, camera: str) -> dict[str, int]:
    """The retained engine state of ``camera``, as a new subscriber (Home Assistant) gets it."""
    late = Collector(broker.host, broker.port, f"sightline/{camera}/engine/state")
    try:
        seen = late.wait_for(lambda ms: any(m.retain for m in ms), timeout=5)
    finally:
        late.close()
    zones: dict[str, int] = json.loads(seen[-1].payload)["zones"]
    return zones


def test_an_envelope_claiming_another_camera_is_dead_lettered_and_files_nothing(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    engine.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"), timeout=30)
    # The driveway edge's login may publish detections/driveway only; it claims the backyard.
    send(broker, "detections/driveway", frames("backyard", "jetson-02", range(3)))
    send(broker, "detections/driveway", frames("driveway", "jetson-01", range(3)))
    collector.wait_for(lambda ms: bool(on(ms, "events/driveway/zone_enter")), timeout=20)
    assert engine.stop() == 0
    assert not [m for m in collector.messages if m.topic.startswith("events/backyard/")]
    assert (
        reasons(collector)
        == [
            "source.camera_id: 'backyard' is not the camera of the topic it came on "
            "(detections/driveway); refused"
        ]
        * 3
    )


def test_after_each_poison_envelope_the_camera_still_gives_its_events_also_after_a_restart(
    broker: Broker, collector: Collector, engine: EngineProcess, tmp_path: Path
) -> None:
    engine.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"), timeout=30)
    good = frames("backyard", "jetson-02", range(40))
    poison = [
        json.loads(good[5]) | {"frame": {"number": 2**62, "width": 1280, "height": 720}},
        json.loads(good[5])
        | {"source": {**json.loads(good[5])["source"], "timestamp": "9999-01-01T00:00:00Z"}},
        json.loads(good[5])
        | {"source": {**json.loads(good[5])["source"], "timestamp": "1970-01-01T00:00:00Z"}},
    ]
    bad = [json.dumps(p).encode() for p in poison]
    # A retained poison too: it stays on the broker, even for an engine with no state.
    send(broker, "detections/backyard", bad[:1], retain=True)
    send(broker, "detections/backyard", good[:10] + bad + good[10:12])  # visit 1 begins
    collector.wait_for(lambda ms: len(on(ms, "events/backyard/zone_enter")) == 1, timeout=20)
    assert engine.stop() == 0
    engine.start()  # restarted: the retained poison again, then more poison and the rest
    send(broker, "detections/backyard", bad + good[12:20])
    # The dog leaves (empty frames past track_timeout_s) and comes back: visit 2.
    send(broker, "detections/backyard", frames("backyard", "jetson-02", range(20, 60), []))
    send(broker, "detections/backyard", frames("backyard", "jetson-02", range(60, 63)))
    collector.wait_for(lambda ms: len(on(ms, "events/backyard/zone_enter")) == 2, timeout=20)
    collector.wait_for(lambda ms: len(on(ms, "events/backyard/zone_exit")) == 1, timeout=20)
    assert engine.stop() == 0
    got = reasons(collector)
    fields = [r.split(":")[0] for r in got]
    assert sorted(set(fields)) == ["frame.number", "retain", "source.timestamp"], got
    # Published retained while the engine listened, the first copy came live (and was
    # refused for its number); the restarted engine's subscription got the stored copy.
    assert fields.count("retain") == 1
    assert len(got) == 1 + 1 + 2 * len(bad)


def test_a_stopped_edge_empties_its_zones_by_wall_clock_and_its_entities_follow_it(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    edge_status = "sightline/edge-publisher/backyard/status"
    engine.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"), timeout=30)
    send(broker, edge_status, [b"online"], retain=True)
    send(broker, "detections/backyard", frames("backyard", "jetson-02", range(3)))
    send(broker, "detections/driveway", frames("driveway", "jetson-01", range(3)))
    collector.wait_for(lambda ms: bool(on(ms, "events/backyard/zone_enter")), timeout=20)
    collector.wait_for(lambda ms: bool(on(ms, "events/driveway/zone_enter")), timeout=20)
    for camera in ("backyard", "driveway"):
        collector.wait_for(published(f"sightline/{camera}/engine/state"))
    assert zones_now(broker, "backyard") == {"garden": 1}

    # The backyard edge stops (its last will): no envelope will ever end the dog's track.
    send(broker, edge_status, [b"offline"], retain=True)
    exits = collector.wait_for(
        lambda ms: bool(on(ms, "events/backyard/zone_exit")), timeout=TIMEOUT_S + MARGIN_S
    )
    exit_event = decode_event(on(exits, "events/backyard/zone_exit")[0].payload)
    assert exit_event.zone is not None
    assert exit_event.zone.reason == "lost"
    collector.wait_for(
        lambda ms: any(
            json.loads(m.payload)["zones"] == {"garden": 0}
            for m in on(ms, "sightline/backyard/engine/state")
        ),
        timeout=TIMEOUT_S + MARGIN_S,
    )
    assert zones_now(broker, "backyard") == {"garden": 0}
    # The driveway edge said nothing about itself (a seed-format edge), and is only quiet
    # for a few seconds: its tracks stay until message time or a long silence ends them.
    assert zones_now(broker, "driveway") == {"drive": 1}

    discovery = [m for m in collector.messages if m.topic.startswith("homeassistant/")]
    configs = {m.topic: json.loads(m.payload) for m in discovery if m.payload}
    garden = configs["homeassistant/binary_sensor/sightline_backyard/zone_garden_occupied/config"]
    assert garden["availability"] == [{"topic": STATUS_TOPIC}, {"topic": edge_status}]
    assert garden["availability_mode"] == "all"
    connected = configs["homeassistant/binary_sensor/sightline_backyard/edge_connected/config"]
    assert (connected["state_topic"], connected["device_class"]) == (edge_status, "connectivity")
    fps = configs["homeassistant/sensor/sightline_backyard/edge_fps/config"]
    assert fps["state_topic"] == "sightline/edge-publisher/backyard/stats"
    assert (fps["value_template"], fps["entity_category"]) == ("{{ value_json.fps }}", "diagnostic")
    assert all("object_id" not in c and "default_entity_id" in c for c in configs.values())
    assert engine.stop() == 0


def test_a_silent_edge_that_reported_online_has_its_tracks_ended_after_track_timeout_s(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    engine.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"), timeout=30)
    send(broker, "sightline/edge-publisher/porch/status", [b"online"], retain=True)
    send(broker, "detections/porch", frames("porch", "jetson-03", range(3)))
    collector.wait_for(
        lambda ms: any(
            json.loads(m.payload)["zones"] == {"steps": 1}
            for m in on(ms, "sightline/porch/engine/state")
        ),
        timeout=20,
    )
    # Online, but no envelope any more (a stuck camera): the zone empties by wall clock.
    exits = collector.wait_for(
        lambda ms: bool(on(ms, "events/porch/zone_exit")), timeout=TIMEOUT_S + MARGIN_S
    )
    assert decode_event(on(exits, "events/porch/zone_exit")[0].payload).zone.reason == "lost"  # type: ignore[union-attr]
    collector.wait_for(
        lambda ms: (
            json.loads(on(ms, "sightline/porch/engine/state")[-1].payload)["zones"] == {"steps": 0}
        ),
        timeout=TIMEOUT_S + MARGIN_S,
    )
    assert engine.stop() == 0
