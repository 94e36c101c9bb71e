"""/healthz answers 200 only while every check passes; /metrics serves Prometheus text;
log lines are one JSON object each, with service and instance."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from sightline.health import HealthServer, Heartbeat
from sightline.logs import JsonFormatter


@pytest.fixture
def checks() -> dict[str, bool]:
    return {"mqtt": True, "loop": True}


@pytest.fixture
def server(checks: dict[str, bool]) -> Iterator[HealthServer]:
    registry = CollectorRegistry()
    Counter("sightline_things", "Things", registry=registry).inc(3)
    health = HealthServer(
        registry, {name: (lambda n=name: checks[n]) for name in checks}, host="127.0.0.1"
    )
    health.start()
    yield health
    health.stop()


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_healthz_is_200_while_every_check_passes(server: HealthServer) -> None:
    status, body = get(server.port, "/healthz")

    assert status == 200
    assert json.loads(body) == {"ok": True, "failing": []}


def test_healthz_is_503_and_names_the_failing_check(
    server: HealthServer, checks: dict[str, bool]
) -> None:
    checks["mqtt"] = False

    status, body = get(server.port, "/healthz")

    assert status == 503
    assert json.loads(body) == {"ok": False, "failing": ["mqtt"]}


def test_metrics_are_served_in_prometheus_text(server: HealthServer) -> None:
    status, body = get(server.port, "/metrics")

    assert status == 200
    assert b"sightline_things_total 3.0" in body


def test_an_unknown_path_is_404(server: HealthServer) -> None:
    assert get(server.port, "/nope")[0] == 404


def test_a_heartbeat_goes_stale_when_the_loop_stops_beating() -> None:
    heartbeat = Heartbeat(stale_after_s=0.0)
    assert not heartbeat.fresh()
    heartbeat.stale_after_s = 60.0
    heartbeat.beat()
    assert heartbeat.fresh()


def test_a_log_line_is_one_json_object_with_its_extra_fields() -> None:
    formatter = JsonFormatter(service="event-engine", instance="box-1")
    record = logging.LogRecord("engine", logging.WARNING, "f.py", 1, "gap of %d", (3,), None)
    record.camera_id = "driveway"

    line = json.loads(formatter.format(record))

    assert line["msg"] == "gap of 3"
    assert (line["service"], line["instance"], line["camera_id"]) == (
        "event-engine",
        "box-1",
        "driveway",
    )
    assert line["level"] == "warning"
    assert line["ts"].endswith("Z")


def test_an_exception_is_kept_in_the_log_line() -> None:
    formatter = JsonFormatter(service="s", instance="i")
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", (), sys.exc_info())

    assert "ValueError: broken" in json.loads(formatter.format(record))["exception"]
