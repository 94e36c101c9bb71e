"""Fixtures of the reliability tests: the stream, its reference events, an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notifier.support import SmtpServer
from tests.reliability.stream import Stream


@pytest.fixture(scope="session")
def stream() -> Stream:
    """The synthetic stream every fault test sends."""
    return Stream.build()


@pytest.fixture(scope="session")
def reference(stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The stream's events, computed once with the engine's ``--replay``."""
    return stream.reference(Path(tmp_path_factory.mktemp("reference")))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
