"""The frame-store as a real process (``python -m frame_store --config FILE``) for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sightline.broker import free_port
from tests.support.broker import Broker
from tests.support.mqtt import Collector
from tests.support.service_process import ServiceProcess, said, service_env, status_topic

STATUS_TOPIC = status_topic("frame-store")


class FrameStoreProcess(ServiceProcess):
    """One frame-store process on ``broker``, its files under ``tmp_path``."""

    def __init__(
        self,
        broker: Broker,
        tmp_path: Path,
        *,
        root: Path | None = None,
        state_dir: Path | None = None,
        **frame_store: Any,
    ) -> None:
        self.root = root or tmp_path / "snapshots"
        self.state_dir = state_dir or tmp_path / "state"
        self.config = tmp_path / "frames.yaml"
        section = {"storage": {"type": "file", "root": str(self.root)}, **frame_store}
        self.config.write_text(yaml.safe_dump({"frame_store": section}))
        health_port = free_port()
        super().__init__(
            "frame_store",
            ["--config", str(self.config)],
            service_env(broker, self.state_dir, health_port=health_port),
            tmp_path / "frame-store.log",
            health_port=health_port,
        )

    def start_online(self, collector: Collector) -> None:
        """Start it and wait until it is online (its subscriptions are in place by then)."""
        seen = len(collector.messages)
        self.start()
        online = said(STATUS_TOPIC, b"online")
        collector.wait_for(lambda messages: online(messages[seen:]), timeout=30)

    def metric(self, name: str) -> float:
        """The value of an unlabelled metric in ``/metrics`` (0 when absent)."""
        for line in self.metrics_text().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return 0.0

    def health_status(self) -> int:
        """The HTTP status of ``/healthz`` (200 when MQTT, the worker and the loop are fine)."""
        return self.healthz()[0]
