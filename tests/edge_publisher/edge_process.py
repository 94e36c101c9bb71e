"""The real edge-publisher as a subprocess, configured through a YAML file and env vars."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sightline.broker import free_port
from tests.support.broker import Broker

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "yolo11n_int8_openvino_model"
VIDEO = REPO / "samples" / "pedestrians.avi"


def edge_config(**sections: Any) -> dict[str, Any]:
    """A config for the bundled video and model, persons only; ``sections`` override."""
    config: dict[str, Any] = {
        "device_id": "jetson-01",
        "camera_id": "driveway",
        "camera": {"url": str(VIDEO)},
        "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
        "frames": {"interval_s": 1.0, "on_detection": False},
    }
    config.update(sections)
    return config


class EdgeProcess:
    """``python -m edge_publisher`` against ``broker`` with ``config`` and extra ``args``."""

    def __init__(
        self, broker: Broker, tmp_path: Path, config: dict[str, Any], *args: str, **env: str
    ) -> None:
        self.health_port = free_port()
        self.config_path = tmp_path / "edge.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp_path / "edge.log"
        self.args = ["--config", str(self.config_path), *args]
        self.env = {
            **os.environ,
            "SIGHTLINE_MQTT__URL": broker.url,
            "SIGHTLINE_INSTANCE": "t1",
            "SIGHTLINE_STATE_DIR": str(tmp_path / "state"),
            "SIGHTLINE_HEALTH__PORT": str(self.health_port),
            "SIGHTLINE_HEALTH__HOST": "127.0.0.1",
            "YOLO_CONFIG_DIR": str(REPO / "var" / "ultralytics"),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        """Start the process (stdout and stderr go to :attr:`log_path`)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge_publisher", *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to end; its exit status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout)

    def log(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str) -> float:
        """The value of one unlabelled sample (or the sum of a labelled family) from /metrics."""
        url = f"http://127.0.0.1:{self.health_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
        ]
        return sum(values)

    def close(self) -> None:
        """Kill the process if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
