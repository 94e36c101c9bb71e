"""Every YAML config shown in the README and docs/ validates with the real settings models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sightline.config import (
    EdgeSettings,
    EngineSettings,
    FrameStoreSettings,
    NotifierSettings,
    ServiceSettings,
    SuiteSettings,
    load_config,
)
from tests.support.paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def settings_for(data: dict[str, Any]) -> type[ServiceSettings]:
    """Which service a shown config is for, by its keys."""
    mode = data.get("mode")
    if mode == "local":
        return SuiteSettings
    if mode == "edge" or "camera" in data or "detector" in data:
        return EdgeSettings
    if mode == "processor" or "devices" in data:
        return EngineSettings
    if "frame_store" in data:
        return FrameStoreSettings
    return NotifierSettings


def with_mounted_secrets(data: Any, secret: Path) -> Any:
    if isinstance(data, dict):
        return {
            k: str(secret) if k == "password_file" else with_mounted_secrets(v, secret)
            for k, v in data.items()
        }
    return data


EXAMPLES = [
    pytest.param(doc, index, block, id=f"{doc.name}#{index}")
    for doc in DOCS
    for index, block in enumerate(BLOCK.findall(doc.read_text()))
    if not block.lstrip().startswith("trigger:")  # a Home Assistant automation, not ours
]


def test_the_docs_show_configs() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("doc", "index", "block"), EXAMPLES)
def test_each_config_shown_in_the_docs_is_valid(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, doc: Path, index: int, block: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    shown = yaml.safe_load(block)
    assert isinstance(shown, dict), f"{doc.name}: block {index} is not a YAML mapping"
    data = with_mounted_secrets(shown, secret)

    settings = load_config(settings_for(data), None, **data)

    assert settings.effective_mqtt().url


def named_blocks(doc: Path) -> dict[str, dict[str, Any]]:
    """The YAML blocks of ``doc`` whose first line is a comment naming their file."""
    named = {}
    for block in BLOCK.findall(doc.read_text()):
        first = block.lstrip().splitlines()[0]
        if first.startswith("# ") and first.endswith(".yaml"):
            named[first[2:].strip()] = yaml.safe_load(block)
    return named


def test_edge_and_central_shows_every_config_the_commands_name() -> None:
    doc = REPO / "docs" / "edge-and-central.md"
    text = doc.read_text()
    blocks = named_blocks(doc)

    for name in blocks:
        assert f"--config {name}" in text, f"{name} is shown but never run"
    assert set(re.findall(r"--config (\S+\.yaml)", text)) == set(blocks)
    engine, edge = blocks["processor.yaml"], blocks["jetson-01.yaml"]
    assert engine["devices"][edge["device_id"]]["camera_id"] == edge["camera_id"]
    # the shell loop creates /etc/sightline/mqtt-<user> for each user, and the broker user
    (loop,) = re.findall(r"for user in ([^;]+); do", text)
    users = loop.split()
    for name, data in blocks.items():
        mqtt = data["mqtt"]
        assert mqtt["username"] in users, name
        assert mqtt["password_file"] == f"/etc/sightline/mqtt-{mqtt['username']}", name
    assert edge["mqtt"]["username"] == edge["camera_id"]  # mosquitto/acl: user = camera id
