"""Fixtures of the notifier's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifier.support import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
