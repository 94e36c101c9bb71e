"""The base of every config section, and the sections every service has."""

from __future__ import annotations

import re
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from sightline.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Anchor(StrEnum):
    """The point of a box that lines and zones test."""

    CENTER = "center"
    BOTTOM_CENTER = "bottom_center"


class LogConfig(StrictModel):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level written."
    )
    format: Literal["json", "text"] = Field(
        default="json", description="`json`: one JSON object per line; `text` for a terminal."
    )


class HealthConfig(StrictModel):
    """The HTTP endpoint with `/healthz` and `/metrics`."""

    enabled: bool = Field(default=True, description="Serve /healthz and /metrics.")
    host: str = Field(default="0.0.0.0", description="Address to bind.")
    port: int = Field(default=0, ge=0, le=65535, description="0 picks the service's default.")
    stale_after_s: float = Field(
        default=30.0, gt=0, description="/healthz fails when the main loop is silent this long."
    )


def default_instance() -> str:
    """The host name, reduced to a valid id (:mod:`sightline.ids`), or ``main``.

    >>> from sightline.ids import is_valid_id
    >>> is_valid_id(default_instance())
    True
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:48].strip("-._")
    return name or "main"


def default_state_dir(service: str) -> Path:
    """``./var/<service>``."""
    return Path("var") / service


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"file {str(path)!r} does not exist")
    return path


ExistingFile = Annotated[Path, AfterValidator(_existing_file)]


def _iana_zone(zone: str) -> str:
    if zone not in available_timezones() and zone != "UTC":
        raise ValueError(f"{zone!r} is not an IANA time zone (e.g. Europe/Berlin)")
    return zone


TimeZoneName = Annotated[str, AfterValidator(_iana_zone)]
"""An IANA time zone name (``Europe/Berlin``, ``UTC``)."""
"""A path that must name an existing file when the config is loaded (secrets, certificates)."""


def read_secret(password: SecretStr | None, password_file: Path | None) -> str | None:
    """The secret: the first line of ``password_file`` when given, else ``password``."""
    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:  # unreadable: one line, never a traceback
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                [f"password_file: cannot read {str(password_file)!r}: {why}"]
            ) from None
        return lines[0] if lines else ""
    return password.get_secret_value() if password else None
