"""``sightline --config FILE``: the whole suite on one box (the seed's ``mode: local``)."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sightline.broker import LocalMosquitto, free_port
from sightline.config.settings import SuiteSettings
from sightline.service import EXIT_CONFIG
from sightline.topics import Service
from suite.configs import MODULES, SERVICES, service_configs, write_service_configs
from suite.supervisor import ServiceProcess, Supervisor

log = logging.getLogger(__name__)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def suite_broker(settings: SuiteSettings, state_root: Path) -> Iterator[str]:
    """The broker URL: the configured one, or a private Mosquitto started for the run."""
    if settings.broker == "external" or "url" in settings.mqtt.model_fields_set:
        yield settings.mqtt.url
        return
    port = 1883 if _port_is_free(1883) else free_port()
    # A killed suite (SIGKILL, the OOM killer) leaves no broker holding the port behind.
    broker = LocalMosquitto(state_root / "broker", port=port, die_with_parent=True)
    broker.start()
    log.info("started a private Mosquitto on %s", broker.url, extra={"broker": broker.url})
    try:
        yield broker.url
    finally:
        broker.stop()


def suite_processes(
    settings: SuiteSettings, mqtt_url: str, state_root: Path, services: tuple[str, ...] = SERVICES
) -> list[ServiceProcess]:
    """One process per service, each with its own config file and log file."""
    configs = service_configs(settings, mqtt_url, state_root)
    paths = write_service_configs(configs, state_root / "config")
    logs = state_root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return [
        ServiceProcess(
            name=name,
            args=["-m", MODULES[name], "--config", str(paths[name])],
            log_file=logs / f"{name}.log",
        )
        for name in services
    ]


def run_suite(settings: SuiteSettings, stop: threading.Event) -> int:
    """Run every service until ``stop`` is set; 0 when all stopped cleanly."""
    state_root = settings.state_dir or Path("var") / Service.SUITE
    with suite_broker(settings, state_root) as url:
        supervisor = Supervisor(suite_processes(settings, url, state_root))
        supervisor.run(stop)
    for name in supervisor.refused:
        log_file = state_root / "logs" / f"{name}.log"
        lines = log_file.read_text(errors="replace").splitlines() if log_file.exists() else []
        problems = [line for line in lines if line.startswith("sightline")][-5:]
        print(f"sightline: {name} refused its config:", *problems, sep="\n  ", file=sys.stderr)
    if supervisor.refused:
        return EXIT_CONFIG
    failed = {name: code for name, code in supervisor.finished.items() if code != 0}
    if failed:
        log.error("services exited with errors: %s", failed)
    return 1 if failed else 0
