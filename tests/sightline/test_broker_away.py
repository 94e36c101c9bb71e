"""Loud when the broker is away: each failed connect and each back-off step is a WARNING that
names the broker as host:port (never its URL) and the delay before the next try."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from sightline.broker import LocalMosquitto, free_port
from sightline.config import MqttConfig
from sightline.mqtt import MqttClient
from tests.support.waiting import wait_until

RETRY = re.compile(r"trying again in (\d+)s")


def warnings(caplog: pytest.LogCaptureFixture, broker: str) -> list[str]:
    """The WARNING lines that name ``broker``."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and broker in r.getMessage()
    ]


def test_a_broker_that_is_down_is_a_warning_at_each_back_off_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sightline")
    port = free_port()  # nobody listens there
    client = MqttClient(
        MqttConfig(url=f"mqtt://127.0.0.1:{port}", reconnect_min_s=1, reconnect_max_s=4),
        service="event-engine",
        instance="main",
    )
    client.start()
    try:
        wait_until(lambda: len(warnings(caplog, f"127.0.0.1:{port}")) >= 3, 10, "3 warnings")
    finally:
        client.stop(1)
    said = warnings(caplog, f"127.0.0.1:{port}")
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]

    assert f"connecting to 127.0.0.1:{port} as sightline-event-engine-main" in infos
    assert all(m.startswith(f"cannot reach the broker at 127.0.0.1:{port}") for m in said)
    assert [int(RETRY.search(m).group(1)) for m in said[:3]] == [1, 2, 4]  # type: ignore[union-attr]
    assert not any("mqtt://" in r.getMessage() for r in caplog.records)


def test_losing_a_broker_is_a_warning_naming_it_then_each_failed_reconnect(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="sightline")
    broker = LocalMosquitto(tmp_path / "broker")
    broker.start()
    where = f"127.0.0.1:{broker.port}"
    client = MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=1, reconnect_max_s=2),
        service="notifier",
        instance="main",
    )
    client.start()
    try:
        assert client.wait_connected(5)
        broker.stop()
        wait_until(lambda: len(warnings(caplog, where)) >= 2, 10, "2 warnings")
    finally:
        client.stop(1)
    said = warnings(caplog, where)

    assert said[0].startswith(f"lost the broker at {where}")
    assert RETRY.search(said[0])
    assert said[1].startswith(f"cannot reach the broker at {where}")


def test_stopping_with_the_broker_away_says_what_it_never_delivered(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    broker = LocalMosquitto(tmp_path / "broker")
    broker.start()
    edge = MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=1, reconnect_max_s=1),
        service="edge-publisher",
        instance="cam",
    )
    edge.start()
    assert edge.wait_connected(5)
    # its own `online` is confirmed first, or it would count as sent but unconfirmed
    wait_until(lambda: not any(edge.undelivered().values()), 10, "its status confirmed")
    broker.stop()
    wait_until(lambda: not edge.connected, 10, "the edge noticed")
    for number in range(3):
        edge.publish_nowait("detections/cam", f"envelope {number}")
    edge.publish_nowait("detections/cam/frame", "jpeg", droppable=True)

    left = edge.undelivered()
    edge.stop(1)

    assert left == {"essential": 3, "droppable": 1, "unconfirmed": 0}
    said = warnings(caplog, f"127.0.0.1:{broker.port}")
    assert said[-1] == (
        f"stopped with messages the broker at 127.0.0.1:{broker.port} never confirmed: "
        "4 queued (1 droppable), 0 sent but unconfirmed"
    )
