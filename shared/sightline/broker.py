"""A private Mosquitto process: for ``sightline`` on one box (no broker configured) and tests.

Example:
    .. code-block:: python

        with LocalMosquitto(Path("var/broker")) as broker:
            print(broker.url)          # mqtt://127.0.0.1:<free port>
            broker.restart()           # SIGTERM, then start again on the same port
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from sightline.children import die_with_parent
from sightline.errors import SightlineError


class BrokerError(SightlineError):
    """Mosquitto could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_conf(
    port: int,
    data_dir: Path,
    *,
    persistence: bool = True,
    autosave_interval: int = 1,
    max_queued_messages: int = 1_000_000,
    password_file: Path | None = None,
    extra: str = "",
) -> str:
    """A Mosquitto 2.x config for a loopback broker.

    ``max_queued_messages`` is raised far above Mosquitto's default of 1000 per client,
    past which it silently drops what an offline persistent session would receive.
    """
    auth = (
        ["allow_anonymous false", f"password_file {password_file}"]
        if password_file
        else ["allow_anonymous true"]
    )
    lines = [
        f"listener {port} 127.0.0.1",
        *auth,
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {data_dir}/",
        f"autosave_interval {autosave_interval}",
        f"max_queued_messages {max_queued_messages}",
        "max_inflight_messages 0",
        # without it the broker's Nagle waits for our delayed TCP ACKs (up to 40 ms) whenever
        # a consumer acknowledges late, e.g. after its checkpoint
        "set_tcp_nodelay true",
        f"log_dest file {data_dir}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines.append("user root")  # else it drops to 'mosquitto' and cannot write data_dir
    return "\n".join(lines) + "\n" + extra


class LocalMosquitto:
    """The ``mosquitto`` binary on a free loopback port, with persistence in ``data_dir``.

    Args:
        data_dir: config, persistence and log live here.
        port: fixed port; a free one if None (kept across restarts).
        binary: the mosquitto executable.
        persistence: keep sessions and retained messages across restarts.
        autosave_interval: seconds between persistence saves.
        extra_conf: more config lines.
        password_file: a mosquitto_passwd file; anonymous access is off when given.
        die_with_parent: it ends when this process dies, killed or not
            (:func:`sightline.children.die_with_parent`; start it from a thread that lives
            as long as it should: Linux ties it to the thread that started it).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        binary: str = "mosquitto",
        persistence: bool = True,
        autosave_interval: int = 1,
        extra_conf: str = "",
        password_file: Path | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.binary = shutil.which(binary) or shutil.which("/usr/sbin/mosquitto") or binary
        self.persistence = persistence
        self.autosave_interval = autosave_interval
        self.extra_conf = extra_conf
        self.password_file = password_file
        self.die_with_parent = die_with_parent
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """Where it listens."""
        return "127.0.0.1"

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """Mosquitto's own log."""
        return self.data_dir / "mosquitto.log"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it accepts connections."""
        if self.running:
            return
        if not shutil.which(self.binary):
            raise BrokerError(
                f"mosquitto not found ({self.binary!r}); install it: "
                "sudo apt-get install -y mosquitto mosquitto-clients"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            mosquitto_conf(
                self.port,
                self.data_dir,
                persistence=self.persistence,
                autosave_interval=self.autosave_interval,
                extra=self.extra_conf,
                password_file=self.password_file,
            )
        )
        self._process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited at start; see {self.log_path}:\n{self._tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def _tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-10:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves its persistence) and wait."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """SIGKILL: what was not yet autosaved is lost, as after a power cut."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop (SIGTERM) and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> LocalMosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
