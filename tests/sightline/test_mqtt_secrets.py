"""A password in ``mqtt.url`` is used to log in, and never shown: not in config errors, reprs,
dumps or logs. Proved on a real Mosquitto with a password file and the shipped ACL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from sightline.broker import LocalMosquitto
from sightline.config import EdgeSettings, EngineSettings, MqttConfig, load_config
from sightline.errors import ConfigError
from sightline.mqtt import MqttClient
from sightline.service import load_or_exit
from tests.support.paths import REPO
from tests.support.service_process import ServiceProcess

SECRET = "Hunter2-quite-secret"
"""The password of user ``engine``; no output may ever hold it."""


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """Mosquitto with a password file (engine, ops) and the shipped ACL."""
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "engine", SECRET], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "ops", "ops-pw"], check=True)
    passwd.chmod(0o600)
    broker = LocalMosquitto(
        tmp_path / "broker",
        password_file=passwd,
        extra_conf=f"acl_file {REPO / 'mosquitto' / 'acl'}\n",
    )
    broker.start()
    yield broker
    broker.stop()


def _url(broker: LocalMosquitto, password: str = SECRET) -> str:
    return f"mqtt://engine:{password}@{broker.host}:{broker.port}"


def _retained(broker: LocalMosquitto, topic: str, timeout: float = 3.0) -> bytes | None:
    """The retained payload on ``topic``, read as user ops; None if there is none."""
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.username_pw_set("ops", "ops-pw")

    def on_message(c: paho.Client, u: object, message: paho.MQTTMessage) -> None:
        got.append(bytes(message.payload))
        done.set()

    client.on_message = on_message
    client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[-1] if got else None


# -- config: used, and never shown -----------------------------------------------------------


def test_the_user_and_password_in_the_url_become_username_and_password() -> None:
    config = MqttConfig(url=f"mqtts://engine:{SECRET}@broker.example:8883")

    assert (config.url, config.host, config.port) == (
        "mqtts://broker.example:8883",
        "broker.example",
        8883,
    )
    assert config.username == "engine"
    assert config.resolved_password() == SECRET
    shown = repr(config) + str(config) + str(config.model_dump()) + config.model_dump_json()
    assert SECRET not in shown


def test_a_percent_encoded_password_is_decoded() -> None:
    config = MqttConfig(url="mqtt://engine:p%40ss%3Aw0rd@broker:1883")

    assert config.resolved_password() == "p@ss:w0rd"
    assert config.url == "mqtt://broker:1883"


@pytest.mark.parametrize(
    ("mqtt", "problem"),
    [
        (
            {"url": "mqtt://engine:{s}@broker:99999"},
            "mqtt.url: 'mqtt://broker:99999': invalid port",
        ),
        ({"url": "http://engine:{s}@broker"}, "mqtt.url: 'http://broker': scheme must be"),
        ({"url": "mqtt://engine:{s}@"}, "mqtt.url: 'mqtt://': no host name"),
        (
            {"url": "mqtt://engine:{s}@broker", "username": "frames"},
            "mqtt.username: 'frames' differs from the user name 'engine' in url",
        ),
        (
            {"url": "mqtt://engine:{s}@broker", "password": "other"},
            "mqtt.password: url holds a password and password or password_file is set too",
        ),
        (
            {"url": "mqtt://engine:{s}@broker", "keepalive_s": "often"},
            "mqtt.keepalive_s: Input should be a valid integer",
        ),
        (
            {"url": "mqtt://engine:{s}/x@broker"},  # an unencoded '/' in the password
            "mqtt.url: 'mqtt://engine:***@broker': invalid port",
        ),
    ],
)
def test_a_config_error_about_a_url_with_a_password_never_shows_the_password(
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mqtt: dict[str, Any],
    problem: str,
) -> None:
    mqtt = {k: v.replace("{s}", SECRET) if isinstance(v, str) else v for k, v in mqtt.items()}
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump({"mqtt": mqtt}))

    with pytest.raises(SystemExit) as caught:
        load_or_exit(EngineSettings, path)
    with pytest.raises(ValidationError) as raw:
        MqttConfig.model_validate(mqtt)

    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert problem in err, err
    assert SECRET not in err
    assert SECRET not in str(raw.value)


def test_a_password_in_the_url_from_the_environment_is_not_shown_either(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("SIGHTLINE_MQTT__URL", f"mqtt://engine:{SECRET}@broker:70000")

    with pytest.raises(ConfigError) as caught:
        load_config(EngineSettings, None)

    assert caught.value.problems == ["mqtt.url: 'mqtt://broker:70000': invalid port"]
    assert SECRET not in str(caught.value)


def test_the_seed_output_broker_may_hold_the_password_and_it_is_used_but_not_shown(
    clean_env: pytest.MonkeyPatch,
) -> None:
    settings = load_config(
        EdgeSettings,
        None,
        device_id="driveway",
        output={"type": "mqtt", "broker": f"mqtt://driveway:{SECRET}@broker:1883"},
    )

    mqtt = settings.effective_mqtt()

    assert (mqtt.url, mqtt.username, mqtt.resolved_password()) == (
        "mqtt://broker:1883",
        "driveway",
        SECRET,
    )
    assert SECRET not in repr(settings) + str(settings.model_dump()) + repr(mqtt)


def test_a_password_in_both_the_output_broker_and_mqtt_is_refused_unshown(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_config(
        EdgeSettings,
        None,
        device_id="driveway",
        mqtt={"password": "other"},
        output={"type": "mqtt", "broker": f"mqtt://driveway:{SECRET}@broker:99999"},
    )

    with pytest.raises(ConfigError) as caught:
        settings.effective_mqtt()

    assert caught.value.problems == [
        "output.broker: holds a password and mqtt.password or mqtt.password_file is set too; "
        "give it once"
    ]
    assert SECRET not in str(caught.value)


# -- a real broker ---------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "connects"), [(SECRET, True), ("wrong", False)])
def test_a_client_configured_by_url_alone_logs_in_with_its_password_and_never_logs_it(
    clean_env: pytest.MonkeyPatch,
    secured_broker: LocalMosquitto,
    caplog: pytest.LogCaptureFixture,
    password: str,
    connects: bool,
) -> None:
    clean_env.setenv("SIGHTLINE_MQTT__URL", _url(secured_broker, password))
    settings = load_config(EngineSettings, None, instance="t1")
    client = MqttClient(settings.effective_mqtt(), service="event-engine", instance="t1")

    with caplog.at_level(logging.DEBUG):
        client.start()
        try:
            connected = client.wait_connected(3)
        finally:
            client.stop(2)

    assert connected is connects
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "connecting to" in logged
    assert password not in logged


def test_the_engine_process_logs_in_with_the_password_in_its_url_and_never_prints_it(
    clean_env: pytest.MonkeyPatch, secured_broker: LocalMosquitto, tmp_path: Path
) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(
        yaml.safe_dump({"mqtt": {"url": _url(secured_broker)}, "log": {"level": "DEBUG"}})
    )
    env = {
        **os.environ,
        "SIGHTLINE_INSTANCE": "t1",
        "SIGHTLINE_STATE_DIR": str(tmp_path / "state"),
        "SIGHTLINE_HEALTH__ENABLED": "false",
    }
    engine = ServiceProcess("event_engine", ["--config", str(config)], env, tmp_path / "e.log")
    engine.start()
    try:
        status = None
        for _ in range(10):  # a start takes a few seconds; each look waits up to 3
            status = _retained(secured_broker, "sightline/event-engine/t1/status")
            if status == b"online":
                break
        assert engine.stop() == 0
    finally:
        engine.close()

    assert status == b"online"
    log = engine.log_text()
    assert "connecting to" in log
    assert SECRET not in log


def test_an_unreadable_password_file_is_one_line_naming_it_and_exit_2(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-engine"
    secret.write_bytes(b"\xff\xfe not text")  # root reads any mode: undecodable is unreadable
    config = tmp_path / "engine.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mqtt": {
                    "url": "mqtt://127.0.0.1:1",
                    "username": "engine",
                    "password_file": str(secret),
                }
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "event_engine", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"password_file: cannot read '{secret}'" in done.stderr
