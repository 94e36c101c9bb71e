"""The event-engine as a real process on a test broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.broker import Broker

REPO = Path(__file__).resolve().parents[2]
INSTANCE = "t1"
STATUS_TOPIC = f"sightline/event-engine/{INSTANCE}/status"


class EngineProcess:
    """``python -m event_engine --config CONFIG`` with the broker and state dir in its env."""

    def __init__(self, broker: Broker, config: Path, state_dir: Path) -> None:
        self.config = config
        self.env = {
            **os.environ,
            "SIGHTLINE_MQTT__URL": broker.url,
            "SIGHTLINE_MQTT__RECONNECT_MIN_S": "0.5",
            "SIGHTLINE_INSTANCE": INSTANCE,
            "SIGHTLINE_STATE_DIR": str(state_dir),
            "SIGHTLINE_HEALTH__ENABLED": "false",
        }
        self.log = state_dir.parent / "engine.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "event_engine", "--config", str(self.config)],
                cwd=REPO,
                env=self.env,
                stderr=log,
            )

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
