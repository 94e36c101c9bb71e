"""The shared MQTT client against a real Mosquitto: sessions, acks, dead letters, status."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.broker import LocalMosquitto, free_port
from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from tests.support.broker import Broker
from tests.support.envelopes import envelope_bytes
from tests.support.mqtt import Collector, publish
from tests.support.service_process import ServiceProcess, said, service_env, status_topic
from tests.support.waiting import settle


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
        settle(lambda: len(received) >= 5, 10, interval=0.05)
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
        settle(lambda: len(handled) >= 2, 5, interval=0.05)
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
    settle(lambda: not edge.connected, 10, interval=0.01)  # until the edge has noticed
    for i in range(30):
        edge.publish_nowait("cam/envelope", f"e{i}")
        edge.publish_nowait("cam/frame", f"f{i}", droppable=True)
    assert len(edge.outbox) == 20
    broker.start()
    try:
        settle(lambda: len(received) >= 20, 15, interval=0.05)
    finally:
        edge.stop()
        subscriber.stop()

    assert edge.outbox.dropped == {"droppable": 30, "essential": 10}
    assert received == [f"e{i}" for i in range(10, 30)]


# -- a real service process on the shared runner ---------------------------------------------


class EchoService(ServiceProcess):
    """tests/support/echo_service.py as a process."""

    def __init__(self, broker: Broker, tmp_path: Path, **env: str) -> None:
        health_port = free_port()
        super().__init__(
            "tests.support.echo_service",
            [],
            service_env(
                broker,
                tmp_path / "state",
                health_port=health_port,
                SIGHTLINE_MAX_PAYLOAD_BYTES="4096",
                **env,
            ),
            tmp_path / "echo.log",
            health_port=health_port,
        )

    def health(self) -> tuple[int, dict[str, object]]:
        """The status of ``/healthz`` and its JSON body."""
        status, body = self.healthz()
        return status, json.loads(body)


@pytest.fixture
def echo(broker: Broker, tmp_path: Path) -> Iterator[EchoService]:
    service = EchoService(broker, tmp_path)
    yield service
    service.close()


ECHO_STATUS = status_topic("echo")
_online = said(ECHO_STATUS, b"online")


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
    assert 'sightline_dead_letters_total{kind="MessageError"} 3.0' in echo.metrics_text()


def test_the_last_will_says_offline_when_the_process_is_killed(
    collector: Collector, echo: EchoService
) -> None:
    echo.start()
    collector.wait_for(_online)

    echo.send(signal.SIGKILL)

    seen = collector.wait_for(said(ECHO_STATUS, b"offline"))
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

        assert service.stop() == 0
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

    log_lines = [json.loads(line) for line in service.log_text().splitlines() if line]
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


def test_what_startup_built_is_out_of_the_collectors_full_passes(
    broker: Broker, collector: Collector, echo: EchoService
) -> None:
    """The service runner freezes what startup built (modules, config, the model): a full
    collection then walks only what the work allocated, instead of pausing every thread
    for tens of milliseconds."""
    echo.start()
    collector.wait_for(_online)
    status, body = echo.health()

    assert (status, body) == (200, {"ok": True, "failing": []})


def test_a_message_goes_to_the_first_subscription_that_matches_among_many() -> None:
    client = MqttClient(MqttConfig(url="mqtt://localhost:1"), service="t", instance="one")
    for camera in range(300):
        client.subscribe(f"detections/cam{camera}", lambda m: None, f"cam{camera}")
    client.subscribe("detections/+", lambda m: None, "any")
    client.subscribe("detections/cam7", lambda m: None, "shadowed")

    def route(topic: str) -> str | None:
        sub = client.dispatch(ReceivedMessage(topic, b""))
        return sub.name if sub is not None else None

    for _ in range(2):  # the second time from what dispatch remembered
        assert route("detections/cam7") == "cam7"
        assert route("detections/cam299") == "cam299"
        assert route("detections/other") == "any"
        assert route("events/cam7/line_cross") is None


def test_a_message_of_a_session_the_broker_lost_is_never_acknowledged_in_the_new_one(
    tmp_path: Path,
) -> None:
    """The broker restarts without its state (a crash before its autosave, a lost volume)
    while A is being handled: the new session numbers its messages from 1 again, so the
    acknowledgement of A (id 1 of the old session) would acknowledge X, not yet handled,
    and a crash then would lose X for good."""
    broker = LocalMosquitto(tmp_path / "broker", persistence=False)
    broker.start()
    release, ended = threading.Event(), threading.Event()
    handled: list[bytes] = []

    def handle(message: ReceivedMessage) -> None:
        handled.append(message.payload)
        (release if message.payload == b"A" else ended).wait(30)  # X: till the "crash"

    client = MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=0.2, reconnect_max_s=0.5),
        service="test",
        instance="lost",
    )
    client.subscribe("jobs/#", handle)
    client.start()
    try:
        assert client.wait_connected(5)
        publish(broker.host, broker.port, "jobs/a", [b"A"])
        assert settle(lambda: handled == [b"A"], 10, interval=0.05)
        broker.restart()  # its sessions are gone
        assert settle(lambda: client.session == 2 and client.connected, 10, interval=0.05)
        publish(broker.host, broker.port, "jobs/a", [b"X"])  # id 1 of the new session
        time.sleep(0.5)
        release.set()  # A is done: its acknowledgement must not go out as X's
        assert settle(lambda: handled == [b"A", b"X"], 10, interval=0.05)
        time.sleep(0.5)
        client._paho._sock_close()  # the process dies: no DISCONNECT, the session stays
        client._paho.loop_stop()
        again: list[bytes] = []
        resumed = make_client(broker, instance="lost")  # the same client id and session
        resumed.subscribe("jobs/#", lambda m: again.append(m.payload))
        resumed.start()
        try:
            assert settle(lambda: again == [b"X"], 10, interval=0.05), again
        finally:
            resumed.stop()
    finally:
        release.set()
        ended.set()
        broker.stop()
