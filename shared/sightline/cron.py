"""Cron-like schedules: ``"0 8 * * 1-5"`` (minute hour day-of-month month day-of-week)
and daily ``"08:00"`` times, as digests use them.

Example:
    >>> spec = CronSpec.from_text("30 8,18 * * 1-5")
    >>> sorted(spec.hours), sorted(spec.minutes)
    ([8, 18], [30])
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Self

_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _cron_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    """One cron field (``*``, ``5``, ``1-5``, ``*/15``, ``0-30/10``, lists of those)."""
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        if not re.fullmatch(r"\*|\d+(-\d+)?", span) or not re.fullmatch(r"|\d+", step_text):
            raise ValueError(f"{name} {item!r}: expected *, N, N-M or one of them with /STEP")
        if span == "*":
            first, last = low, high
        else:
            first_text, _, last_text = span.partition("-")
            first = int(first_text)
            last = int(last_text) if last_text else (high if step_text else first)
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"{name} {item!r}: the step must be at least 1")
        if not low <= first <= last <= high:
            raise ValueError(f"{name} {item!r}: values must lie in {low}-{high}, low to high")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSpec:
    """A 5-field cron expression: minute hour day-of-month month day-of-week.

    As in Vixie cron, day of week 0 and 7 are Sunday, and when both day fields are
    restricted (neither starts with ``*``) a day matching either one fires.
    Names (``MON``, ``JAN``) and ``@daily`` are not supported.

    Example:
        >>> spec = CronSpec.from_text("0 8 * * 1-5")
        >>> sorted(spec.hours), spec.matches(date(2025, 1, 18))  # a Saturday
        ([8], False)
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def from_text(cls, text: str) -> Self:
        """Parse ``text``; ValueError naming the bad field otherwise."""
        fields = text.split()
        if len(fields) != len(_CRON_FIELDS):
            raise ValueError(
                f"{text!r}: expected 5 fields (minute hour day-of-month month day-of-week)"
            )
        minutes, hours, days, months, weekdays = (
            _cron_field(field, *spec) for field, spec in zip(fields, _CRON_FIELDS, strict=True)
        )
        spec = cls(
            minutes,
            hours,
            days,
            months,
            frozenset(day % 7 for day in weekdays),
            days_restricted=not fields[2].startswith("*"),
            weekdays_restricted=not fields[4].startswith("*"),
        )
        if not spec.weekdays_restricted and not any(
            day <= calendar.monthrange(2024, month)[1] for month in months for day in days
        ):
            raise ValueError(f"{text!r}: no month has such a day; it would never fire")
        return spec

    @classmethod
    def daily_at(cls, text: str) -> Self:
        """``"08:00"`` -> every day at 08:00."""
        match = _AT.match(text.strip())
        if not match:
            raise ValueError(f"{text!r}: expected a time of day as HH:MM, like 08:00")
        return cls.from_text(f"{int(match.group(2))} {int(match.group(1))} * * *")

    def matches(self, day: date) -> bool:
        """True if the schedule fires on ``day`` (at its hours and minutes)."""
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_day or by_weekday
        return by_day and by_weekday
