"""Fixtures every test tree shares: a real Mosquitto, a collector on it, an SMTP server,
offline switches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notifier.support import SmtpServer, running
from tests.support.background import Background
from tests.support.broker import Broker, make_broker
from tests.support.mqtt import Collector
from tests.support.paths import REPO as REPO  # re-exported for the tests that import it here

# Nothing may reach the network at run time.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")


@pytest.fixture(scope="session")
def background() -> Iterator[Background]:
    """Two threads for expensive end-to-end runs (the demo, the layouts) started before the
    tests that read them; at the end, runs not begun are dropped, running ones waited for."""
    runs = Background(workers=2)
    try:
        yield runs
    finally:
        runs.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free port, persistence in the test's temp dir."""
    started = make_broker(tmp_path / "broker")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def collector(broker: Broker) -> Iterator[Collector]:
    """A subscriber to everything on the broker."""
    sub = Collector(broker.host, broker.port, "#")
    try:
        yield sub
    finally:
        sub.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port."""
    with running(SmtpServer()) as server:
        yield server


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SIGHTLINE_* variable from the caller's shell leaks into a config test."""
    for key in list(os.environ):
        if key.startswith("SIGHTLINE_"):
            monkeypatch.delenv(key)
    return monkeypatch
