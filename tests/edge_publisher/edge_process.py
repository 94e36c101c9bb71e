"""The real edge-publisher as a subprocess, configured through a YAML file and env vars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from sightline.broker import free_port
from tests.support.broker import Broker
from tests.support.paths import REPO
from tests.support.service_process import INSTANCE, ServiceProcess, service_env

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


class EdgeProcess(ServiceProcess):
    """``python -m edge_publisher`` against ``broker`` with ``config`` and extra ``args``.

    ``instance`` None leaves the instance to the edge (its camera id).
    """

    def __init__(
        self,
        broker: Broker,
        tmp_path: Path,
        config: dict[str, Any],
        *args: str,
        instance: str | None = INSTANCE,
        **env: str,
    ) -> None:
        health_port = free_port()
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.config_path = tmp_path / "edge.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        environment = service_env(
            broker,
            tmp_path / "state",
            health_port=health_port,
            reconnect_min_s=None,
            YOLO_CONFIG_DIR=str(REPO / "var" / "ultralytics"),
            **env,
        )
        if instance is None:
            del environment["SIGHTLINE_INSTANCE"]
        else:
            environment["SIGHTLINE_INSTANCE"] = instance
        super().__init__(
            "edge_publisher",
            ["--config", str(self.config_path), *args],
            environment,
            tmp_path / "edge.log",
            health_port=health_port,
            merge_stdout=True,
        )

    def metric(self, name: str) -> float:
        """The value of one unlabelled sample (or the sum of a labelled family) from /metrics."""
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in self.metrics_text().splitlines()
            if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
        ]
        return sum(values)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]
