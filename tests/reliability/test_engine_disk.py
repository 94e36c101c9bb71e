"""The event-engine on a full disk and a read-only one (real tmpfs mounts; needs root).

A full disk: the checkpoint cannot be written, so nothing more is acknowledged; the engine
says why once (log), counts it (metric), answers /healthz 503 naming ``checkpoint``, takes no
new work, retries with back-off, and when space returns goes on: every reference event on
the bus exactly once. A read-only state directory at start: one line naming the directory,
exit status 2, no traceback.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sightline.broker import free_port
from tests.event_engine.engine_process import STATUS_TOPIC as ENGINE_STATUS
from tests.reliability.stream import CAMERAS, Stream, engine_config
from tests.reliability.suite import Publisher, bus_events
from tests.support.broker import Broker
from tests.support.disk import NEEDS_ROOT, fill, remount, tmpfs
from tests.support.mqtt import Collector
from tests.support.service_process import ServiceProcess, service_env, status_now
from tests.support.waiting import wait_until

pytestmark = NEEDS_ROOT


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, unmounted at the end."""
    with tmpfs(tmp_path / "disk", "256k") as mounted:
        yield mounted


def engine_on(broker: Broker, tmp_path: Path, state_dir: Path) -> ServiceProcess:
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump(engine_config()))
    port = free_port()
    return ServiceProcess(
        "event_engine",
        ["--config", str(config)],
        service_env(broker, state_dir, health_port=port),
        tmp_path / "engine.log",
        health_port=port,
    )


def checkpoint_failures(engine: ServiceProcess) -> float:
    """The engine's ``sightline_engine_checkpoint_failures_total`` as it says it now."""
    for line in engine.metrics_text().splitlines():
        if line.startswith("sightline_engine_checkpoint_failures_total "):
            return float(line.split()[1])
    return 0.0


def test_a_full_disk_stops_acknowledgements_says_why_and_loses_nothing_when_space_returns(
    broker: Broker,
    collector: Collector,
    stream: Stream,
    reference: list[dict[str, Any]],
    tmp_path: Path,
    small_disk: Path,
) -> None:
    engine = engine_on(broker, tmp_path, small_disk / "state")
    publisher = Publisher(broker)
    cameras = len(CAMERAS)
    try:
        engine.start()
        collector.wait_for(status_now(ENGINE_STATUS, b"online"), timeout=30)
        publisher.send(stream.messages[: 30 * cameras])
        wait_until(lambda: len(bus_events(collector)) >= 2 * cameras, 30, "the first events")
        filler = fill(small_disk)
        publisher.send(stream.messages[30 * cameras :])
        wait_until(lambda: engine.healthz()[0] == 503, 30, "/healthz 503 on the full disk")
        status, body = engine.healthz()
        assert (status, json.loads(body)["failing"]) == (503, ["checkpoint"])
        wait_until(lambda: checkpoint_failures(engine) >= 3, 30, "a few retries, all refused")
        stalled = len(bus_events(collector))
        assert stalled < len(reference), "the engine went on without keeping its state"
        assert "sightline_engine_checkpoint_failures_total" in engine.metrics_text()
        filler.unlink()  # space returns
        wanted = {e["event_id"] for e in reference}
        wait_until(
            lambda: {e["event_id"] for e in bus_events(collector)} >= wanted,
            60,
            "every reference event once space returned",
        )
        wait_until(lambda: engine.healthz()[0] == 200, 30, "/healthz 200 again")
        assert engine.stop() == 0
        # marker: the engine's own "offline" comes after every event it published (one client,
        # in order), so stragglers, if any, are in the collector once it is seen
        collector.wait_for(status_now(ENGINE_STATUS, b"offline"), timeout=30)
    finally:
        publisher.close()
        engine.close()

    ids = Counter(e["event_id"] for e in bus_events(collector))
    assert ids == Counter(e["event_id"] for e in reference)
    log = engine.log_text()
    refusals = [line for line in log.splitlines() if "cannot write the checkpoint" in line]
    assert len(refusals) == 1, refusals  # once per episode, with the reason
    assert "No space left on device" in refusals[0]
    assert "Traceback" not in log


def test_a_read_only_state_dir_stops_the_engine_with_one_line_naming_it(
    broker: Broker, tmp_path: Path, small_disk: Path
) -> None:
    remount(small_disk, read_only=True)
    engine = engine_on(broker, tmp_path, small_disk)
    engine.start()
    assert engine.wait(30) == 2
    log = engine.log_text()
    assert "Traceback" not in log
    problem = [line for line in log.splitlines() if "not writable" in line]
    assert len(problem) == 1
    assert f"state_dir {small_disk} is not writable (Read-only file system)" in problem[0]
