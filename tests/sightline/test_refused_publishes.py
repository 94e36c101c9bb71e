"""A publish the broker refuses (the shipped ACL answers "Not authorized") is never taken as
delivered: the handled message is dead-lettered with the refused topic and reason, and
acknowledged only once that dead letter is accepted; if the dead letter is refused too,
nothing is acknowledged and /healthz says ``publishes``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.broker import LocalMosquitto, free_port
from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from tests.support.broker import acl_broker, password
from tests.support.envelopes import envelope_bytes
from tests.support.mqtt import Collector, publish
from tests.support.service_process import ServiceProcess, service_env
from tests.support.waiting import settle, wait_until

EDGE = "cam"  # an edge logs in with its camera id and may publish detections/cam
USERS = (EDGE, "engine", "ops")
ENGINE_LETTERS = "sightline/deadletter/event-engine"
NOT_AUTHORIZED = "Not authorized (0x87)"
BIG = b"x" * 5000  # more than a dead letter's excerpt


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    started = acl_broker(tmp_path / "acl", USERS)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def ops(broker: LocalMosquitto) -> Iterator[Collector]:
    """The operations account: reads everything."""
    collector = Collector(broker.host, broker.port, "#", username="ops", password=password("ops"))
    try:
        yield collector
    finally:
        collector.close()


def send_as_edge(broker: LocalMosquitto, payloads: list[bytes]) -> None:
    publish(
        broker.host,
        broker.port,
        f"detections/{EDGE}",
        payloads,
        username=EDGE,
        password=password(EDGE),
    )


def engine_client(broker: LocalMosquitto, service: str = "event-engine") -> MqttClient:
    config = MqttConfig(
        url=broker.url,
        username="engine",
        password=password("engine"),
        client_id="engine-under-test",
        reconnect_min_s=0.5,
        reconnect_max_s=1,
    )
    return MqttClient(config, service=service, instance="main")


def letters(collector: Collector) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in collector.on(ENGINE_LETTERS)]


@pytest.mark.parametrize(
    ("topic", "retain"),
    [
        ("events/cam/teleport", False),  # an event kind the ACL does not name
        ("sightline/cam/snapshot/latest", True),  # retained state that is the frame-store's
    ],
)
def test_a_refused_publish_dead_letters_the_message_naming_topic_and_reason(
    broker: LocalMosquitto, ops: Collector, topic: str, retain: bool
) -> None:
    handled: list[bytes] = []

    def handle(message: ReceivedMessage) -> None:
        handled.append(message.payload)
        client.publish("events/cam/line_cross", message.payload)  # allowed
        client.publish(topic, message.payload, retain=retain)  # refused

    client = engine_client(broker)
    client.subscribe("detections/+", handle)
    client.start()
    assert client.wait_connected(5)
    try:
        send_as_edge(broker, [BIG])
        ops.wait_for(lambda ms: any(m.topic == ENGINE_LETTERS for m in ms))
        wait_until(lambda: client.metrics.handled._value.get() == 1, 10, "the ack")
    finally:
        client.stop()
    refused = client.metrics.registry.get_sample_value(
        "sightline_mqtt_publish_refused_total", {"reason": NOT_AUTHORIZED}
    )

    (letter,) = letters(ops)
    assert letter["reason"] == f"publish to {topic} refused: {NOT_AUTHORIZED}"
    assert letter["topic"] == f"detections/{EDGE}"
    assert (letter["payload_size"], letter["truncated"]) == (len(BIG), True)
    assert refused == 1.0
    assert client.publishes_ok
    assert [m.topic for m in ops.on("events/")] == ["events/cam/line_cross"]
    assert not ops.on(topic)

    # it was acknowledged after its dead letter: the session does not deliver it again
    again = engine_client(broker)
    again.subscribe("detections/+", handle)
    again.start()
    try:
        assert again.wait_connected(5)
        send_as_edge(broker, [envelope_bytes(number=2)])
        wait_until(lambda: len(handled) == 2, 10, "the next envelope")
    finally:
        again.stop()
    assert handled == [BIG, envelope_bytes(number=2)]


def test_when_the_dead_letter_is_refused_too_nothing_is_acknowledged_and_healthz_says_so(
    broker: LocalMosquitto, ops: Collector, tmp_path: Path
) -> None:
    # The echo service logged in as the engine: the ACL lets it read detections/+ but
    # neither write echo/... nor its own dead letters (sightline/deadletter/echo).
    health_port = free_port()
    env = service_env(
        broker,
        tmp_path / "state",
        health_port=health_port,
        SIGHTLINE_MQTT__USERNAME="engine",
        SIGHTLINE_MQTT__PASSWORD=password("engine"),
        SIGHTLINE_MQTT__CLIENT_ID="engine-under-test",
    )
    echo = ServiceProcess(
        "tests.support.echo_service", [], env, tmp_path / "echo.log", health_port=health_port
    )
    echo.start()
    try:
        wait_until(lambda: b'"mqtt"' not in _healthz(echo)[1], 15, "connected")
        send_as_edge(broker, [envelope_bytes(number=1)])
        wait_until(lambda: _healthz(echo)[0] == 503, 15, "/healthz not ok")
        status, body = _healthz(echo)
        assert status == 503
        assert echo.stop() == 0
    finally:
        echo.close()
    lines = [json.loads(line) for line in echo.log_text().splitlines() if line.startswith("{")]

    assert json.loads(body)["failing"] == ["publishes"]
    assert any(line["level"] == "error" and "was refused too" in line["msg"] for line in lines), (
        "no error in the log"
    )
    assert any("refused a publish to echo/cam/1: Not authorized" in line["msg"] for line in lines)
    assert not ops.on("sightline/deadletter/")

    # nothing was lost: the same session (client id) delivers it again, to a client allowed
    # to dead-letter it
    redelivered: list[ReceivedMessage] = []
    again = engine_client(broker)
    again.subscribe("detections/+", redelivered.append)
    again.start()
    try:
        assert settle(lambda: redelivered, 10)
    finally:
        again.stop()
    assert [m.payload for m in redelivered] == [envelope_bytes(number=1)]


def _healthz(service: ServiceProcess) -> tuple[int, bytes]:
    try:
        return service.healthz()
    except OSError:
        return 0, b'"mqtt"'  # not listening yet


def test_no_matching_subscribers_is_a_delivery_not_a_refusal(broker: LocalMosquitto) -> None:
    client = engine_client(broker)  # nobody subscribes to events/#: the broker says 0x10

    def handle(message: ReceivedMessage) -> None:
        client.publish("events/cam/zone_enter", b"{}")

    client.subscribe("detections/+", handle)
    client.start()
    try:
        assert client.wait_connected(5)
        send_as_edge(broker, [envelope_bytes(number=1)])
        wait_until(lambda: client.metrics.handled._value.get() == 1, 10, "the ack")
    finally:
        client.stop()
    counted = {
        sample.name
        for metric in client.metrics.registry.collect()
        for sample in metric.samples
        if sample.value
    }

    assert "sightline_mqtt_publish_refused_total" not in counted
    assert "sightline_dead_letters_total" not in counted
    assert "sightline_mqtt_published_total" in counted
