"""Config: the seed's YAML validates as written; a bad config names the key path and problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sightline.config import (
    EdgeSettings,
    EngineSettings,
    FrameStoreSettings,
    NotifierSettings,
    ServiceSettings,
    SuiteSettings,
    load_config,
)
from sightline.config.engine import LineConfig
from sightline.errors import ConfigError, TransportError
from sightline.messages import Direction, EventType
from sightline.service import load_or_exit
from tests.support.dotted import set_dotted

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed"


@pytest.mark.parametrize(
    ("fixture", "settings_cls"),
    [
        ("edge-redis.yaml", EdgeSettings),
        ("edge-mqtt.yaml", EdgeSettings),
        ("edge-zmq.yaml", EdgeSettings),
        ("jetson-01.yaml", EdgeSettings),
        ("jetson-local.yaml", SuiteSettings),
        ("processor.yaml", EngineSettings),
    ],
)
def test_every_seed_example_validates_as_written(
    clean_env: pytest.MonkeyPatch, fixture: str, settings_cls: type[ServiceSettings]
) -> None:
    settings = load_config(settings_cls, SEED / fixture)

    assert isinstance(settings, settings_cls)


def test_the_seed_processor_reads_as_two_devices_with_lines_zones_and_rules(
    clean_env: pytest.MonkeyPatch,
) -> None:
    settings = load_config(EngineSettings, SEED / "processor.yaml")

    driveway, backyard = settings.devices["jetson-01"], settings.devices["jetson-02"]
    assert driveway.camera_id == "driveway"
    assert driveway.lines[0].label == "driveway entry"
    assert driveway.lines[0].directions == {Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT}
    assert driveway.events[0].match.event_type is EventType.LINE_CROSS
    assert driveway.events[0].actions.email_immediate
    assert backyard.zones[0].polygon(100, 100) == [(20, 30), (80, 30), (80, 90), (20, 90)]
    assert backyard.events[0].actions.json_log


def test_the_seed_mqtt_output_sets_the_broker(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_config(EdgeSettings, SEED / "edge-mqtt.yaml")

    assert settings.effective_mqtt().url == "mqtt://processor-host:1883"
    assert settings.effective_mqtt().topic_prefix == ""


@pytest.mark.parametrize(
    ("fixture", "settings_cls", "key"),
    [
        ("edge-redis.yaml", EdgeSettings, "output"),
        ("edge-zmq.yaml", EdgeSettings, "output"),
        ("processor.yaml", EngineSettings, "input"),
    ],
)
def test_a_transport_that_is_not_implemented_refuses_to_start(
    clean_env: pytest.MonkeyPatch, fixture: str, settings_cls: type[ServiceSettings], key: str
) -> None:
    settings = load_config(settings_cls, SEED / fixture)

    with pytest.raises(
        TransportError, match=rf"{key}\.type: transport .* not implemented; available: mqtt"
    ):
        settings.effective_mqtt()


def test_an_edge_without_camera_id_uses_its_device_id(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_config(EdgeSettings, SEED / "jetson-01.yaml")

    assert settings.effective_camera_id == "jetson-01"


def _processor() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SEED / "processor.yaml").read_text())
    data.pop("input")
    return data


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (
            "devices.jetson-02.zones.0.x2_pct",
            10,
            "devices.jetson-02.zones[0].x2_pct: must be greater than x1_pct",
        ),
        (
            "devices.jetson-02.zones.0.y2_pct",
            30,
            "devices.jetson-02.zones[0].y2_pct: must be greater than y1_pct",
        ),
        (
            "devices.jetson-02.zones.0.x1_pct",
            120,
            "devices.jetson-02.zones[0].x1_pct: Input should be less than or equal to 100",
        ),
        (
            "devices.jetson-01.lines.0.colour",
            "red",
            "devices.jetson-01.lines[0].colour: unknown key",
        ),
        ("devices.jetson-01.lines.0.type", "diagonal", "devices.jetson-01.lines[0].type: Input"),
        (
            "devices.jetson-01.events.0.match.line",
            "nowhere",
            "devices.jetson-01.events[0].match.line: no line named 'nowhere' (lines: driveway entry)",
        ),
        (
            "devices.jetson-01.events.0.match.direction",
            "in",
            "devices.jetson-01.events[0].match.direction: line 'driveway entry' reports",
        ),
        (
            "devices.jetson-01.events.0.match.event_type",
            "LINE_JUMP",
            "devices.jetson-01.events[0].match.event_type: Input should be",
        ),
        (
            "devices.jetson-01.events.0.actions.sms",
            True,
            "devices.jetson-01.events[0].actions.sms: unknown key",
        ),
        (
            "devices.jetson-02.camera_id",
            "driveway",
            "devices.jetson-02.camera_id: camera 'driveway' already belongs to device 'jetson-01'",
        ),
        (
            "devices.jetson-02.camera_id",
            "back/yard",
            "devices.jetson-02.camera_id: 'back/yard' must not contain '/'",
        ),
        (
            "devices.jetson-02.camera_id",
            "..",
            "devices.jetson-02.camera_id: '..' must start with a letter or a digit",
        ),
        (
            "devices.jetson-02.camera_id",
            ".hidden",
            "devices.jetson-02.camera_id: '.hidden' must start with a letter or a digit",
        ),
        (
            "devices.jetson-02.camera_id",
            "engine",
            "devices.jetson-02.camera_id: 'engine' is reserved: it is the broker user name",
        ),
        (
            "devices.jetson-02.camera_id",
            "Driveway",
            "devices: 'driveway' and 'Driveway' would be the same Home Assistant id 'driveway'",
        ),
        ("devices.ops", {}, "devices.ops: 'ops' is reserved"),
        (
            "devices.jetson-02.events.0.match.event_type",
            "ZONE_DWELL",
            "devices.jetson-02.events[0].match.zone: ZONE_DWELL needs a zone with dwell_s",
        ),
        ("mqtt", {"url": "http://broker"}, "mqtt.url: 'http://broker': scheme must be"),
        (
            "mqtt",
            {"password_file": "/nonexistent/pw"},
            "mqtt.password_file: file '/nonexistent/pw' does not exist",
        ),
    ],
)
def test_a_bad_config_names_the_key_path_and_the_problem(
    clean_env: pytest.MonkeyPatch, path: str, value: Any, problem: str
) -> None:
    data = set_dotted(_processor(), path, value)

    with pytest.raises(ConfigError) as caught:
        load_config(EngineSettings, None, **data)

    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"type": "vertical", "name": "a"}, "position_pct: a vertical line needs position_pct"),
        ({"type": "polyline", "name": "a", "points": [[1, 2]]}, "points: needs at least 2"),
        (
            {"type": "polyline", "name": "a", "points": [[1, 2], [300, 4]]},
            "points[1]: percent coordinates must lie in 0..100",
        ),
        ({"type": "vertical", "position_pct": 5}, "name: a line needs a name"),
    ],
)
def test_line_shapes_are_checked(line: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        LineConfig.model_validate(line)


def test_environment_variables_override_the_file(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text(
        "mqtt:\n  url: mqtt://from-file:1883\n  username: engine\nlog:\n  level: INFO\n"
    )
    clean_env.setenv("SIGHTLINE_MQTT__URL", "mqtt://from-env:1884")
    clean_env.setenv("SIGHTLINE_LOG__LEVEL", "DEBUG")
    clean_env.setenv("SIGHTLINE_STATE_DIR", str(tmp_path / "state"))

    settings = load_config(EngineSettings, path)

    assert settings.mqtt.url == "mqtt://from-env:1884"
    assert settings.mqtt.username == "engine"  # the file's other keys survive
    assert settings.log.level == "DEBUG"
    assert settings.state_dir == tmp_path / "state"


def test_a_bad_environment_variable_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SIGHTLINE_MQTT__KEEPALIVE_S", "often")

    with pytest.raises(ConfigError, match=r"mqtt\.keepalive_s"):
        load_config(NotifierSettings, None)


def test_secrets_come_from_files(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n")

    settings = load_config(
        FrameStoreSettings, None, mqtt={"username": "frames", "password_file": str(secret)}
    )

    assert settings.mqtt.resolved_password() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("devices: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "the top level must be a mapping"),
    ],
)
def test_an_unreadable_file_is_a_config_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)

    with pytest.raises(ConfigError, match=problem):
        load_config(EngineSettings, path)


def test_a_missing_file_is_a_config_error(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(EngineSettings, tmp_path / "nope.yaml")


def test_a_service_exits_2_with_the_problems_on_a_bad_config(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text(
        yaml.safe_dump(set_dotted(_processor(), "devices.jetson-02.zones.0.x2_pct", 10))
    )

    with pytest.raises(SystemExit) as caught:
        load_or_exit(EngineSettings, path)

    assert caught.value.code == 2
    assert (
        "devices.jetson-02.zones[0].x2_pct: must be greater than x1_pct" in capsys.readouterr().err
    )


def test_a_polygon_zone_in_pixels_and_a_polyline(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_config(
        EngineSettings,
        None,
        devices={
            "cam": {
                "lines": [
                    {
                        "type": "polyline",
                        "name": "gate",
                        "points": [[0, 0], [50, 50]],
                        "in_side": "right",
                    }
                ],
                "zones": [
                    {
                        "name": "porch",
                        "units": "px",
                        "points": [[10, 10], [200, 10], [100, 90]],
                        "dwell_s": 5,
                        "anchor": "center",
                    }
                ],
                "events": [
                    {
                        "name": "in-gate",
                        "match": {
                            "event_type": "LINE_CROSS",
                            "line": "gate",
                            "direction": "in",
                            "classes": ["person"],
                        },
                    },
                    {
                        "name": "loiter",
                        "match": {"event_type": "ZONE_DWELL", "zone": "porch"},
                        "actions": {"email_digest": True},
                    },
                ],
            }
        },
    )

    device = settings.devices["cam"]
    assert device.zones[0].polygon(1920, 1080) == [(10, 10), (200, 10), (100, 90)]
    assert device.events[1].actions.email_digest == ["default"]
    assert device.lines[0].directions == {Direction.IN, Direction.OUT}


@pytest.mark.parametrize("settings_cls", [EngineSettings, SuiteSettings])
def test_two_cameras_that_would_be_one_home_assistant_entity_are_refused(
    clean_env: pytest.MonkeyPatch, settings_cls: type[ServiceSettings]
) -> None:
    devices = {"pi-1": {"camera_id": "front-door"}, "pi-2": {"camera_id": "front.door"}}
    own = {"device_id": "pi-1"} if settings_cls is SuiteSettings else {}

    with pytest.raises(ConfigError) as caught:
        load_config(settings_cls, None, devices=devices, **own)

    assert caught.value.problems == [
        "devices: 'front-door' and 'front.door' would be the same Home Assistant id "
        "'front_door'; rename one"
    ]


def test_a_local_box_whose_camera_is_also_listed_under_another_device_is_refused(
    clean_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            SuiteSettings,
            None,
            device_id="box",
            camera_id="driveway",
            devices={"pi-2": {"camera_id": "driveway"}},
        )

    assert caught.value.problems == [
        "devices.pi-2.camera_id: camera 'driveway' already belongs to device 'box'"
    ]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"device_id": "notifier"}, "device_id: 'notifier' is reserved"),
        ({"device_id": "pi", "camera_id": "homeassistant"}, "camera_id: 'homeassistant' is"),
        ({"device_id": "pi", "camera_id": ".."}, "camera_id: '..' must start with a letter"),
    ],
)
def test_an_edge_whose_camera_would_be_a_service_or_a_path_is_refused(
    clean_env: pytest.MonkeyPatch, keys: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EdgeSettings, None, **keys)

    assert caught.value.problems[0].startswith(problem), caught.value.problems
