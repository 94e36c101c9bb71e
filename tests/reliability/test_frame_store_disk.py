"""The frame-store on a real small disk that fills up or turns read-only, then comes back.

A write that fails is never acknowledged nor dead-lettered: the service says why once per
episode (log, metric, ``/healthz`` 503), retries with back-off, and once the disk is back every
event gets its snapshot and exactly one announcement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.messages import BBox, Event, SnapshotAnnouncement
from tests.frame_store.media import line_event
from tests.frame_store.process import FrameStoreProcess
from tests.frame_store.test_service import CAMERA, announcements, send_event, send_frames
from tests.support.broker import Broker
from tests.support.disk import fill, fill_inodes, free_bytes, remount, tmpfs
from tests.support.mqtt import Collector
from tests.support.paths import REPO
from tests.support.service_process import service_env
from tests.support.waiting import settle, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a real tmpfs: needs root")

BOX = BBox(x1=500, y1=200, x2=560, y2=330)
FAILED_LOG = "retrying with back-off"
RECOVERED_LOG = "writing again after"
FAILURES = "sightline_snapshot_write_failures_total"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (room for about a dozen events' pictures)."""
    with tmpfs(tmp_path / "disk", size="3m") as mounted:
        yield mounted


def events(first_frame: int, count: int) -> list[Event]:
    return [line_event(CAMERA, first_frame + n, BOX, track_id=100 + n) for n in range(count)]


def announced_once(collector: Collector, wanted: list[Event]) -> list[SnapshotAnnouncement]:
    """Wait until each of ``wanted`` is announced; the announcements, checked to be one each."""
    ids = [e.event_id for e in wanted]
    wait_until(
        lambda: set(ids) <= {a.event_id for a in announcements(collector.messages)},
        60,
        "an announcement for every event",
    )
    seen = announcements(collector.messages)
    assert sorted(a.event_id for a in seen) == sorted(ids)  # none twice, none other
    return seen


def dead_letters(collector: Collector) -> list[str]:
    return [json.loads(m.payload)["reason"] for m in collector.on("sightline/deadletter/")]


def stuck_on_the_disk(service: FrameStoreProcess, collector: Collector) -> None:
    """The service is retrying: /healthz 503, failures counted, nothing announced or lost."""
    assert settle(lambda: service.metric(FAILURES) >= 3, 30), service.log_text()[-2000:]
    status, body = service.healthz()
    assert status == 503
    assert "storage" in json.loads(body)["failing"]
    assert service.metric("sightline_snapshot_storage_writable") == 0
    assert announcements(collector.messages) == []
    assert dead_letters(collector) == []
    assert service.log_text().count(FAILED_LOG) == 1  # said once for the episode


def back_to_normal(service: FrameStoreProcess) -> None:
    assert settle(lambda: service.health_status() == 200, 10)
    assert service.metric("sightline_snapshot_storage_writable") == 1
    assert service.log_text().count(RECOVERED_LOG) == 1


@pytest.mark.parametrize(
    ("state_on_the_disk", "full_at_start"),
    [
        pytest.param(False, False, id="snapshots-on-the-full-disk"),
        pytest.param(True, False, id="snapshots-and-state-on-the-full-disk"),
        pytest.param(True, True, id="full-before-the-start"),
    ],
)
def test_a_full_disk_holds_the_events_back_and_loses_none_once_space_returns(
    broker: Broker,
    collector: Collector,
    tmp_path: Path,
    disk: Path,
    state_on_the_disk: bool,
    full_at_start: bool,
) -> None:
    service = FrameStoreProcess(
        broker,
        tmp_path,
        root=disk / "snapshots",
        state_dir=disk / "state" if state_on_the_disk else None,
        frame_wait_s=30,
    )
    try:
        if full_at_start:
            filler = fill(disk)
        service.start_online(collector)  # a full disk is no reason not to start
        if not full_at_start:
            filler = fill(disk)
        assert free_bytes(disk) == 0
        held = events(40, 3)
        if state_on_the_disk:  # events first: keeping them pending is the write that fails
            for event in held:
                send_event(broker, event)
            send_frames(broker, [39, 40, 41, 42, 43])
        else:  # frames first: storing the pictures is the write that fails
            send_frames(broker, [39, 40, 41, 42, 43])
            for event in held:
                send_event(broker, event)

        stuck_on_the_disk(service, collector)

        filler.unlink()
        seen = announced_once(collector, held)
        back_to_normal(service)
        for announced in seen:
            assert announced.frame_ref is not None, announced.reason
            assert announced.image is not None
            assert (service.root / announced.frame_ref.key).stat().st_size > 0
        later = line_event(CAMERA, 43, BOX, track_id=200)
        send_event(broker, later)  # handled after everything before it
        announced_once(collector, [*held, later])
        assert dead_letters(collector) == []
    finally:
        service.close()


