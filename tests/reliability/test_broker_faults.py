"""Fault 2: Mosquitto restarted mid-stream, with SIGTERM (persistence saved) and SIGKILL."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sightline.broker import LocalMosquitto
from tests.notifier.support import SmtpServer
from tests.reliability.running import RunningSuite, Service
from tests.reliability.stream import Stream
from tests.reliability.suite import Publisher, bus_events, json_log_ids
from tests.support.mqtt import Collector
from tests.support.waiting import wait_until

AUTOSAVE_S = 1


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """The local binary (SIGTERM and SIGKILL must reach Mosquitto itself), autosave 1 s."""
    broker = LocalMosquitto(tmp_path / "broker", autosave_interval=AUTOSAVE_S)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def run_with_broker_fault(
    mosquitto: LocalMosquitto, stream: Stream, smtp: SmtpServer, tmp_path: Path, kill: bool
) -> tuple[Collector, RunningSuite]:
    """Half the stream, the broker stopped (or killed) and started, the other half."""
    collector = Collector(mosquitto.host, mosquitto.port, "#")
    suite = RunningSuite.on(mosquitto, collector, smtp, tmp_path)
    half = len(stream.messages) // 2
    suite.start(Service.ENGINE, Service.NOTIFIER)
    # the services' sessions are on disk, as in a long-lived broker: a save after they were
    # all online (Mosquitto writes mosquitto.db every AUTOSAVE_S)
    online_ns = time.time_ns()
    saved = mosquitto.data_dir / "mosquitto.db"
    wait_until(
        lambda: saved.exists() and saved.stat().st_mtime_ns > online_ns,
        10 * AUTOSAVE_S,
        "the broker saved the services' sessions",
    )
    publisher = Publisher(mosquitto)
    publisher.send(stream.messages[:half])
    publisher.close()
    wait_until(lambda: len(bus_events(collector)) >= 4, 30, "events before the restart")
    collector.close()
    if kill:
        mosquitto.kill()
        mosquitto.start()
    else:
        mosquitto.restart()
    collector = Collector(mosquitto.host, mosquitto.port, "#")
    suite.collector = collector
    publisher = Publisher(mosquitto)
    publisher.send(stream.messages[half:])
    publisher.close()
    return collector, suite


def test_a_broker_restarted_with_sigterm_mid_stream_loses_no_logged_event_and_doubles_none(
    mosquitto: LocalMosquitto,
    stream: Stream,
    reference: list[dict[str, Any]],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    collector, suite = run_with_broker_fault(mosquitto, stream, smtp, tmp_path, kill=False)
    try:
        wanted = Counter(e["event_id"] for e in reference)
        wait_until(lambda: set(json_log_ids(tmp_path)) >= set(wanted), 60, "every log line")
    finally:
        suite.close()
        collector.close()
    assert Counter(json_log_ids(tmp_path)) == wanted


def test_a_broker_killed_mid_stream_doubles_nothing_and_loses_at_most_its_autosave_window(
    mosquitto: LocalMosquitto,
    stream: Stream,
    reference: list[dict[str, Any]],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    collector, suite = run_with_broker_fault(mosquitto, stream, smtp, tmp_path, kill=True)
    try:
        last = {e["event_id"] for e in reference if e["frame_number"] >= 130}
        wait_until(lambda: bool(last & set(json_log_ids(tmp_path))), 60, "the stream's end")
        logged = json_log_ids(tmp_path)
    finally:
        suite.close()
        collector.close()
    lost = {e["event_id"] for e in reference} - set(logged)
    print(f"after a broker SIGKILL: {len(lost)} of {len(reference)} events not logged")
    assert max(Counter(logged).values()) == 1
    assert set(logged) <= {e["event_id"] for e in reference}
