"""The command line, run as the real console scripts: ``--version``, ``--check``,
``sightline check``, a refused start without a config, usage naming the real command, YAML
errors naming the file and line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from sightline import __version__
from sightline.service import EXIT_CONFIG
from tests.support.paths import REPO

BIN = REPO / ".venv" / "bin"
COMMANDS = [
    "sightline",
    "sightline-edge",
    "sightline-engine",
    "sightline-notifier",
    "sightline-frames",
    "sightline-console",
]
SERVICE_COMMANDS = COMMANDS[1:]
BOW = {
    "devices": {
        "pi": {
            "zones": [
                {"name": "bow", "points": [[0, 0], [100, 100], [100, 0], [0, 100]], "units": "px"}
            ]
        }
    }
}


ENTRY_POINTS = {
    "sightline": ("suite", "main"),
    "sightline-edge": ("edge_publisher.__main__", "main"),
    "sightline-engine": ("event_engine.__main__", "main"),
    "sightline-notifier": ("notifier.__main__", "main"),
    "sightline-frames": ("frame_store.__main__", "main"),
    "sightline-console": ("console.__main__", "main"),
}
"""pyproject.toml's [project.scripts]."""


def _command(command: str) -> list[str]:
    """The installed console script; the same entry point through Python while the
    installed script is older than pyproject.toml (``sightline`` before ``suite:main``)."""
    module, function = ENTRY_POINTS[command]
    script = BIN / command
    if script.is_file() and f"from {module} import {function}" in script.read_text():
        return [str(script)]
    code = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [str(BIN / "python"), "-c", code]


def _run(
    command: str, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}
    # the worktree's code first, whichever checkout installed the scripts
    base["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO / "services"), str(REPO)])
    return subprocess.run(
        [*_command(command), *map(str, args)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_its_version(command: str) -> None:
    done = _run(command, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{command} {__version__}"


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
def test_usage_names_the_real_command(command: str) -> None:
    done = _run(command, "--no-such-option")
    assert done.returncode == 2
    assert done.stderr.startswith(f"usage: {command} ")


@pytest.mark.parametrize("command", ["sightline", *SERVICE_COMMANDS])
def test_a_start_without_a_config_is_refused(command: str) -> None:
    done = _run(command)
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert f"{command}: no configuration: give --config FILE" in done.stderr
    assert "Traceback" not in done.stderr
    assert "--config FILE" in _run(command, "--help").stdout


VALID = {
    "sightline-engine": {
        "devices": {"pi": {"lines": [{"name": "gate", "type": "vertical", "position_pct": 50}]}}
    },
    "sightline-edge": {"device_id": "pi", "camera": {"url": "rtsp://camera/stream"}},
    "sightline-notifier": {"notifier": {"timezone": "UTC"}},
    "sightline-frames": {"frame_store": {"frame_wait_s": 3}},
    "sightline-console": {"console": {"port": 8090, "events_kept": 50}},
}


def _valid(tmp_path: Path, command: str) -> Path:
    path = tmp_path / f"{command}.yaml"
    path.write_text(yaml.safe_dump(VALID[command]))
    return path


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
def test_check_accepts_a_valid_config_without_starting(command: str, tmp_path: Path) -> None:
    config = _valid(tmp_path, command)
    done = _run(command, "--check", "--config", config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{config}: ok"


def test_the_engine_check_lays_out_the_geometry(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump(BOW))
    done = _run("sightline-engine", "--check", "--config", config)
    assert done.returncode == EXIT_CONFIG
    assert f"sightline-engine: invalid configuration in {config}:" in done.stderr
    assert "devices.pi: zone 'bow': the polygon is not simple" in done.stderr


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("devices:\n  pi:\n    lines: [\n  zones: a: b\n")
    done = _run("sightline-engine", "--check", "--config", config)
    assert done.returncode == EXIT_CONFIG
    assert f"{config}:4:" in done.stderr, done.stderr
    assert "<unicode string>" not in done.stderr


def test_sightline_check_tells_each_service_from_the_content(tmp_path: Path) -> None:
    files = [_valid(tmp_path, c) for c in SERVICE_COMMANDS]
    done = _run("sightline", "check", *files)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{f}: ok" for f in files]


def test_sightline_check_fails_on_any_bad_file_and_names_the_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "notifier.yaml"
    bad.write_text(yaml.safe_dump({"notifier": {"smtp": {"port": "many"}}}))
    bow = tmp_path / "engine.yaml"
    bow.write_text(yaml.safe_dump(BOW))
    frames = _valid(tmp_path, "sightline-frames")
    done = _run("sightline", "check", frames, bad, bow)
    assert done.returncode == EXIT_CONFIG
    assert done.stdout.strip() == f"{frames}: ok"
    assert f"invalid configuration in {bad}:" in done.stderr
    assert "notifier.smtp.port:" in done.stderr
    assert "devices.pi: zone 'bow': the polygon is not simple" in done.stderr


def test_sightline_check_needs_service_when_the_content_does_not_say(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"mqtt": {"url": "mqtt://broker:1883"}}))
    done = _run("sightline", "check", plain)
    assert done.returncode == EXIT_CONFIG
    assert "give --service" in done.stderr
    done = _run("sightline", "check", "--service", "notifier", plain)
    assert done.returncode == 0, done.stderr


def test_sightline_check_lays_out_a_local_configs_devices(tmp_path: Path) -> None:
    local = tmp_path / "sightline.yaml"
    local.write_text(
        yaml.safe_dump(
            {"mode": "local", "device_id": "box", **{"zones": BOW["devices"]["pi"]["zones"]}}
        )
    )
    done = _run("sightline", "check", local)
    assert done.returncode == EXIT_CONFIG
    assert f"{local} (its devices)" in done.stderr
    assert "zone 'bow': the polygon is not simple" in done.stderr


def test_a_service_configured_by_the_environment_alone_starts_its_check() -> None:
    done = _run("sightline-notifier", "--check", env={"SIGHTLINE_NOTIFIER__TIMEZONE": "UTC"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the environment: ok"
    done = _run("sightline-notifier", "--check", env={"SIGHTLINE_NOTIFIER__TIMEZONE": "Mars/Base"})
    assert done.returncode == EXIT_CONFIG
    assert "notifier.timezone" in done.stderr
