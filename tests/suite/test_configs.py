"""One `mode: local` file becomes a valid config for every service."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console.settings import ConsoleSettings
from sightline.config import (
    EdgeSettings,
    EngineSettings,
    FrameStoreSettings,
    NotifierSettings,
    SuiteSettings,
    load_config,
)
from suite.configs import service_configs, write_service_configs
from suite.demo import demo_config

SETTINGS = {
    "edge-publisher": EdgeSettings,
    "event-engine": EngineSettings,
    "frame-store": FrameStoreSettings,
    "notifier": NotifierSettings,
    "console": ConsoleSettings,
}


@pytest.fixture
def suite(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> SuiteSettings:
    return load_config(SuiteSettings, None, **demo_config(tmp_path / "demo"))


def test_every_service_config_validates_with_its_own_model(
    suite: SuiteSettings, tmp_path: Path
) -> None:
    paths = write_service_configs(
        service_configs(suite, "mqtt://127.0.0.1:1999", tmp_path / "state"), tmp_path / "cfg"
    )

    loaded = {name: load_config(SETTINGS[name], path) for name, path in paths.items()}

    assert {s.effective_mqtt().url for s in loaded.values()} == {"mqtt://127.0.0.1:1999"}
    engine = loaded["event-engine"]
    assert isinstance(engine, EngineSettings)
    device = engine.devices["demo-box"]
    assert device.camera_id == "plaza"
    assert [line.label for line in device.lines] == ["walkway"]
    assert [rule.name for rule in device.events] == [rule.name for rule in suite.events]
    notifier = loaded["notifier"]
    assert isinstance(notifier, NotifierSettings)
    assert notifier.notifier.snapshots_dir == tmp_path / "demo" / "snapshots"
    assert {s.state_dir for s in loaded.values()} == {
        tmp_path / "state" / name for name in SETTINGS
    }


def test_secrets_reach_the_service_configs_unmasked(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suite = load_config(SuiteSettings, None, mqtt={"username": "u", "password": "p4ss"})

    configs = service_configs(suite, "mqtt://127.0.0.1:1", tmp_path)

    assert configs["notifier"]["mqtt"]["password"] == "p4ss"
    assert "**" not in yaml.safe_dump(configs)


def test_each_service_keeps_its_own_state_dir_and_health_port_under_env_overrides(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("SIGHTLINE_STATE_DIR", str(tmp_path / "box"))
    clean_env.setenv("SIGHTLINE_HEALTH__HOST", "127.0.0.1")
    suite = load_config(SuiteSettings, None, **demo_config(tmp_path / "demo"))

    configs = service_configs(suite, "mqtt://127.0.0.1:1", tmp_path / "box")

    assert {c["state_dir"] for c in configs.values()} == {
        str(tmp_path / "box" / name) for name in SETTINGS
    }
    assert {c["health"]["host"] for c in configs.values()} == {"127.0.0.1"}
    assert all("port" not in c["health"] for c in configs.values())


def test_a_one_box_keeps_its_log_outbox_and_snapshots_under_its_state_dir(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suite = load_config(SuiteSettings, None, mode="local", camera_id="porch")

    configs = service_configs(suite, "mqtt://127.0.0.1:1", tmp_path / "box")

    notifier = configs["notifier"]["notifier"]
    assert notifier["json_log"]["directory"] == str(tmp_path / "box" / "events")
    assert notifier["smtp"]["outbox_dir"] == str(tmp_path / "box" / "outbox")
    root = configs["frame-store"]["frame_store"]["storage"]["root"]
    assert root == notifier["snapshots_dir"] == str(tmp_path / "box" / "snapshots")
