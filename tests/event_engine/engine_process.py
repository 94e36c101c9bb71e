"""The event-engine as a real process on a test broker."""

from __future__ import annotations

from pathlib import Path

from tests.support.broker import Broker
from tests.support.service_process import ServiceProcess, service_env, status_topic

STATUS_TOPIC = status_topic("event-engine")


class EngineProcess(ServiceProcess):
    """``python -m event_engine --config CONFIG`` with the broker and state dir in its env."""

    def __init__(self, broker: Broker, config: Path, state_dir: Path) -> None:
        super().__init__(
            "event_engine",
            ["--config", str(config)],
            service_env(broker, state_dir, health_port=None),
            state_dir.parent / "engine.log",
        )
        self.config = config
