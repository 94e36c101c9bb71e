"""Read a service's config: a YAML file, then ``SIGHTLINE_*`` environment variables over it.

Example:
    >>> from sightline.config import EngineSettings
    >>> settings = load_config(EngineSettings, None)
    >>> settings.devices
    {}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from sightline.config.settings import ServiceSettings
from sightline.errors import ConfigError
from sightline.validation import describe_errors

S = TypeVar("S", bound=ServiceSettings)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = _parse(text)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(path, exc)], source=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"the top level must be a mapping of keys, not a {type(data).__name__}"],
            source=str(path),
        )
    return data


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> Any:
    """YAML ``text`` parsed by libyaml when PyYAML has it (an engine's config of 600 devices
    took 13 of its 17 s of startup in the pure-Python parser); anything libyaml refuses is
    parsed again by the pure-Python parser, so a problem reads as it always did.

    >>> _parse("devices:\\n  pi: {camera_id: cam}\\n")
    {'devices': {'pi': {'camera_id': 'cam'}}}
    """
    try:
        return yaml.load(text, Loader=_FAST_LOADER)  # a safe loader: C or Python
    except yaml.YAMLError:
        return yaml.safe_load(text)


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """A YAML syntax error as ``file:line:column: problem`` (1-based, as editors count).

    Example:
        >>> try:
        ...     yaml.safe_load("mqtt:\\n  url: a: b\\n")
        ... except yaml.YAMLError as exc:
        ...     print(yaml_problem(Path("engine.yaml"), exc))
        engine.yaml:2:9: not valid YAML: mapping values are not allowed here
    """
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    context = getattr(exc, "context", None)
    problem = getattr(exc, "problem", None) or str(exc)
    text = f"{context}, {problem}" if context else problem
    return f"{where}: not valid YAML: {text}"


def load_config(settings_cls: type[S], path: Path | str | None, **overrides: Any) -> S:
    """Validate ``path`` (may be None: defaults and environment only) as ``settings_cls``.

    Args:
        settings_cls: the service's settings class.
        path: the YAML file.
        **overrides: keys set over the file (the environment still wins).

    Raises:
        ConfigError: with one ``key.path: problem`` line per problem.
    """
    data = read_yaml(Path(path)) if path is not None else {}
    data.update(overrides)
    try:
        return settings_cls(**data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc), source=str(path) if path else None) from None
