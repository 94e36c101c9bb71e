"""Live changes of a camera's lines, zones and rules: the console's ``set``, SIGHUP, the file.

The live tests run a real engine process against a real Mosquitto and feed it the recorded
detections of the bundled video (three people step over the kerb: frames 74, 141, 213).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from event_engine.reconfigure import parse_proposal
from event_engine.shapes import reconcile
from event_engine.tracks import CameraState, TrackState, ZoneVisit
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from sightline.messages.envelope import DetectionEnvelope
from sightline.messages.sightings import Sighting
from tests.event_engine.engine_process import STATUS_TOPIC, EngineProcess
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "engine"
SET = "sightline/event-engine/config/street/set"
STATE = "sightline/event-engine/config/street/state"
DEAD = "sightline/deadletter/event-engine"
KERB = {"type": "polyline", "name": "kerb", "points": [[0, 600], [280, 600]], "units": "px"}
RULE = {"name": "kerb-crossed", "match": {"event_type": "LINE_CROSS", "line": "kerb"}}
BARE_YAML = """\
input: {type: mqtt}
devices:
  street-pi:
    camera_id: street
    track_timeout_s: 1.0
"""


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "payload: not JSON"),
        (b"[]", "payload: must be an object"),
        (b'{"config": {}}', "device_id: required"),
        (b'{"device_id": "street-pi"}', "config: required"),
        (b'{"device_id": "street-pi", "config": {}, "x": 1}', "x: unknown key"),
        (b'{"device_id": "..", "config": {}}', "device_id:"),
        (
            b'{"device_id": "street-pi", "config": {"camera_id": "garage"}}',
            "config.camera_id: 'garage' is not the camera of the topic",
        ),
        (
            b'{"device_id": "street-pi", "config": {"lines": [{"type": "vertical"}]}}',
            "config.lines[0]",
        ),
        (
            b'{"device_id": "street-pi", "config": {"zones": [{"name": "bow", '
            b'"points": [[0, 0], [10, 10], [10, 0], [0, 10]]}]}}',
            "config.",
        ),
        (
            b'{"device_id": "street-pi", "config": {"events": [{"name": "r", '
            b'"match": {"event_type": "LINE_CROSS", "line": "nowhere"}}]}}',
            "config.events[0].match.line: no line named 'nowhere'",
        ),
    ],
)
def test_a_bad_change_is_refused_naming_the_field(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as refused:
        parse_proposal("street", payload)
    assert reason in refused.value.reason


def test_a_change_without_camera_id_takes_the_topics_camera() -> None:
    proposal = parse_proposal("street", json.dumps({"device_id": "pi", "config": {}}).encode())
    assert (proposal.device_id, proposal.config.camera_id) == ("pi", "street")


def _track() -> TrackState:
    envelope = DetectionEnvelope.model_validate_json(
        (FIXTURES / "pedestrians.jsonl").read_text().splitlines()[0]
    )
    track = TrackState(1, datetime(2025, 1, 1, tzinfo=UTC), 0, Sighting.of(envelope.detections[0]))
    track.sides = {"kerb": 1, "gate": -1}
    track.line_quiet_until = {"kerb|in": track.last_seen, "gate|out": track.last_seen}
    track.zones = {"corner": ZoneVisit(occupied=True), "yard": ZoneVisit(occupied=True)}
    return track


@pytest.mark.parametrize(
    ("new_lines", "new_zones", "sides", "quiet", "zones"),
    [
        # nothing changed: everything kept
        (
            [KERB, {**KERB, "name": "gate"}],
            ["corner", "yard"],
            {"kerb", "gate"},
            2,
            {"corner", "yard"},
        ),
        # the kerb moved: its side and cool-down are forgotten, the gate's kept
        (
            [{**KERB, "points": [[0, 500], [280, 500]]}, {**KERB, "name": "gate"}],
            ["corner", "yard"],
            {"gate"},
            1,
            {"corner", "yard"},
        ),
        # the gate and the yard were deleted
        ([KERB], ["corner"], {"kerb"}, 1, {"corner"}),
    ],
)
def test_only_what_tracks_knew_of_changed_shapes_is_forgotten(
    new_lines: list[dict[str, object]],
    new_zones: list[str],
    sides: set[str],
    quiet: int,
    zones: set[str],
) -> None:
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    old = DeviceConfig.model_validate(
        {
            "lines": [KERB, {**KERB, "name": "gate"}],
            "zones": [{"name": n, "points": square} for n in ("corner", "yard")],
        }
    )
    new = DeviceConfig.model_validate(
        {"lines": new_lines, "zones": [{"name": n, "points": square} for n in new_zones]}
    )
    state = CameraState()
    reconcile(state, old)  # the fingerprints of what the track's memory was measured on
    state.tracks[1] = _track()
    reconcile(state, new)
    track = state.tracks[1]
    assert (set(track.sides), len(track.line_quiet_until), set(track.zones)) == (
        sides,
        quiet,
        zones,
    )


# --- the live engine ---------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text(BARE_YAML)
    return path


@pytest.fixture
def engine(broker: Broker, config: Path, tmp_path: Path) -> Iterator[EngineProcess]:
    process = EngineProcess(broker, config, tmp_path / "state")
    yield process
    process.close()


def _states(collector: Collector) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in collector.messages if m.topic == STATE and m.payload]


def _last_state(collector: Collector) -> dict[str, object]:
    states = _states(collector)
    return states[-1] if states else {}


def _lines_of(state: dict[str, object]) -> list[str]:
    config = state.get("config") or {}
    assert isinstance(config, dict)
    return [str(line.get("name")) for line in config.get("lines", [])]


def _online(messages: list[Seen]) -> bool:
    return any(m.topic == STATUS_TOPIC and m.payload == b"online" for m in messages)


def _feed(broker: Broker) -> None:
    lines = (FIXTURES / "pedestrians.jsonl").read_text().splitlines()
    publish(broker.host, broker.port, "detections/street", [line.encode() for line in lines])


def _crossings(collector: Collector) -> list[dict[str, object]]:
    return [
        json.loads(m.payload) for m in collector.messages if m.topic == "events/street/line_cross"
    ]


def test_a_line_set_live_counts_crossings_and_survives_a_restart(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    engine.start()
    collector.wait_for(lambda ms: _online(ms) and bool(_states(collector)))
    assert _lines_of(_last_state(collector)) == []
    change = {
        "device_id": "street-pi",
        "config": {"track_timeout_s": 1.0, "lines": [KERB], "events": [RULE]},
    }
    publish(broker.host, broker.port, SET, [json.dumps(change).encode()], retain=True)
    collector.wait_for(lambda ms: _lines_of(_last_state(collector)) == ["kerb"])
    assert _last_state(collector)["applied"] is True
    _feed(broker)
    collector.wait_for(lambda ms: len(_crossings(collector)) >= 3, timeout=30)
    assert [e["frame_number"] for e in _crossings(collector)] == [74, 141, 213]
    assert {e["rule"] for e in _crossings(collector)} == {"kerb-crossed"}

    # A restart keeps the change (saved in its state dir); the retained set is not re-applied.
    assert engine.stop() == 0
    before = len(_states(collector))
    engine.start()
    collector.wait_for(lambda ms: len(_states(collector)) > before)
    assert _lines_of(_last_state(collector)) == ["kerb"]


def test_a_bad_change_is_said_on_the_state_topic_and_dead_lettered_and_the_config_stays(
    broker: Broker, collector: Collector, engine: EngineProcess
) -> None:
    engine.start()
    collector.wait_for(lambda ms: _online(ms) and bool(_states(collector)))
    bad = {
        "device_id": "street-pi",
        "config": {"lines": [{"type": "vertical", "position_pct": 150}]},
    }
    publish(broker.host, broker.port, SET, [json.dumps(bad).encode()], retain=True)
    collector.wait_for(lambda ms: _last_state(collector).get("applied") is False)
    assert "config.lines[0].position_pct" in str(_last_state(collector)["error"])
    assert _lines_of(_last_state(collector)) == []
    collector.wait_for(lambda ms: any(m.topic == DEAD for m in ms))
    letter = json.loads(next(m.payload for m in collector.messages if m.topic == DEAD))
    assert "config.lines[0].position_pct" in json.dumps(letter)


def test_an_edited_yaml_applies_on_sighup(
    broker: Broker, collector: Collector, engine: EngineProcess, config: Path
) -> None:
    engine.start()
    collector.wait_for(lambda ms: _online(ms) and bool(_states(collector)))
    config.write_text(
        BARE_YAML
        + "    lines:\n      - {type: polyline, name: kerb, points: [[0, 600], [280, 600]], units: px}\n"
        + "    events:\n      - {name: kerb-crossed, match: {event_type: LINE_CROSS, line: kerb}}\n"
    )
    assert engine.process is not None
    engine.process.send_signal(signal.SIGHUP)
    collector.wait_for(lambda ms: _lines_of(_last_state(collector)) == ["kerb"])
    _feed(broker)
    collector.wait_for(lambda ms: len(_crossings(collector)) >= 3, timeout=30)
    assert [e["frame_number"] for e in _crossings(collector)] == [74, 141, 213]
