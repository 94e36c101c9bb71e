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
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Generic, NoReturn

from prometheus_client import CollectorRegistry
from typing_extensions import TypeVar

from sightline import __version__
from sightline.config.base import default_state_dir
from sightline.config.loader import load_config
from sightline.config.settings import ServiceSettings
from sightline.errors import ConfigError, TransportError
from sightline.health import DEFAULT_PORTS, Check, HealthServer, Heartbeat
from sightline.logs import configure_logging
from sightline.mqtt.client import MqttClient
from sightline.topics import Service

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
Settings = TypeVar("Settings", bound=ServiceSettings, default=ServiceSettings, covariant=True)

EXIT_CONFIG = 2
"""A configuration that cannot be used (EX_USAGE-like): every service and ``sightline check``
exit with it, and the suite's supervisor does not restart a service that did."""
EXIT_STATE_DIR = 73
"""The state directory cannot be created (EX_CANTCREAT); the supervisor tries again."""
STOP_TIMEOUT_S = 20.0
ENV_PREFIX = "SIGHTLINE_"

CONFIG_HELP = (
    "YAML config file; SIGHTLINE_* environment variables override it. Required: without it "
    "the service refuses to start (exit 2), unless SIGHTLINE_* variables configure it "
    "entirely (e.g. SIGHTLINE_MQTT__URL in a container), which is then the whole config."
)


@dataclass(frozen=True)
class ServiceContext(Generic[Settings]):
    """Everything a service needs from the shared ground; ``settings`` has the service's own
    settings type (``ServiceContext[EngineSettings]``), so a service needs no isinstance."""

    name: str
    settings: Settings
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
Build = Callable[[ServiceContext[S]], MainLoop | None]
ConfigCheck = Callable[[S], list[str]]
"""More checks of a loaded config (the engine's geometry): one ``key.path: problem`` each."""


def command_name(name: str) -> str:
    """The command a service runs as, for ``usage:`` and messages.

    Example:
        >>> command_name("event-engine"), command_name("sightline-notifier"), command_name("echo")
        ('sightline-engine', 'sightline-notifier', 'echo')
    """
    try:
        return Service(name).command
    except ValueError:
        return name


def argument_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser every service starts from: ``--config FILE``, ``--check``, ``--version``.

    Example:
        >>> parser = argument_parser("event-engine", "Sightline event-engine")
        >>> parser.prog
        'sightline-engine'
        >>> parser.parse_args(["--config", "engine.yaml", "--check"]).check
        True
    """
    prog = command_name(name)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", "-c", type=Path, default=None, metavar="FILE", help=CONFIG_HELP)
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the config (for the engine: its lines, zones and rules too) and exit: "
        "0 when valid, 2 with one line per problem naming the file and key path",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def configured_by_environment(environ: Mapping[str, str]) -> bool:
    """Whether any ``SIGHTLINE_*`` variable sets a key (the environment-only config form).

    Example:
        >>> configured_by_environment({"SIGHTLINE_MQTT__URL": "mqtt://broker:1883"})
        True
        >>> configured_by_environment({"PATH": "/bin"})
        False
    """
    return any(key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX) for key in environ)


def config_exit(prog: str, problems: Sequence[str]) -> NoReturn:
    """The one exit path for a configuration that cannot be used: each problem on stderr as
    ``prog: problem``, exit status :data:`EXIT_CONFIG`."""
    for problem in problems:
        print(f"{prog}: {problem}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG)


def load_or_exit(
    settings_cls: type[S],
    path: Path | None,
    prog: str = "sightline",
    *,
    require: bool = False,
) -> S:
    """Load the config, or print each problem and exit with :data:`EXIT_CONFIG`.

    Args:
        settings_cls: the service's settings class.
        path: the ``--config`` file, or None.
        prog: the command, prefixed to each message.
        require: refuse a missing ``path`` unless ``SIGHTLINE_*`` variables configure it.
    """
    if path is None and require and not configured_by_environment(os.environ):
        config_exit(
            prog,
            [
                "no configuration: give --config FILE (or configure it entirely with "
                "SIGHTLINE_* environment variables); see --help"
            ],
        )
    try:
        settings = load_config(settings_cls, path)
        settings.effective_mqtt().resolved_password()  # an unreadable secret is said now
    except ConfigError as exc:
        config_exit(prog, [str(exc)])
    except TransportError as exc:
        config_exit(prog, [f"invalid configuration in {path}: {exc}" if path else str(exc)])
    return settings


def check_config(
    settings: S, path: Path | None, prog: str, check: ConfigCheck[S] | None = None
) -> int:
    """``--check``: run the service's own checks of a loaded config; say the verdict.

    Returns:
        0 when valid (one ``FILE: ok`` line on stdout); else exits with :data:`EXIT_CONFIG`.
    """
    problems = check(settings) if check is not None else []
    where = str(path) if path is not None else "the environment"
    if problems:
        config_exit(prog, [str(ConfigError(problems, source=where))])
    print(f"{where}: ok")
    return 0


def run_service(
    name: str,
    settings_cls: type[S],
    build: Build[S],
    argv: Sequence[str] | None = None,
    parser: argparse.ArgumentParser | None = None,
    check: ConfigCheck[S] | None = None,
) -> int:
    """Run a service until SIGTERM/SIGINT; return the process exit status.

    Args:
        name: the service's name (``event-engine``), as in topics.
        settings_cls: its settings class.
        build: subscribes handlers and returns the main loop, if any.
        argv: the command line (without the program name); ``sys.argv[1:]`` if None.
        parser: a parser with the service's own options; :func:`argument_parser` if None.
        check: more checks of the config, run by ``--check`` (the engine's geometry).
    """
    parser = parser or argument_parser(name, f"Sightline {name}")
    args = parser.parse_args(argv)
    settings = load_or_exit(settings_cls, args.config, parser.prog, require=True)
    if getattr(args, "check", False):
        return check_config(settings, args.config, parser.prog, check)
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
    ctx: ServiceContext[S] = ServiceContext(
        name, settings, client, registry, heartbeat, stopping, state_dir, args
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    loop = build(ctx)
    # What startup built (modules, config, the model) lives as long as the process: kept
    # out of the collector's full passes, which then walk only what the work allocates (a
    # full pass over everything paused the engine 25-66 ms at a time under load).
    gc.collect()
    gc.freeze()
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
