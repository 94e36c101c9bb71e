"""The notifier as a real process (``python -m notifier --config FILE``) for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from sightline.broker import free_port
from tests.notifier.support import SmtpServer
from tests.support.broker import Broker
from tests.support.service_process import ServiceProcess, service_env, status_topic

STATUS_TOPIC = status_topic("notifier")


class NotifierProcess(ServiceProcess):
    """``python -m notifier`` with a YAML config in a temp folder."""

    def __init__(self, broker: Broker, smtp: SmtpServer, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.snapshots_dir = tmp_path / "snaps"
        self.state_dir = tmp_path / "state"
        self.config = tmp_path / "notifier.yaml"
        notifier = {
            "timezone": "Europe/Berlin",
            "snapshots_dir": str(self.snapshots_dir),
            "snapshot_wait_s": 10,
            "json_log": {"directory": str(tmp_path / "log")},
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"},
            "email": {"to": ["home@example.com"]},
            "digests": [{"name": "default", "every": "10s", "max_photos": 3}],
        }
        self.config.write_text(yaml.safe_dump({"notifier": notifier}))
        health_port = free_port()
        super().__init__(
            "notifier",
            ["--config", str(self.config)],
            service_env(broker, self.state_dir, health_port=health_port),
            tmp_path / "notifier.log",
            health_port=health_port,
        )

    def digest_periods_from(self, origin: int, every: str) -> None:
        """Make the config's digests run ``every`` from ``origin`` (epoch seconds), so a test
        knows the period its events land in and when it ends; read at the next start."""
        config = yaml.safe_load(self.config.read_text())
        for digest in config["notifier"]["digests"]:
            digest.update(every=every, origin=datetime.fromtimestamp(origin, UTC).isoformat())
        self.config.write_text(yaml.safe_dump(config))

    def close(self) -> None:
        """SIGTERM if it still runs, so that its files are flushed."""
        if self.process is not None and self.process.poll() is None:
            self.stop()
