"""What every service's ``main`` shares: read the config, log, health, MQTT, stop on SIGTERM.

A service is a function that receives a :class:`ServiceContext`, subscribes its handlers on
``ctx.client`` and returns either nothing (a pure consumer) or a loop to run on the main
thread until ``ctx.stopping`` is set.

Example:
    .. code-block:: python

        def build(ctx: ServiceContext) -> None:
            ctx.client.subscribe(ctx.client.topics.all_events, handle_event)

        def main(argv: list[str] | None = None) -> int:
            return run_service("notifier", NotifierSettings, build, argv)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TypeVar

from prometheus_client import CollectorRegistry

from sightline.config.base import default_state_dir
from sightline.config.loader import load_config
from sightline.config.settings import ServiceSettings
from sightline.errors import ConfigError, TransportError
from sightline.health import DEFAULT_PORTS, Check, HealthServer, Heartbeat
from sightline.logs import configure_logging
from sightline.mqtt.client import MqttClient

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)

EXIT_CONFIG = 2
EXIT_STATE_DIR = 73
"""The state directory cannot be created (EX_CANTCREAT); the supervisor tries again."""
STOP_TIMEOUT_S = 20.0


@dataclass
class ServiceContext:
    """Everything a service needs from the shared ground."""

    name: str
    settings: ServiceSettings
    client: MqttClient
    registry: CollectorRegistry
    heartbeat: Heartbeat
    stopping: threading.Event
    state_dir: Path
    args: argparse.Namespace
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    health_checks: dict[str, Check] = field(default_factory=dict)
    """More /healthz checks a service adds in ``build`` (name -> returns True when healthy)."""


MainLoop = Callable[[], None]
Build = Callable[[ServiceContext], MainLoop | None]


def argument_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser every service starts from: ``--config FILE``."""
    parser = argparse.ArgumentParser(prog=name, description=description)
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="YAML config file; SIGHTLINE_* environment variables override it",
    )
    return parser


def load_or_exit(settings_cls: type[S], path: Path | None) -> S:
    """Load the config, or print each problem and exit with status 2."""
    try:
        settings = load_config(settings_cls, path)
        settings.effective_mqtt().resolved_password()  # an unreadable secret is said now
    except (ConfigError, TransportError) as exc:
        print(f"sightline: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    return settings


def run_service(
    name: str,
    settings_cls: type[S],
    build: Build,
    argv: Sequence[str] | None = None,
    parser: argparse.ArgumentParser | None = None,
) -> int:
    """Run a service until SIGTERM/SIGINT; return the process exit status.

    Args:
        name: the service's name (``event-engine``), as in topics.
        settings_cls: its settings class.
        build: subscribes handlers and returns the main loop, if any.
        argv: the command line (without the program name); ``sys.argv[1:]`` if None.
        parser: a parser with the service's own options; :func:`argument_parser` if None.
    """
    args = (parser or argument_parser(name, f"Sightline {name}")).parse_args(argv)
    settings = load_or_exit(settings_cls, args.config)
    configure_logging(name, settings.instance, settings.log.level, settings.log.format)
    state_dir = settings.state_dir or default_state_dir(name)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only parent, a full disk: say which, no traceback
        print(
            f"sightline-{name}: cannot create its state directory {state_dir}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_STATE_DIR) from None

    registry = CollectorRegistry()
    client = MqttClient(
        settings.effective_mqtt(), service=name, instance=settings.instance, registry=registry
    )
    heartbeat = Heartbeat(settings.health.stale_after_s)
    stopping = threading.Event()
    ctx = ServiceContext(name, settings, client, registry, heartbeat, stopping, state_dir, args)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    loop = build(ctx)
    health = None
    if settings.health.enabled:
        port = settings.health.port or DEFAULT_PORTS.get(name, 0)
        health = HealthServer(
            registry,
            {
                "mqtt": lambda: client.connected,
                "worker": lambda: client.worker_alive,
                "publishes": lambda: client.publishes_ok,
                "loop": heartbeat.fresh,
                **ctx.health_checks,
            },
            host=settings.health.host,
            port=port,
        )
        health.start()
    client.start()
    log.info("started", extra={"state_dir": str(state_dir)})
    status = 0
    try:
        if loop is not None:
            loop()
        else:
            while not stopping.wait(1.0):
                heartbeat.beat()
    except Exception:
        log.exception("main loop failed")
        status = 1
    finally:
        stopping.set()
        client.stop(STOP_TIMEOUT_S)
        for hook in ctx.on_stop:
            try:
                hook()
            except Exception:
                log.exception("stop hook failed")
        if health is not None:
            health.stop()
        log.info("stopped", extra={"exit_status": status})
    return status
