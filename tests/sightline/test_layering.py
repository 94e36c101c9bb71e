"""The schema package stands alone: importing every module of ``sightline`` imports no
service and not the one-box suite (which lives in ``services/suite``)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import REPO

PROBE = """
import importlib, json, pkgutil, sys
import sightline
names = [m.name for m in pkgutil.walk_packages(sightline.__path__, "sightline.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""

SERVICES = ("suite", "edge_publisher", "event_engine", "notifier", "frame_store", "console")


def test_sightline_imports_neither_the_suite_nor_any_service() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO / 'shared'}:{REPO / 'services'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout)

    assert "sightline.service" in seen["modules"]  # the walk found the package's modules
    assert not [m for m in seen["modules"] if m.startswith("sightline.suite")]
    loaded = [m for m in seen["loaded"] if m.split(".")[0] in SERVICES]
    assert loaded == [], f"sightline imports {loaded}"
