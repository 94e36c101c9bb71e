"""The frame-store process's upkeep: retention at start and periodically, Home Assistant's
birth, a clean stop, and a storage it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.broker import free_port
from tests.conftest import REPO
from tests.frame_store.media import frame_message, video_frames
from tests.frame_store.process import FrameStoreProcess
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import settle

OLD_S = 30 * 86400
DISCOVERY = "homeassistant/image/sightline_yard/snapshot/config"


def old_snapshot(root: Path, event_id: str) -> Path:
    """A month-old annotated picture of camera ``yard``."""
    path = root / "yard" / "2024-12-01" / f"{event_id}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8old")
    os.utime(path, (time.time() - OLD_S, time.time() - OLD_S))
    return path


@pytest.fixture
def frame_store(
    broker: Broker, collector: Collector, tmp_path: Path
) -> Iterator[FrameStoreProcess]:
    service = FrameStoreProcess(
        broker, tmp_path, retention={"days": 7, "min_age_s": 60, "interval_s": 0.5}
    )
    yield service
    service.close()


def test_retention_runs_at_start_and_then_periodically(
    collector: Collector, frame_store: FrameStoreProcess
) -> None:
    at_start = old_snapshot(frame_store.root, "before-start")
    young = frame_store.root / "yard" / "2025-01-15" / "young.jpg"
    young.parent.mkdir(parents=True)
    young.write_bytes(b"\xff\xd8young")
    frame_store.start_online(collector)
    assert settle(lambda: not at_start.exists(), 10, interval=0.05)

    later = old_snapshot(frame_store.root, "while-running")
    assert settle(lambda: not later.exists(), 10, interval=0.05)
    assert young.exists()
    assert frame_store.health_status() == 200
    assert frame_store.stop() == 0
    assert "retention removed snapshot" in frame_store.log_text()


def test_discovery_is_published_again_when_home_assistant_comes_online(
    broker: Broker, collector: Collector, frame_store: FrameStoreProcess
) -> None:
    frame_store.start_online(collector)
    frame = frame_message("yard", 1, video_frames()[1])
    publish(broker.host, broker.port, "detections/yard/frame", [frame])
    collector.wait_for(lambda ms: any(m.topic == DISCOVERY for m in ms))

    publish(broker.host, broker.port, "homeassistant/status", [b"online"])

    collector.wait_for(lambda ms: sum(m.topic == DISCOVERY for m in ms) >= 2)


def test_an_unreachable_s3_bucket_is_refused_at_start_with_a_message_saying_so(
    tmp_path: Path,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "frames.yaml"
    config.write_text(
        f"frame_store:\n  storage: {{type: s3, bucket: snapshots, endpoint_url: '{nobody}'}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "frame_store", "--config", str(config)],
        cwd=REPO,
        env={
            **os.environ,
            "SIGHTLINE_HEALTH__ENABLED": "false",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "frame_store.storage: S3 bucket 'snapshots'" in done.stderr.decode()
