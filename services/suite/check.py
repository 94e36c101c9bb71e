"""``sightline check FILE...``: validate any service's config without starting anything.

Which service a file configures is read from its content (``mode:``, or the sections only
one service has) unless ``--service`` says it. Each file is then checked by that service's
own ``--check`` (``sightline-engine --check --config FILE`` lays the lines and zones out
too), so a file passes here exactly when the service would start with it; a ``mode: local``
file is validated here and its devices by the engine. ``SIGHTLINE_*`` variables apply, as
they would to the service.

Example:
    >>> detect_service({"devices": {"jetson-01": {}}})
    <Service.ENGINE: 'event-engine'>
    >>> detect_service({"notifier": {}, "camera": {}})
    <Service.SUITE: 'suite'>
    >>> detect_service({"mqtt": {"url": "mqtt://broker:1883"}}) is None
    True
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sightline import __version__
from sightline.config.loader import load_config, read_yaml
from sightline.config.settings import SuiteSettings
from sightline.errors import ConfigError, TransportError
from sightline.service import EXIT_CONFIG
from sightline.topics import Service
from suite.configs import service_configs, write_service_configs
from suite.supervisor import child_environment

MODES = {"edge": Service.EDGE, "processor": Service.ENGINE, "local": Service.SUITE}
"""The seed's ``mode:`` values."""

SECTIONS = {
    Service.EDGE: {"device_id", "camera_id", "camera", "detector", "frames", "output"},
    Service.ENGINE: {"devices", "default_device", "homeassistant", "input"},
    Service.NOTIFIER: {"notifier"},
    Service.FRAMES: {"frame_store"},
    Service.CONSOLE: {"console"},
    Service.SUITE: {"lines", "zones", "events", "broker"},
}
"""The top-level keys that only one service's config has (``mode: local`` has them all)."""

CHOICES = {
    "edge": Service.EDGE,
    "engine": Service.ENGINE,
    "notifier": Service.NOTIFIER,
    "frames": Service.FRAMES,
    "console": Service.CONSOLE,
    "local": Service.SUITE,
}
"""``--service`` values."""


def detect_service(data: Mapping[str, Any]) -> Service | None:
    """The service a config is for, from its ``mode:`` or its sections; None if it cannot
    be told (only keys every service has)."""
    mode = data.get("mode")
    if isinstance(mode, str) and mode in MODES:
        return MODES[mode]
    found = {service for service, keys in SECTIONS.items() if keys & data.keys()}
    if Service.SUITE in found or len(found) > 1:
        return Service.SUITE
    return found.pop() if found else None


def check_file(path: Path, service: Service | None) -> int:
    """Check one file; its verdict goes to stdout (ok) or stderr (each problem).

    Returns:
        0 when valid, :data:`EXIT_CONFIG` when not, another status when the check could not
        run.
    """
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        print(f"sightline: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    service = service or detect_service(data)
    if service is None:
        print(
            f"sightline: {path}: cannot tell which service it configures (no mode: and no "
            f"section only one service has); give --service {{{','.join(CHOICES)}}}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if service is Service.SUITE:
        return _check_local(path)
    command = [sys.executable, "-m", service.module, "--check", "--config", str(path)]
    return subprocess.run(command, check=False).returncode


def _check_local(path: Path) -> int:
    """A ``mode: local`` file: its settings here, its devices' geometry by the engine."""
    try:
        suite = load_config(SuiteSettings, path)
        suite.effective_mqtt().resolved_password()
    except (ConfigError, TransportError) as exc:
        print(f"sightline: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with tempfile.TemporaryDirectory(prefix="sightline-check-") as tmp:
        root = Path(tmp)
        configs = service_configs(suite, "mqtt://127.0.0.1:1883", root / "var")
        name = Service.ENGINE.value
        generated = str(write_service_configs({name: configs[name]}, root)[name])
        done = subprocess.run(
            [sys.executable, "-m", Service.ENGINE.module, "--check", "--config", generated],
            env=child_environment(os.environ),
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(done.stderr.replace(generated, f"{path} (its devices)"), end="", file=sys.stderr)
        return done.returncode
    print(f"{path}: ok")
    return 0


def check_main(argv: Sequence[str]) -> int:
    """``sightline check [--service NAME] FILE...``: 0 when every file is valid, else 2."""
    parser = argparse.ArgumentParser(
        prog="sightline check",
        description="Validate service configs (the engine's lines, zones and rules too) "
        "without starting anything: exit 0 when all are valid, 2 with one line per problem "
        "naming the file and the key path.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--service",
        choices=list(CHOICES),
        default=None,
        help="which service every FILE configures (default: told from each file's content)",
    )
    parser.add_argument("--version", action="version", version=f"sightline {__version__}")
    args = parser.parse_args(argv)
    service = CHOICES[args.service] if args.service else None
    worst = 0
    for path in args.files:
        status = check_file(path, service)
        if status != 0 and worst in (0, EXIT_CONFIG):
            worst = status
    return worst
