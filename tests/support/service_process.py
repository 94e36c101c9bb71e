"""A Sightline service as a real process on a test broker: start, signal, health, close.

Example::

    env = service_env(broker, tmp_path / "state", health_port=free_port())
    service = ServiceProcess("notifier", ["--config", str(config)], env, tmp_path / "n.log")
    service.start()
    assert service.stop() == 0
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.broker import Broker
from tests.support.mqtt import Seen
from tests.support.paths import REPO

INSTANCE = "t1"


def status_topic(service: str, instance: str = INSTANCE) -> str:
    """Where ``service`` says online/offline."""
    return f"sightline/{service}/{instance}/status"


def service_env(
    broker: Broker,
    state_dir: Path,
    *,
    health_port: int | None,
    reconnect_min_s: str | None = "0.5",
    **extra: str,
) -> dict[str, str]:
    """The environment of a service on ``broker``; no ``health_port`` turns /healthz off."""
    env = {**os.environ, "SIGHTLINE_MQTT__URL": broker.url}
    if reconnect_min_s is not None:
        env["SIGHTLINE_MQTT__RECONNECT_MIN_S"] = reconnect_min_s
    env["SIGHTLINE_INSTANCE"] = INSTANCE
    env["SIGHTLINE_STATE_DIR"] = str(state_dir)
    if health_port is None:
        env["SIGHTLINE_HEALTH__ENABLED"] = "false"
    else:
        env["SIGHTLINE_HEALTH__PORT"] = str(health_port)
        env["SIGHTLINE_HEALTH__HOST"] = "127.0.0.1"
    return {**env, **extra}


def said(topic: str, payload: bytes) -> Callable[[list[Seen]], bool]:
    """A collector predicate: some message on ``topic`` was ``payload``."""
    return lambda messages: any(m.topic == topic and m.payload == payload for m in messages)


def status_now(topic: str, payload: bytes) -> Callable[[list[Seen]], bool]:
    """A collector predicate: the last message on ``topic`` is ``payload``."""

    def check(messages: list[Seen]) -> bool:
        statuses = [m.payload for m in messages if m.topic == topic]
        return bool(statuses) and statuses[-1] == payload

    return check


class ServiceProcess:
    """``python -m MODULE ARGS`` with ``env``, its stderr (and stdout if merged) in ``log_path``."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        *,
        health_port: int | None = None,
        merge_stdout: bool = False,
    ) -> None:
        self.module = module
        self.args = list(args)
        self.env = env
        self.log_path = log_path
        self.health_port = health_port
        self.merge_stdout = merge_stdout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (the child keeps its own copy of the log's descriptor)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log if self.merge_stdout else None,
                stderr=subprocess.STDOUT if self.merge_stdout else log,
            )

    def send(self, signum: int, timeout: float = 30.0) -> int:
        """Send ``signum`` and wait; the exit status."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit status."""
        return self.send(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL: a crash, nothing is flushed."""
        return self.send(signal.SIGKILL, 10)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to end; its exit status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def log_text(self) -> str:
        """What the process wrote to its log so far."""
        return self.log_path.read_text(errors="replace")

    def healthz(self) -> tuple[int, bytes]:
        """The HTTP status and body of ``/healthz``."""
        try:
            with urllib.request.urlopen(self._url("/healthz"), timeout=2) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, bytes(exc.read())

    def metrics_text(self) -> str:
        """The text of ``/metrics``."""
        with urllib.request.urlopen(self._url("/metrics"), timeout=2) as response:
            return str(response.read().decode())

    def close(self) -> None:
        """Kill the process if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _url(self, path: str) -> str:
        assert self.health_port is not None, "started without a health port"
        return f"http://127.0.0.1:{self.health_port}{path}"
