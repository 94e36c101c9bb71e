"""Fixtures of the reliability tests: the stream, its reference events, the running suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notifier.support import SmtpServer
from tests.reliability.running import RunningSuite
from tests.reliability.stream import Stream
from tests.support.broker import Broker
from tests.support.mqtt import Collector


@pytest.fixture(scope="session")
def stream() -> Stream:
    """The synthetic stream every fault test sends."""
    return Stream.build()


@pytest.fixture(scope="session")
def reference(stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The stream's events, computed once with the engine's ``--replay``."""
    return stream.reference(Path(tmp_path_factory.mktemp("reference")))


@pytest.fixture
def suite(
    broker: Broker, collector: Collector, smtp: SmtpServer, tmp_path: Path
) -> Iterator[RunningSuite]:
    """The engine, notifier and frame-store on ``broker`` (not started); closed at the end."""
    running = RunningSuite.on(broker, collector, smtp, tmp_path)
    try:
        yield running
    finally:
        running.close()
