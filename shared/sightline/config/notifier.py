"""The notifier's sections: JSON log, SMTP, e-mail, digests (with their schedules)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, Field, SecretStr, field_validator, model_validator

from sightline.config.base import ExistingFile, StrictModel, TimeZoneName, read_secret
from sightline.cron import CronSpec

_EVERY = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> int:
    """``"15m"`` -> 900 seconds.

    Example:
        >>> parse_every("1h")
        3600
    """
    match = _EVERY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r}: expected a number and a unit, like 30m, 1h or 1d")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds < 10:
        raise ValueError(f"{text!r}: at least 10s")
    return seconds


class JsonLogConfig(StrictModel):
    """One JSON line per event."""

    directory: Path = Field(default=Path("var/events"), description="Where log files go.")
    per_day: bool = Field(default=True, description="events-YYYY-MM-DD.jsonl; else events.jsonl.")
    retention_days: int = Field(default=30, ge=1, description="Daily files older are deleted.")


class SmtpConfig(StrictModel):
    """The mail server. With no host, e-mails are written as .eml files to the outbox."""

    host: str | None = Field(default=None, description="SMTP host; unset: write to outbox_dir.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Default by security.")
    security: Literal["starttls", "ssl", "none"] = Field(default="starttls")
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Prefer password_file.")
    password_file: ExistingFile | None = Field(
        default=None, description="First line is the password."
    )
    timeout_s: float = Field(default=30.0, gt=0)
    ca_file: ExistingFile | None = Field(
        default=None, description="Also trust this CA (PEM), e.g. a self-signed server."
    )
    outbox_dir: Path = Field(default=Path("var/outbox"), description="Where .eml files go.")

    @property
    def effective_port(self) -> int:
        """The port, defaulted by ``security``."""
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` when given."""
        return read_secret(self.password, self.password_file)


class EmailConfig(StrictModel):
    """Immediate e-mails."""

    sender: str = Field(default="sightline@localhost", description="From: address.")
    to: list[str] = Field(default_factory=lambda: ["you@localhost"], min_length=1)
    subject_template: str | None = Field(default=None, description="Jinja2; overrides default.")
    html_template: Path | None = Field(default=None, description="Jinja2 file; overrides default.")
    text_template: Path | None = Field(default=None, description="Jinja2 file; overrides default.")
    rate_limit_per_hour: int = Field(default=20, ge=1, description="Per rule.")


class DigestConfig(StrictModel):
    """An e-mail that collects events and goes out on a schedule.

    The schedule is one of ``every`` (a fixed period aligned to ``origin``, by default the
    epoch; the default, 1h), ``cron`` or ``at`` (wall-clock times in ``notifier.timezone``).

    An event goes into the period that is open when the notifier receives it: the period of
    its own ``timestamp``, unless it arrives after that period ended (a slow engine, a backlog
    delivered after the notifier was down): then it goes out in the next digest, late but
    never lost and never in two. A period's digest is sent a moment (2 s) after it ends.

    Example:
        >>> DigestConfig(name="mornings", cron="0 8 * * 1-5").cron_spec is not None
        True
        >>> DigestConfig(name="shifts", every="8h", origin="2025-01-01T06:00:00+01:00").origin_s
        1735707600
    """

    name: str = Field(min_length=1, max_length=64, description="Rules name it in email_digest.")
    every: str = Field(default="1h", description="30m, 1h, 1d, ... (aligned to origin)")
    origin: AwareDatetime | None = Field(
        default=None,
        description=(
            "With every: an instant a period starts at (ISO 8601 with its UTC offset, whole "
            'seconds), periods run every "every" before and after it, e.g. every 8h from '
            '"2025-01-01T06:00:00+01:00" for shifts at 06, 14 and 22 CET; the offset is fixed '
            "(for local times across DST use cron or at). Default: the epoch, so 1h starts on "
            "the full UTC hour and 1d at midnight UTC."
        ),
    )
    cron: str | None = Field(
        default=None, description='"0 8 * * 1-5": minute hour day month weekday, local time.'
    )
    at: str | None = Field(default=None, description='"08:00": daily at this local time.')
    to: list[str] | None = Field(default=None, description="Default: email.to.")
    rules: list[str] | None = Field(default=None, description="Only these rules; all if unset.")
    cameras: list[str] | None = Field(default=None, description="Only these cameras.")
    max_photos: int = Field(default=12, ge=0, le=100)

    @field_validator("every")
    @classmethod
    def _every(cls, every: str) -> str:
        parse_every(every)
        return every

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str | None) -> str | None:
        if cron is not None:
            CronSpec.from_text(cron)
        return cron

    @field_validator("at")
    @classmethod
    def _at(cls, at: str | None) -> str | None:
        if at is not None:
            CronSpec.daily_at(at)
        return at

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        given = [key for key in ("every", "cron", "at") if key in self.model_fields_set]
        given = [key for key in given if getattr(self, key) is not None]
        if len(given) > 1:
            raise ValueError(
                f"{given[1]}: give one of every, cron or at, not {' and '.join(given)}"
            )
        if self.origin is not None and self.cron_spec is not None:
            raise ValueError(
                "origin: aligns the periods of every; cron and at run on wall-clock times"
            )
        return self

    @property
    def every_s(self) -> int:
        """The period in seconds (of ``every``)."""
        return parse_every(self.every)

    @property
    def origin_s(self) -> int:
        """The instant the periods of ``every`` are aligned to, in epoch seconds (0: the epoch)."""
        return 0 if self.origin is None else math.floor(self.origin.timestamp())

    @property
    def cron_spec(self) -> CronSpec | None:
        """The wall-clock schedule, or None when the digest goes out ``every`` period."""
        if self.cron is not None:
            return CronSpec.from_text(self.cron)
        if self.at is not None:
            return CronSpec.daily_at(self.at)
        return None


class NotifierSection(StrictModel):
    """Everything the notifier does."""

    timezone: TimeZoneName = Field(default="UTC", description="IANA zone for times in e-mails.")
    json_log: JsonLogConfig = Field(default_factory=JsonLogConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    digests: list[DigestConfig] = Field(
        default_factory=lambda: [DigestConfig(name="default")], description="Digest e-mails."
    )
    snapshot_wait_s: float = Field(default=15.0, ge=0, description="Wait for the snapshot.")
    retention_days: int = Field(default=14, ge=1, description="Digest state kept this long.")
    snapshots_dir: Path = Field(
        default=Path("var/snapshots"),
        description=(
            "Only for a notifier that shares the frame-store's disk: its file root, read when an "
            "announcement carries no image (snapshot keys of type file are relative to it)."
        ),
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [digest.name for digest in self.digests]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"digests[{index}].name: {name!r} is used twice")
        return self
