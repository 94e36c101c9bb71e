"""The console's section (``console:``): where its page listens, and the password that
guards it. The console service's settings are ``console.settings.ConsoleSettings``; a
``mode: local`` suite file may carry the same section.

The page binds ``127.0.0.1`` unless told otherwise; bound to any other address it needs a
password (``console.password_file``, first line), and refuses to start without one.

Example:
    >>> from pydantic import BaseModel, ValidationError
    >>> from sightline.validation import describe_errors
    >>> ConsoleSection().host, ConsoleSection().port
    ('127.0.0.1', 8090)
    >>> class Settings(BaseModel):
    ...     console: ConsoleSection
    >>> try:
    ...     Settings.model_validate({"console": {"host": "0.0.0.0"}})
    ... except ValidationError as exc:
    ...     print(*describe_errors(exc))  # doctest: +ELLIPSIS
    console.password_file: the console listens on '0.0.0.0', beyond this machine: ...
"""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import Field, SecretStr, model_validator

from sightline.config.base import ExistingFile, StrictModel, read_secret
from sightline.errors import ConfigError

DEFAULT_PORT = 8090


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConsoleSection(StrictModel):
    """The setup-and-watch page."""

    host: str = Field(
        default="127.0.0.1",
        description="Address the page binds; anything but loopback needs a password.",
    )
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="0 picks a free port.")
    password: SecretStr | None = Field(default=None, description="Prefer password_file.")
    password_file: ExistingFile | None = Field(
        default=None, description="First line is the password (token) the page asks for."
    )
    events_kept: int = Field(default=30, ge=1, le=1000, description="Last events shown.")
    save_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a save waits for the broker's acknowledgement."
    )

    @model_validator(mode="after")
    def _exposed_needs_password(self) -> Self:
        if is_loopback(self.host):
            return self
        if self.password is None and self.password_file is None:
            raise ValueError(
                f"password_file: the console listens on {self.host!r}, beyond this "
                "machine: give console.password_file (or bind console.host: 127.0.0.1)"
            )
        try:
            secret = read_secret(self.password, self.password_file)
        except ConfigError as exc:
            raise ValueError("; ".join(exc.problems)) from None
        if not (secret or "").strip():
            where = "password_file" if self.password_file is not None else "password"
            raise ValueError(
                f"{where}: is empty, and the console listens on {self.host!r}, beyond this "
                "machine: an empty password would let anyone in"
            )
        return self

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` when given; None when none is set."""
        password = read_secret(self.password, self.password_file)
        return password or None