def test_a_disk_turned_read_only_holds_the_events_back_until_it_is_writable_again(
    broker: Broker, collector: Collector, tmp_path: Path, disk: Path
) -> None:
    service = FrameStoreProcess(broker, tmp_path, root=disk / "snapshots", state_dir=disk / "state")
    try:
        service.start_online(collector)
        remount(disk, read_only=True)
        held = events(40, 3)
        send_frames(broker, [40, 41, 42])
        for event in held:
            send_event(broker, event)

        stuck_on_the_disk(service, collector)
        assert "Read-only file system (EROFS)" in service.log_text()

        remount(disk, read_only=False)
        seen = announced_once(collector, held)
        back_to_normal(service)
        assert all(a.frame_ref is not None for a in seen)
        ledger = service.state_dir / "announced"  # recorded once the broker confirmed
        wait_until(
            lambda: sorted(p.name for p in ledger.iterdir()) == sorted(e.event_id for e in held),
            10,
            "the announced events in the ledger",
        )
        assert list((service.state_dir / "pending").glob("*.json")) == []
    finally:
        service.close()


def test_an_announcement_is_not_repeated_when_recording_it_failed(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with tmpfs(state / "announced", size="1m", inodes=64) as ledger:
        service = FrameStoreProcess(broker, tmp_path, state_dir=state)
        try:
            service.start_online(collector)
            filler = fill_inodes(ledger)  # pictures can be stored; the ledger's marker cannot
            held = events(40, 2)
            send_frames(broker, [40, 41])
            for event in held:
                send_event(broker, event)

            wait_until(lambda: len(announcements(collector.messages)) >= 1, 30, "announced")
            assert settle(lambda: service.metric(FAILURES) >= 3, 30)
            seen = [a.event_id for a in announcements(collector.messages)]
            assert sorted(seen) == sorted(set(seen))  # tried again: recorded, never resent
            assert set(seen) <= {e.event_id for e in held}
            assert service.health_status() == 503

            for marker in filler.iterdir():
                marker.unlink()
            announced_once(collector, held)
            # recorded at the main loop's next try, after the back-off (at most 30 s)
            wait_until(lambda: service.health_status() == 200, 40, "the ledger recording")
            back_to_normal(service)
            wait_until(
                lambda: {e.event_id for e in held} <= {p.name for p in ledger.iterdir()},
                10,
                "the announced events in the ledger",
            )
        finally:
            service.close()


@pytest.mark.parametrize("read_only", ["snapshots", "state"])
def test_a_read_only_directory_at_start_is_one_clear_line_naming_it(
    broker: Broker, tmp_path: Path, read_only: str
) -> None:
    with tmpfs(tmp_path / read_only, size="1m", read_only=True) as mounted:
        config = tmp_path / "frames.yaml"
        storage = {"type": "file", "root": str(tmp_path / "snapshots")}
        config.write_text(json.dumps({"frame_store": {"storage": storage}}))
        env = service_env(broker, tmp_path / "state", health_port=None)
        done = subprocess.run(
            [sys.executable, "-m", "frame_store", "--config", str(config)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("sightline:")]
    assert len(said) == 1, done.stderr
    assert str(mounted) in said[0]
    assert "Read-only file system" in said[0]
