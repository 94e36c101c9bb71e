"""A real Mosquitto for tests: a testcontainers container when a Docker engine answers,
else the local ``mosquitto`` binary; both with the same interface. Also the shipped ACL
(mosquitto/acl) on a local broker, with a password per user."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Protocol

from sightline.broker import LocalMosquitto, free_port, mosquitto_conf
from tests.support.paths import REPO

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


def password(user: str) -> str:
    """The password :func:`acl_broker` gives ``user``."""
    return f"pw-{user}"


def acl_broker(root: Path, users: tuple[str, ...]) -> LocalMosquitto:
    """A started local Mosquitto with the shipped ACL file; ``users`` log in with
    :func:`password`, anonymous clients are refused."""
    root.mkdir(parents=True, exist_ok=True)
    passwd = root / "passwd"
    for index, user in enumerate(users):
        flags = ["-c"] if index == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *flags, "-b", str(passwd), user, password(user)], check=True
        )
    passwd.chmod(0o600)
    broker = LocalMosquitto(
        root / "broker", password_file=passwd, extra_conf=f"acl_file {REPO / 'mosquitto' / 'acl'}\n"
    )
    broker.start()
    return broker
