"""Split one ``mode: local`` config into the config of each service.

:data:`SUITE` is the one list of the services a one-box suite runs: a new service is one
more :class:`SuiteService` line there (its name, its module, its config from the suite's).

Example:
    >>> [service.name for service in SUITE]
    ['edge-publisher', 'event-engine', 'frame-store', 'notifier', 'console']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from sightline.config.settings import SuiteSettings
from sightline.topics import Service

Common = dict[str, Any]
"""What every service's config shares: broker, log, instance, health (no port)."""


@dataclass(frozen=True)
class SuiteService:
    """One service of the one-box suite.

    Attributes:
        name: its name in topics, logs and the generated config's file name.
        module: run as ``python -m <module> --config <generated file>``.
        config: its config from the suite's settings, the common part and the state root.
    """

    name: str
    module: str
    config: Callable[[SuiteSettings, Common, Path], dict[str, Any]]


def plain(model: BaseModel) -> dict[str, Any]:
    """A model as YAML-ready data, secrets included (they go to a file only the suite reads)."""

    def unwrap(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, dict):
            return {k: unwrap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [unwrap(v) for v in value]
        if hasattr(value, "value") and isinstance(value.value, str):
            return value.value  # str enums
        return value

    return dict(unwrap(model.model_dump(exclude_none=True)))


def _edge(suite: SuiteSettings, common: Common, state_root: Path) -> dict[str, Any]:
    return {
        **common,
        # an edge is named after its camera (its status and stats topics, the ACL's %u)
        "instance": suite.effective_camera_id,
        "state_dir": str(state_root / Service.EDGE),
        "device_id": suite.device_id,
        "camera_id": suite.effective_camera_id,
        "camera": plain(suite.camera),
        "detector": plain(suite.detector),
        "frames": plain(suite.frames),
    }


def _engine(suite: SuiteSettings, common: Common, state_root: Path) -> dict[str, Any]:
    devices = {device_id: plain(device) for device_id, device in suite.devices.items()}
    devices.setdefault(suite.device_id, plain(suite.own_device()))
    return {
        **common,
        "state_dir": str(state_root / Service.ENGINE),
        "devices": devices,
        "homeassistant": plain(suite.homeassistant),
    }


def _frame_store(suite: SuiteSettings, common: Common, state_root: Path) -> dict[str, Any]:
    return {
        **common,
        "state_dir": str(state_root / Service.FRAMES),
        "frame_store": _frame_store_under(suite, state_root),
    }


def _console(suite: SuiteSettings, common: Common, state_root: Path) -> dict[str, Any]:
    return {
        **common,
        "state_dir": str(state_root / Service.CONSOLE),
        "console": plain(suite.console),
    }


def _notifier(suite: SuiteSettings, common: Common, state_root: Path) -> dict[str, Any]:
    return {
        **common,
        "state_dir": str(state_root / Service.NOTIFIER),
        "notifier": _notifier_under(suite, state_root),
    }


SUITE: tuple[SuiteService, ...] = (
    SuiteService(Service.EDGE.value, Service.EDGE.module, _edge),
    SuiteService(Service.ENGINE.value, Service.ENGINE.module, _engine),
    SuiteService(Service.FRAMES.value, Service.FRAMES.module, _frame_store),
    SuiteService(Service.NOTIFIER.value, Service.NOTIFIER.module, _notifier),
    SuiteService(Service.CONSOLE.value, Service.CONSOLE.module, _console),
)
"""The services the suite starts, in this order (and stops in the reverse order); a new
service is one more line."""

SERVICES = tuple(service.name for service in SUITE)
MODULES = {service.name: service.module for service in SUITE}


def service_configs(
    suite: SuiteSettings, mqtt_url: str, state_root: Path
) -> dict[str, dict[str, Any]]:
    """The config of each service, as plain data ready to be written as YAML."""
    common = {
        "mqtt": {**plain(suite.mqtt), "url": mqtt_url},
        "log": plain(suite.log),
        "instance": suite.instance,
        # each service keeps its own default port (9101-9104); on or off and where, as set
        "health": {"enabled": suite.health.enabled, "host": suite.health.host},
    }
    return {service.name: service.config(suite, common, state_root) for service in SUITE}


def write_service_configs(configs: dict[str, dict[str, Any]], directory: Path) -> dict[str, Path]:
    """Write each service's YAML; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in configs.items():
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths[name] = path
    return paths


def _frame_store_under(suite: SuiteSettings, state_root: Path) -> dict[str, Any]:
    """The frame-store's section; snapshots under the suite's state dir unless placed."""
    section = plain(suite.frame_store)
    storage = suite.frame_store.storage
    if storage.type == "file" and "root" not in storage.model_fields_set:
        section["storage"]["root"] = str(state_root / "snapshots")
    return section


def _notifier_under(suite: SuiteSettings, state_root: Path) -> dict[str, Any]:
    """The notifier's section: its JSON log and outbox under the suite's state dir unless
    placed, and the frame-store's root as a second source of photos (the same disk; the
    photo itself comes in each snapshot announcement)."""
    section = plain(suite.notifier)
    notifier = suite.notifier
    if "directory" not in notifier.json_log.model_fields_set:
        section["json_log"]["directory"] = str(state_root / "events")
    if "outbox_dir" not in notifier.smtp.model_fields_set:
        section["smtp"]["outbox_dir"] = str(state_root / "outbox")
    if "snapshots_dir" not in notifier.model_fields_set:
        snapshots = _frame_store_under(suite, state_root)["storage"]
        if snapshots["type"] == "file":
            section["snapshots_dir"] = snapshots["root"]
    return section
