"""Polling until something holds, for tests that cannot wait on an event.

Example:
    >>> received = [1, 2, 3, 4, 5]
    >>> settle(lambda: len(received) >= 5, timeout=10, interval=0.05)
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable


def settle(check: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check()`` every ``interval`` s until it holds (True) or ``timeout`` passed (False)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_until(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll like :func:`settle`; AssertionError naming ``what`` after ``timeout``."""
    if not settle(check, timeout, interval):
        raise AssertionError(f"not within {timeout}s: {what}")
