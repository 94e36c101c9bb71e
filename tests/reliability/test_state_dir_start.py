"""A state directory that cannot be created at start (its parent is read-only): every
service says so in one line naming the directory and exits non-zero, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.disk import NEEDS_ROOT, tmpfs

pytestmark = NEEDS_ROOT

SERVICES = ["event_engine", "notifier", "frame_store"]


@pytest.fixture
def read_only_parent(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as mounted:
        yield mounted


@pytest.mark.parametrize("module", SERVICES)
def test_a_state_dir_that_cannot_be_created_is_one_line_and_a_non_zero_exit(
    module: str, read_only_parent: Path
) -> None:
    state_dir = read_only_parent / "var" / module
    env = {**os.environ, "SIGHTLINE_STATE_DIR": str(state_dir), "SIGHTLINE_HEALTH__ENABLED": "0"}
    done = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 73, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"sightline-{module.replace('_', '-')}: cannot create its state directory "
        f"{state_dir}: Read-only file system"
    ], done.stderr
    assert "Traceback" not in done.stderr
