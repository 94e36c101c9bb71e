"""Worker threads whose death must take the process down, so a supervisor restarts it.

A thread that dies quietly leaves a process that answers its port but does nothing (no
acknowledgements, no progress): the worst kind of failure on a fleet. A *critical* thread
logs what killed it and ends the process with :data:`EXIT_THREAD_DIED`; systemd, k3s,
compose or ``sightline``'s own supervisor then start a fresh one, which resumes from its
persistent session and its state on disk.

Example:
    >>> import threading
    >>> done = threading.Event()
    >>> thread = start_critical(done.set, name="example")
    >>> thread.join(); done.is_set()
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

EXIT_THREAD_DIED = 70
"""The process exit status after a critical thread died (EX_SOFTWARE)."""


def die(name: str, exc: BaseException | None = None) -> None:
    """Log that the critical thread ``name`` died and end the process at once."""
    try:
        log.critical(
            "critical thread %s died%s: exiting so the supervisor restarts the service",
            name,
            f" ({type(exc).__name__}: {exc})" if exc is not None else "",
            exc_info=exc,
            extra={"critical_thread": name},
        )
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):  # nothing more can be done on the way out
                handler.flush()
        sys.stderr.flush()
    finally:  # whatever logging does, the process must not run on without the thread
        os._exit(EXIT_THREAD_DIED)


def start_critical(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread running ``target``; if it raises, the process exits."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            die(name, exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
