"""A camera's engine config as the page edits it: validated, as YAML, as the save message.

The page sends its draft (a ``DeviceConfig`` as JSON); every problem comes back as one line
naming its key path, and the YAML the user may paste under ``devices:`` of the engine config.

Example:
    >>> draft = {"lines": [{"type": "polyline", "name": "walkway",
    ...                     "points": [[10, 50], [90, 50]], "units": "pct"}]}
    >>> checked = check_draft("street-pi", draft)
    >>> checked.errors
    []
    >>> print(checked.yaml, end="")
    devices:
      street-pi:
        lines:
        - type: polyline
          name: walkway
          points:
          - [10.0, 50.0]
          - [90.0, 50.0]
    >>> check_draft("street-pi", {"lines": [{"type": "polyline", "name": "x"}]}).errors
    ['lines[0].points: a polyline needs points']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from sightline.config.engine import DeviceConfig
from sightline.errors import TopicError
from sightline.ids import validate_id
from sightline.validation import describe_errors


@dataclass(frozen=True)
class Checked:
    """A draft after validation: the config when valid, else the problems."""

    config: DeviceConfig | None
    errors: list[str] = field(default_factory=list)
    yaml: str = ""

    def as_json(self) -> dict[str, Any]:
        """What the page receives."""
        return {"ok": self.config is not None, "errors": self.errors, "yaml": self.yaml}


def config_json(config: DeviceConfig) -> dict[str, Any]:
    """The config as JSON, without the keys left at their defaults (short, and what a user
    would write).

    Example:
        >>> config_json(DeviceConfig(camera_id="street"))
        {'camera_id': 'street'}
    """
    result: dict[str, Any] = config.model_dump(mode="json", exclude_defaults=True)
    return result


class _Dumper(yaml.SafeDumper):
    """Block style, except a point (a list of numbers) on one line: ``[10.0, 50.0]``."""


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = bool(items) and all(isinstance(i, (int, float, str)) for i in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def device_yaml(device_id: str, config: DeviceConfig) -> str:
    """The ``devices.<device_id>`` section of the engine config, ready to paste."""
    document = {"devices": {device_id: config_json(config)}}
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def check_draft(device_id: str, draft: object) -> Checked:
    """Validate ``draft`` (JSON of a ``DeviceConfig``) for device ``device_id``."""
    try:
        validate_id(device_id, "device_id")
    except TopicError as exc:
        return Checked(None, [f"device_id: {exc}"])
    if not isinstance(draft, dict):
        return Checked(None, ["config: expected an object with lines, zones and events"])
    try:
        config = DeviceConfig.model_validate(draft)
    except ValidationError as exc:
        return Checked(None, describe_errors(exc))
    return Checked(config, [], device_yaml(device_id, config))


def set_payload(device_id: str, config: DeviceConfig) -> bytes:
    """The retained message the engine applies: ``{"device_id", "config"}``.

    Example:
        >>> set_payload("street-pi", DeviceConfig(camera_id="street"))
        b'{"device_id":"street-pi","config":{"camera_id":"street"}}'
    """
    body = {"device_id": device_id, "config": config_json(config)}
    return json.dumps(body, separators=(",", ":")).encode()
