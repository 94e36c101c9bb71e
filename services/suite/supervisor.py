"""Run each service of the suite in its own process; restart one that dies; stop all cleanly.

Example:
    .. code-block:: python

        supervisor = Supervisor([ServiceProcess("event-engine", ["-m", "event_engine",
                                                "--config", "var/suite/event-engine.yaml"])])
        supervisor.run(stop_event)   # until stop_event is set
"""

from __future__ import annotations

import logging
import os
import random as _random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sightline.backoff import Backoff
from sightline.children import die_with_parent
from sightline.service import EXIT_CONFIG

log = logging.getLogger(__name__)

STABLE_S = 60.0
"""A service that ran this long before it died is restarted after the shortest wait again."""


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a service the suite starts: its own, less ``SIGHTLINE_*``.

    The suite already applied those overrides to its settings, and each service's generated
    config carries the result (its own state dir, its own health port); passed on, one
    ``SIGHTLINE_STATE_DIR`` would put every service in the same directory.

    Example:
        >>> child_environment({"PATH": "/bin", "SIGHTLINE_STATE_DIR": "/srv"})
        {'PATH': '/bin'}
    """
    return {key: value for key, value in environ.items() if not key.startswith("SIGHTLINE_")}


@dataclass(frozen=True)
class ServiceProcess:
    """How to start one service.

    Attributes:
        name: the service's name, for logs.
        args: arguments after ``python``.
        log_file: where its stderr/stdout go; inherited when None.
        restart_on_success: start it again when it exits 0 (a file source that ended does not).
    """

    name: str
    args: list[str]
    log_file: Path | None = None
    restart_on_success: bool = False
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Running:
    spec: ServiceProcess
    process: subprocess.Popen[bytes]
    backoff: Backoff
    started_at: float
    restarts: int = 0
    dead: bool = False
    """It exited and waits for its back-off before the restart."""


class Supervisor:
    """Starts services, restarts a crashed one with back-off, stops them in reverse order."""

    def __init__(
        self,
        services: list[ServiceProcess],
        max_backoff_s: float = 30.0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.services = services
        self.max_backoff_s = max_backoff_s
        self.random = random
        self._running: dict[str, _Running] = {}
        self.finished: dict[str, int] = {}
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def _spawn(self, spec: ServiceProcess) -> subprocess.Popen[bytes]:
        out = spec.log_file.open("ab") if spec.log_file else None
        try:
            return subprocess.Popen(
                [sys.executable, *spec.args],
                stdout=out,
                stderr=out,
                env={**child_environment(os.environ), **spec.env},
                preexec_fn=die_with_parent,  # a killed supervisor leaves no service behind
            )
        finally:
            if out is not None:
                out.close()

    def start(self) -> None:
        """Start every service."""
        for spec in self.services:
            backoff = Backoff(base_s=1.0, cap_s=self.max_backoff_s, random=self.random)
            self._running[spec.name] = _Running(spec, self._spawn(spec), backoff, time.monotonic())
            log.info("started %s", spec.name, extra={"child": spec.name})

    def poll(self) -> None:
        """Restart services that died; record those that finished."""
        with self._lock:
            for name, running in list(self._running.items()):
                code = running.process.poll()
                if code is None:
                    continue
                if code == 0 and not running.spec.restart_on_success:
                    log.info("%s finished", name, extra={"child": name})
                    self.finished[name] = 0
                    del self._running[name]
                    continue
                if code == EXIT_CONFIG:  # it refused its config: restarting cannot help
                    log.error(
                        "%s refused its config; not restarting it%s",
                        name,
                        f" (see {running.spec.log_file})" if running.spec.log_file else "",
                        extra={"child": name, "exit_status": code},
                    )
                    self.finished[name] = code
                    self.refused.append(name)
                    del self._running[name]
                    continue
                if not running.dead:  # a crash: restart after a jittered, doubling wait
                    running.dead = True
                    if time.monotonic() - running.started_at >= STABLE_S:
                        running.backoff.reset()  # it had run well: start the waits over
                    running.backoff.fail()
                if not running.backoff.ready():
                    continue
                log.warning(
                    "%s exited with %s; restarting (restart %d)",
                    name,
                    code,
                    running.restarts + 1,
                    extra={"child": name, "exit_status": code},
                )
                running.process = self._spawn(running.spec)
                running.started_at = time.monotonic()
                running.dead = False
                running.restarts += 1

    def running(self, name: str) -> bool:
        """Whether a service is alive."""
        running = self._running.get(name)
        return running is not None and running.process.poll() is None

    def run(self, stop: threading.Event, interval_s: float = 0.5) -> None:
        """Start, then supervise until ``stop`` is set, then stop everything (also what
        started before a later service failed to)."""
        try:
            self.start()
            while not stop.wait(interval_s) and not self.refused:
                self.poll()
        finally:
            self.stop()

    def stop(self, timeout_s: float = 30.0) -> dict[str, int]:
        """SIGTERM each service, newest first, and wait; SIGKILL what does not stop.

        A service that the SIGTERM ended before or after its handler ran (while starting, or
        already on its way out) stopped as asked: it counts as 0, not as -15.
        """
        with self._lock:
            signalled = set()
            for name, running in reversed(list(self._running.items())):
                if running.process.poll() is None:
                    running.process.send_signal(signal.SIGTERM)
                    signalled.add(name)
            deadline = time.monotonic() + timeout_s
            for name, running in self._running.items():
                try:
                    code = running.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop in time: killing it", name)
                    running.process.kill()
                    code = running.process.wait()
                if code == -signal.SIGTERM and name in signalled:
                    code = 0
                self.finished[name] = code
            self._running.clear()
        return dict(self.finished)
