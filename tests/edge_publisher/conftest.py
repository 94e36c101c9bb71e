"""Fixtures shared by the edge tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.edge_publisher.edge_process import EdgeProcess


@pytest.fixture
def processes() -> Iterator[list[EdgeProcess]]:
    """Edge processes a test starts (append them); each is closed at the end."""
    started: list[EdgeProcess] = []
    yield started
    for process in started:
        process.close()
