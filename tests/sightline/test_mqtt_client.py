"""The shared MQTT client against a real Mosquitto: sessions, acks, dead letters, status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.broker import free_port
from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from tests.conftest import REPO
from tests.support.broker import Broker
from tests.support.envelopes import envelope_bytes
from tests.support.mqtt import Collector, Seen, publish


def make_client(
    broker: Broker, service: str = "test", instance: str = "one", **kw: int
) -> MqttClient:
    return MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=0.5, reconnect_max_s=1),
        service=service,
        instance=instance,
        **kw,  # type: ignore[arg-type]
    )


def test_a_persistent_session_gets_what_was_published_while_it_was_away(broker: Broker) -> None:
    received: list[bytes] = []
    first = make_client(broker)
    first.subscribe("jobs/#", lambda m: received.append(m.payload))
    first.start()
    assert first.wait_connected(5)
    first.stop()

    publish(broker.host, broker.port, "jobs/a", [f"job-{i}".encode() for i in range(5)])
    again = make_client(broker)  # same service + instance: same client id, same session
    again.subscribe("jobs/#", lambda m: received.append(m.payload))
    again.start()
    try:
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        again.stop()

    assert received == [f"job-{i}".encode() for i in range(5)]


def test_a_handler_that_raises_dead_letters_the_message_and_the_next_one_is_handled(
    broker: Broker, collector: Collector
) -> None:
    handled: list[bytes] = []

    def handle(message: ReceivedMessage) -> None:
        if message.payload == b"boom":
            raise RuntimeError("cannot handle boom")
        handled.append(message.payload)

    client = make_client(broker, service="worker")
    client.subscribe("jobs/#", handle)
    client.start()
    assert client.wait_connected(5)
    try:
        publish(broker.host, broker.port, "jobs/a", [b"first", b"boom", b"after"])
        letters = collector.wait_for(lambda ms: any("deadletter" in m.topic for m in ms))
        deadline = time.monotonic() + 5
        while len(handled) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.stop()

    letter = json.loads(next(m for m in letters if "deadletter" in m.topic).payload)
    assert handled == [b"first", b"after"]
    assert letter["reason"] == "RuntimeError: cannot handle boom"
    assert letter["topic"] == "jobs/a"
    assert letter["payload_excerpt"] == "boom"


def test_status_is_online_while_connected_and_offline_after_a_clean_stop(
    broker: Broker, collector: Collector
) -> None:
    client = make_client(broker, service="svc", instance="box")
    client.start()
    collector.wait_for(lambda ms: any(m.payload == b"online" for m in ms))
    client.stop()

    seen = collector.wait_for(lambda ms: any(m.payload == b"offline" for m in ms))
    statuses = [m.payload for m in seen if m.topic == "sightline/svc/box/status"]
    assert statuses == [b"online", b"offline"]


def test_publish_nowait_never_waits_drops_frames_first_and_delivers_in_order(
    broker: Broker,
) -> None:
    received: list[str] = []
    subscriber = make_client(broker, service="sub")
    subscriber.subscribe("cam/#", lambda m: received.append(m.payload.decode()))
    subscriber.start()
    edge = make_client(broker, service="edge", publish_queue_size=20)
    edge.start()
    assert subscriber.wait_connected(5)
    assert edge.wait_connected(5)

    broker.stop()
    deadline = time.monotonic() + 10
    while edge.connected and time.monotonic() < deadline:  # until the edge has noticed
        time.sleep(0.01)
    for i in range(30):
        edge.publish_nowait("cam/envelope", f"e{i}")
        edge.publish_nowait("cam/frame", f"f{i}", droppable=True)
    assert len(edge.outbox) == 20
    broker.start()
    try:
        deadline = time.monotonic() + 15
        while len(received) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        edge.stop()
        subscriber.stop()

    assert edge.outbox.dropped == {"droppable": 30, "essential": 10}
    assert received == [f"e{i}" for i in range(10, 30)]


# -- a real service process on the shared runner ---------------------------------------------


class EchoService:
    """tests/support/echo_service.py as a process."""

    def __init__(self, broker: Broker, tmp_path: Path, **env: str) -> None:
        self.health_port = free_port()
        self.env = {
            **os.environ,
            "SIGHTLINE_MQTT__URL": broker.url,
            "SIGHTLINE_MQTT__RECONNECT_MIN_S": "0.5",
            "SIGHTLINE_INSTANCE": "t1",
            "SIGHTLINE_STATE_DIR": str(tmp_path / "state"),
            "SIGHTLINE_HEALTH__PORT": str(self.health_port),
            "SIGHTLINE_HEALTH__HOST": "127.0.0.1",
            "SIGHTLINE_MAX_PAYLOAD_BYTES": "4096",
            **env,
        }
        self.stderr = tmp_path / "echo.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.echo_service"],
            cwd=REPO,
            env=self.env,
            stderr=self.stderr.open("ab"),
        )

    def signal(self, signum: int) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(30)

    def health(self) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/healthz", timeout=2
            ) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/metrics", timeout=2) as r:
            return str(r.read().decode())

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def echo(broker: Broker, tmp_path: Path) -> Iterator[EchoService]:
    service = EchoService(broker, tmp_path)
    yield service
    service.close()


def _online(ms: list[Seen]) -> bool:
    return any(m.topic == "sightline/echo/t1/status" and m.payload == b"online" for m in ms)


def test_bad_messages_each_get_one_dead_letter_naming_the_problem_and_work_goes_on(
    broker: Broker, collector: Collector, echo: EchoService
) -> None:
    echo.start()
    collector.wait_for(_online)
    bad = {
        b"{not json": "invalid JSON",
        b'{"version": 2, "source": {}}': "version: 2 is not supported",
        b"x" * 5000: "payload is 5000 bytes; at most 4096",
        envelope_bytes(camera="garage"): "source.camera_id: unknown camera 'garage'",
        envelope_bytes().replace(b'"width":1280', b'"width":-1'): "frame.width",
    }
    for payload in bad:
        publish(broker.host, broker.port, "detections/cam", [payload])
    publish(broker.host, broker.port, "detections/cam", [envelope_bytes(number=7)])

    seen = collector.wait_for(lambda ms: any(m.topic == "echo/cam/7" for m in ms))
    letters = [json.loads(m.payload) for m in seen if m.topic == "sightline/deadletter/echo"]
    assert len(letters) == len(bad)
    for letter, reason in zip(letters, bad.values(), strict=True):
        assert reason in letter["reason"]
        assert letter["service"] == "echo"
    status, body = echo.health()
    assert (status, body["ok"]) == (200, True)
    assert 'sightline_dead_letters_total{kind="MessageError"} 3.0' in echo.metrics()


def test_the_last_will_says_offline_when_the_process_is_killed(
    collector: Collector, echo: EchoService
) -> None:
    echo.start()
    collector.wait_for(_online)

    echo.signal(signal.SIGKILL)

    seen = collector.wait_for(
        lambda ms: any(
            m.topic == "sightline/echo/t1/status" and m.payload == b"offline" for m in ms
        )
    )
    assert [m.payload for m in seen if m.topic.endswith("/status")][-1] == b"offline"


def test_sigterm_during_a_slow_handler_loses_nothing(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    service = EchoService(broker, tmp_path, ECHO_DELAY_S="0.4")
    service.start()
    try:
        collector.wait_for(_online)
        publish(
            broker.host,
            broker.port,
            "detections/cam",
            [envelope_bytes(number=n) for n in range(1, 11)],
        )
        collector.wait_for(lambda ms: any(m.topic == "echo/cam/1" for m in ms))

        assert service.signal(signal.SIGTERM) == 0
        collector.wait_for(
            lambda ms: [m.payload for m in ms if m.topic.endswith("t1/status")][-1] == b"offline"
        )
        service.start()  # what it had not acknowledged comes back to the same session
        seen = collector.wait_for(
            lambda ms: (
                {m.topic for m in ms if m.topic.startswith("echo/")}
                >= {f"echo/cam/{n}" for n in range(1, 11)}
            ),
            timeout=20,
        )
    finally:
        service.close()

    log_lines = [json.loads(line) for line in service.stderr.read_text().splitlines() if line]
    assert {line["service"] for line in log_lines} == {"echo"}
    assert any(line["msg"].startswith("received SIGTERM") for line in log_lines)
    assert {m.topic for m in seen if m.topic.startswith("echo/")} == {
        f"echo/cam/{n}" for n in range(1, 11)
    }


def test_a_check_a_service_adds_in_build_is_part_of_healthz(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    service = EchoService(broker, tmp_path, ECHO_UNHEALTHY="1")
    service.start()
    try:
        collector.wait_for(_online)
        status, body = service.health()
    finally:
        service.close()

    assert status == 503
    assert body["failing"] == ["echo"]
