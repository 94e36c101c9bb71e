"""Expensive end-to-end runs side by side: a small pool of threads, each run started once by
name and read by the tests that check its results.

A run is the whole scenario (its own processes, broker and state directory); only its
*start* moves earlier, so that two of them share the machine's cores while the tests that
read them wait for their results. The checks stay in the tests.

Example:
    >>> runs = Background(workers=2)
    >>> runs.start("two", lambda: 1 + 1)
    True
    >>> runs.start("two", lambda: 3)  # already started: the first run stands
    False
    >>> runs.result("two", timeout=10)
    2
    >>> runs.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Background:
    """Named runs on at most ``workers`` threads; each name runs once."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="background")
        self._runs: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def start(self, name: str, run: Callable[[], Any]) -> bool:
        """Queue ``run`` under ``name`` unless that name was started; True if queued now."""
        with self._lock:
            if name in self._runs and not self._runs[name].cancelled():
                return False
            self._runs[name] = self._pool.submit(run)
            return True

    def started(self, name: str) -> bool:
        """Whether a run of that name was queued (and not cancelled)."""
        with self._lock:
            return name in self._runs and not self._runs[name].cancelled()

    def result(self, name: str, timeout: float) -> Any:
        """The run's return value (its exception re-raised); TimeoutError after ``timeout``."""
        with self._lock:
            future = self._runs[name]
        return future.result(timeout)

    def wait(self, names: list[str], timeout: float) -> None:
        """Wait until each named run has ended (however it ended)."""
        with self._lock:
            futures = [self._runs[n] for n in names if n in self._runs]
        for future in futures:
            try:
                future.result(timeout)
            except Exception:  # reported by the test that reads it
                continue

    def cancel(self, names: list[str]) -> None:
        """Drop those of the named runs that have not begun (a session that stops early)."""
        with self._lock:
            for name in names:
                if name in self._runs:
                    self._runs[name].cancel()

    def close(self) -> None:
        """Drop the runs not begun, wait for those running (each bounds its own waits)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
