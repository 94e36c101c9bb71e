"""``/healthz`` and ``/metrics`` over HTTP, for compose and k3s probes and Prometheus.

``/healthz`` answers 200 only while every check passes (connected to the broker, main loop
alive and beating), else 503 with the failing checks named.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sightline.topics import Service

log = logging.getLogger(__name__)

Check = Callable[[], bool]

DEFAULT_PORTS: dict[str, int] = {
    Service.EDGE: 9101,
    Service.ENGINE: 9102,
    Service.NOTIFIER: 9103,
    Service.FRAMES: 9104,
    Service.CONSOLE: 9105,
    Service.SUITE: 9100,
}


class Heartbeat:
    """The main loop calls :meth:`beat`; :meth:`fresh` says whether it did so lately."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._last = time.monotonic()

    def beat(self) -> None:
        """The loop is alive."""
        self._last = time.monotonic()

    def fresh(self) -> bool:
        """Whether the last beat is recent."""
        return time.monotonic() - self._last < self.stale_after_s


class HealthServer:
    """A tiny HTTP server on its own thread.

    Args:
        registry: the metrics to serve on ``/metrics``.
        checks: name -> callable; ``/healthz`` is 200 when all return True.
        host: address to bind.
        port: port to bind; 0 picks a free one (see :attr:`port`).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        checks: dict[str, Check],
        host: str = "0.0.0.0",
        port: int = 0,
    ) -> None:
        self.registry = registry
        self.checks = checks
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    failing = server.failing()
                    body = json.dumps({"ok": not failing, "failing": failing}).encode()
                    self._reply(503 if failing else 200, "application/json", body)
                elif self.path.split("?")[0] == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                else:
                    self._reply(404, "text/plain", b"not found; try /healthz or /metrics\n")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def failing(self) -> list[str]:
        """Names of the checks that fail now."""
        failing = []
        for name, check in self.checks.items():
            try:
                ok = check()
            except Exception:
                ok = False
            if not ok:
                failing.append(name)
        return failing

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()
        log.info("health on :%d (/healthz, /metrics)", self.port, extra={"port": self.port})

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
