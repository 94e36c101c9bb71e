"""A real Mosquitto for tests: a testcontainers container when a Docker engine answers,
else the local ``mosquitto`` binary; both with the same interface."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from sightline.broker import LocalMosquitto, free_port, mosquitto_conf

log = logging.getLogger(__name__)


class Broker(Protocol):
    """What tests need of a broker."""

    port: int

    @property
    def host(self) -> str: ...

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def restart(self) -> None: ...


class ContainerMosquitto:
    """Mosquitto in a Docker container through testcontainers (same interface)."""

    def __init__(self, data_dir: Path) -> None:
        from testcontainers.core.container import DockerContainer

        self.host = "127.0.0.1"
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "mosquitto.conf").write_text(
            mosquitto_conf(1883, Path("/mosquitto/data"))
            .replace("listener 1883 127.0.0.1", "listener 1883 0.0.0.0")
            .replace(f"log_dest file {Path('/mosquitto/data')}/mosquitto.log", "log_dest stderr")
        )
        self._container = (
            DockerContainer("eclipse-mosquitto:2.0")  # raises DockerException without an engine
            .with_bind_ports(1883, self.port)
            .with_volume_mapping(str(data_dir), "/mosquitto/config", "ro")
            .with_command("mosquitto -c /mosquitto/config/mosquitto.conf")
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self._container.start()

    def stop(self) -> None:
        self._container.get_wrapped_container().stop(timeout=10)

    def kill(self) -> None:
        self._container.get_wrapped_container().kill()

    def restart(self) -> None:
        self._container.get_wrapped_container().restart(timeout=10)


def make_broker(data_dir: Path) -> Broker:
    """A started broker: a container if Docker answers, else the local binary."""
    try:
        broker: Broker = ContainerMosquitto(data_dir)
        broker.start()
        return broker
    except Exception as exc:  # docker.errors.DockerException when no engine answers
        log.info("no Docker engine (%s): using the local mosquitto binary", type(exc).__name__)
    local = LocalMosquitto(data_dir)
    local.start()
    return local
