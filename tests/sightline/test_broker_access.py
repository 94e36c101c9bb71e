"""Password access to a real broker, and what mosquitto_sub shows of what services publish."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from sightline.broker import LocalMosquitto, free_port
from sightline.config import MqttConfig
from sightline.mqtt import MqttClient
from tests.support.broker import Broker
from tests.support.envelopes import envelope_bytes
from tests.support.mqtt import publish
from tests.support.tls import make_certificate
from tests.support.waiting import wait_until


@pytest.fixture
def secured_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    passwd = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwd), "engine", "correct horse"], check=True
    )
    passwd.chmod(0o600)
    broker = LocalMosquitto(tmp_path / "broker", password_file=passwd)
    broker.start()
    yield broker
    broker.stop()


def connects_with(config: MqttConfig) -> bool:
    """Whether a service's client gets connected with ``config`` within 3 s."""
    client = MqttClient(config, service="event-engine", instance="main")
    client.start()
    try:
        return client.wait_connected(3)
    finally:
        client.stop(2)


@pytest.mark.parametrize(("secret", "connects"), [("correct horse", True), ("wrong", False)])
def test_a_service_logs_in_with_the_password_from_its_file(
    secured_broker: LocalMosquitto, tmp_path: Path, secret: str, connects: bool
) -> None:
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(secret + "\n")
    config = MqttConfig(url=secured_broker.url, username="engine", password_file=password_file)

    assert connects_with(config) is connects


@pytest.mark.skipif(shutil.which("mosquitto_sub") is None, reason="mosquitto-clients missing")
def test_mosquitto_sub_shows_readable_json_for_everything_a_service_publishes(
    broker: Broker, tmp_path: Path
) -> None:
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-v", "-t", "#", "-W", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(sub.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()

    try:
        # a retained probe reaches mosquitto_sub once it has subscribed
        publish(broker.host, broker.port, "probe/ready", [b"{}"], retain=True)
        wait_until(lambda: "probe/ready {}\n" in seen, 10, "mosquitto_sub subscribed")
        client = MqttClient(MqttConfig(url=broker.url), service="echo", instance="t1")
        client.subscribe("detections/+", lambda m: client.publish("echo/out", m.payload))
        client.start()
        assert client.wait_connected(5)
        publish(broker.host, broker.port, "detections/cam", [envelope_bytes(), b"{broken"])
        wait_until(
            lambda: sum(line.startswith("echo/out ") for line in seen) == 2, 10, "echo/out x2"
        )
        client.stop()
        wait_until(lambda: "sightline/echo/t1/status offline\n" in seen, 10, "the offline status")
        sub.terminate()
        sub.wait(10)
        reader.join(10)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait(10)
        sub.stdout.close()  # type: ignore[union-attr]
    publish(broker.host, broker.port, "probe/ready", [b""], retain=True)  # cleared
    out = "".join(seen)

    lines = [line.split(" ", 1) for line in out.splitlines() if line]
    assert {topic for topic, _ in lines} >= {
        "sightline/echo/t1/status",
        "detections/cam",
        "echo/out",
    }
    for topic, payload in lines:
        if topic.endswith("/status"):
            assert payload in ("online", "offline")
        elif payload != "{broken":
            assert isinstance(json.loads(payload), dict), topic


@pytest.mark.parametrize(("trust_the_broker", "connects"), [(True, True), (False, False)])
def test_a_service_speaks_tls_to_a_broker_it_trusts_and_only_to_one(
    tmp_path: Path, trust_the_broker: bool, connects: bool
) -> None:
    cert, key = make_certificate(tmp_path)
    tls_port = free_port()
    broker = LocalMosquitto(
        tmp_path / "broker",
        extra_conf=f"listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n",
    )
    broker.start()
    tls = {"ca_file": str(cert)} if trust_the_broker else {}
    config = MqttConfig.model_validate({"url": f"mqtts://127.0.0.1:{tls_port}", "tls": tls})
    try:
        assert connects_with(config) is connects
    finally:
        broker.stop()
