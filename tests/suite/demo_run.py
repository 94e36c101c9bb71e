"""`sightline demo` as the README's first command runs it, as a background run (see
:mod:`tests.support.background`): the layout tests start it beside theirs, the demo tests
read it.

Example:
    >>> DEMO_RUN
    'sightline demo'
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.background import Background
from tests.support.paths import REPO

DEMO_RUN = "sightline demo"
DEMO_TIMEOUT_S = 600
DEMO_TESTS = Path(__file__).with_name("test_demo.py")


def run_demo(root: Path) -> tuple[Path, str]:
    """``python -m suite demo --state-dir ROOT`` from the repository; (root, its stdout)."""
    result = subprocess.run(
        [sys.executable, "-m", "suite", "demo", "--state-dir", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        env={**os.environ, "YOLO_CONFIG_DIR": str(root.parent / "ultralytics")},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return root, result.stdout


def start_demo(background: Background, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Queue the demo run once per session (its directory made here, in the main thread)."""
    if not background.started(DEMO_RUN):
        root = tmp_path_factory.mktemp("demo") / "out"
        background.start(DEMO_RUN, lambda: run_demo(root))


def demo_selected(session: pytest.Session) -> bool:
    """Whether this session runs a demo test."""
    return any(item.path == DEMO_TESTS for item in session.items)
