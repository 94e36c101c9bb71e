"""The frame-store as a real process (``python -m frame_store --config FILE``) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sightline.broker import free_port
from tests.conftest import REPO
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen

INSTANCE = "t1"
STATUS_TOPIC = f"sightline/frame-store/{INSTANCE}/status"


class FrameStoreProcess:
    """One frame-store process on ``broker``, its files under ``tmp_path``."""

    def __init__(self, broker: Broker, tmp_path: Path, **frame_store: Any) -> None:
        self.root = tmp_path / "snapshots"
        self.state_dir = tmp_path / "state"
        self.config = tmp_path / "frames.yaml"
        self.health_port = free_port()
        section = {"storage": {"type": "file", "root": str(self.root)}, **frame_store}
        self.config.write_text(yaml.safe_dump({"frame_store": section}))
        self.env = {
            **os.environ,
            "SIGHTLINE_MQTT__URL": broker.url,
            "SIGHTLINE_MQTT__RECONNECT_MIN_S": "0.5",
            "SIGHTLINE_INSTANCE": INSTANCE,
            "SIGHTLINE_STATE_DIR": str(self.state_dir),
            "SIGHTLINE_HEALTH__PORT": str(self.health_port),
            "SIGHTLINE_HEALTH__HOST": "127.0.0.1",
        }
        self.log = tmp_path / "frame-store.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, collector: Collector) -> None:
        """Start it and wait until it is online (its subscriptions are in place by then)."""
        seen = len(collector.messages)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "frame_store", "--config", str(self.config)],
                cwd=REPO,
                env=self.env,
                stderr=log,
            )
        collector.wait_for(lambda ms: any(_online(m) for m in ms[seen:]), timeout=30)

    def health_status(self) -> int:
        """The HTTP status of ``/healthz`` (200 when MQTT, the worker and the loop are fine)."""
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def kill(self) -> None:
        """SIGKILL: a crash, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM and the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def close(self) -> None:
        """Kill it if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _online(message: Seen) -> bool:
    return message.topic == STATUS_TOPIC and message.payload == b"online"
