"""Child processes that end with their parent: a supervisor killed (SIGKILL, the OOM killer)
must not leave its services running, or the next supervisor starts a second copy of each.

Linux's parent-death signal: the kernel sends the child SIGTERM when the thread that started
it ends, so start children from a thread that lives as long as they should (the main one).

Example:
    >>> import subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "pass"], preexec_fn=die_with_parent)
    >>> child.wait()
    0
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For ``Popen(preexec_fn=...)``: SIGTERM to the child when its parent dies (Linux; a
    no-op elsewhere). A parent already gone when the child gets here ends the child too."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
