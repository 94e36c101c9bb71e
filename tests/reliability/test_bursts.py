"""Bursts and backlogs on a real Mosquitto: a handler that publishes more than paho has
message ids, a worker thread that dies, and a backlog far larger than what the client may
hold unacknowledged.

Durations are printed (run with ``-s``), never asserted: speed belongs to bench/.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from sightline.threads import EXIT_THREAD_DIED
from tests.support.broker import Broker
from tests.support.envelopes import envelope_bytes
from tests.support.mqtt import Collector, publish
from tests.support.service_process import ServiceProcess, service_env
from tests.support.waiting import wait_until

BURST = 70_000
"""More than paho's 65,535 message ids."""
BACKLOG = 20_000
BOUND = 100


def make_client(broker: Broker, service: str, **config: int) -> MqttClient:
    return MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=0.5, reconnect_max_s=1, **config),
        service=service,
        instance="one",
    )


def handled(client: MqttClient) -> float:
    """How many messages ``client`` has acknowledged."""
    return client.metrics.registry.get_sample_value("sightline_mqtt_handled_total") or 0.0


def test_a_handler_publishing_more_than_paho_has_ids_waits_for_them_and_everything_arrives(
    broker: Broker,
) -> None:
    burst = Collector(broker.host, broker.port, "burst/#")
    client = make_client(broker, "engine")

    def explode(message: ReceivedMessage) -> None:
        for index in range(BURST):
            client.publish(f"burst/{index % 7}", str(index))

    client.subscribe("envelopes/#", explode)
    client.start()
    try:
        assert client.wait_connected(5)
        started = time.monotonic()
        publish(broker.host, broker.port, "envelopes/cam", [b"one envelope, many events"])
        burst.wait_for(lambda ms: len(ms) >= BURST, timeout=240)
        wait_until(lambda: handled(client) == 1, 30, "the envelope's ack")
        took = time.monotonic() - started
    finally:
        client.stop()
        burst.close()

    print(f"\n{BURST} publishes from one handler: {took:.1f}s ({BURST / took:.0f}/s)")
    assert sorted(int(m.payload) for m in burst.messages) == list(range(BURST))


@pytest.mark.parametrize("where", ["handler", "acker"])
def test_a_worker_thread_that_dies_takes_the_process_down_with_status_70(
    broker: Broker, tmp_path: Path, where: str
) -> None:
    service = ServiceProcess(
        "tests.reliability.dying_service",
        [],
        service_env(broker, tmp_path / "state", health_port=None, DIE_IN=where),
        tmp_path / "dying.log",
    )
    service.start()
    try:
        wait_until(lambda: "connected to" in service.log_text(), 15, "connected")
        publish(broker.host, broker.port, "detections/cam", [envelope_bytes()])
        status = service.wait(30)
    finally:
        service.close()

    assert status == EXIT_THREAD_DIED
    assert f"critical thread dying-{where} died" in service.log_text()


@pytest.mark.parametrize("publishes", ["never", "every 50th", "every 50th, confirmed"])
def test_a_backlog_is_drained_holding_at_most_the_bound_and_each_message_is_handled_once(
    broker: Broker, publishes: str
) -> None:
    seen: list[bytes] = []
    unconfirmed: list[int] = []
    client = make_client(broker, "slow", receive_maximum=BOUND)

    def slow(message: ReceivedMessage) -> None:
        seen.append(message.payload)
        if publishes != "never" and len(seen) % 50 == 0:
            handle = client.publish("out/progress", str(len(seen)))
            # as the frame-store does: its answer is behind what the client holds back
            if publishes.endswith("confirmed") and not handle.wait(5):
                unconfirmed.append(len(seen))
        time.sleep(0.0002)

    client.subscribe("backlog/#", slow)
    client.start()
    assert client.wait_connected(5)
    client.stop()  # the persistent session now queues what comes
    publish(broker.host, broker.port, "backlog/a", [f"m{i}".encode() for i in range(BACKLOG)])

    client = make_client(broker, "slow", receive_maximum=BOUND)
    client.subscribe("backlog/#", slow)
    gauge_peak, gauge_after = 0.0, -1.0  # sightline_mqtt_unacked, as a scrape reads it

    def drained() -> bool:
        nonlocal gauge_peak
        gauge = client.metrics.registry.get_sample_value("sightline_mqtt_unacked") or 0.0
        gauge_peak = max(gauge_peak, gauge)
        return handled(client) >= BACKLOG

    started = time.monotonic()
    client.start()
    try:
        wait_until(drained, 240, "the backlog", 0.01)
        took = time.monotonic() - started
        gauge_after = client.metrics.registry.get_sample_value("sightline_mqtt_unacked") or 0.0
    finally:
        client.stop()

    handling = client.handling
    print(
        f"\nbacklog of {BACKLOG}, publishing {publishes}: {took:.1f}s; "
        f"peak unacknowledged {handling.bound.peak}, peak unhandled {handling.inbox_peak}"
    )
    assert 0 < gauge_peak <= handling.bound.peak  # the gauge follows the bound
    assert gauge_after == 0  # every message acknowledged
    counts = Counter(seen)
    assert len(counts) == BACKLOG
    assert set(counts.values()) == {1}
    assert unconfirmed == []  # the handler waiting for the broker never stalled on us
    if publishes == "never":  # no publish awaits a confirmation: the whole bound holds
        assert handling.bound.peak <= BOUND
    elif publishes == "every 50th":  # confirmations are behind the backlog: read on, but
        assert handling.inbox_peak <= BOUND  # what is not handled yet stays bounded
