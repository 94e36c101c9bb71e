"""When digest periods start and end: a fixed ``every`` or a cron schedule in local time.

A digest period is ``[start, end)`` in epoch seconds. ``start`` names the period on disk, so
both kinds compute ``end`` from ``start`` alone: a restarted notifier finds the same
boundaries and sends each period once.

Cron times are wall-clock times in the configured zone, on purpose DST-aware:

* a time the clock skips (02:30 on the spring-forward night) fires once, shifted forward
  by the gap (03:30 summer time), as Vixie cron does;
* a time the clock shows twice (02:30 on the fall-back night) fires once, at its first
  occurrence (summer time); the period that contains the repeated hour is an hour longer.

Example:
    >>> from sightline.cron import CronSpec
    >>> schedule = CronPeriods(CronSpec.from_text("0 8 * * *"), ZoneInfo("UTC"))
    >>> schedule.period_start(1736935200.0 + 60)  # 2025-01-15 10:01 UTC
    1736928000
    >>> schedule.period_end(1736928000)  # the next day at 08:00
    1737014400
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sightline.config.notifier import DigestConfig
from sightline.cron import CronSpec

SEARCH_DAYS = 366 * 8 + 2
"""How far to look for a firing day (29 February in a year divisible by 100 but not 400)."""


class DigestSchedule(Protocol):
    """Where a digest's periods begin and end."""

    def period_start(self, at: float) -> int:
        """The start of the period that contains ``at``."""
        ...

    def period_end(self, start: int) -> int:
        """The end of the period that starts at ``start`` (when its digest is due)."""
        ...


@dataclass(frozen=True)
class FixedPeriods:
    """``every`` seconds from ``origin_s``, before and after it; from the epoch by default
    (``1h`` starts on the full UTC hour).

    Example:
        >>> FixedPeriods(10, origin_s=1003).period_start(1002.5)
        993
    """

    every_s: int
    origin_s: int = 0

    def period_start(self, at: float) -> int:
        """The last start (``origin_s`` plus a multiple of the period) at or before ``at``."""
        return self.origin_s + int((at - self.origin_s) // self.every_s * self.every_s)

    def period_end(self, start: int) -> int:
        """One period later."""
        return start + self.every_s


@dataclass(frozen=True)
class CronPeriods:
    """Periods from one firing of ``spec`` (in ``zone``) to the next."""

    spec: CronSpec
    zone: ZoneInfo

    def period_start(self, at: float) -> int:
        """The last firing at or before ``at``."""
        today = datetime.fromtimestamp(at, self.zone).date()
        for day in _days(today + timedelta(days=1), -1):
            earlier = [fire for fire in self.fires_on(day) if fire <= at]
            if earlier:
                return earlier[-1]
        raise ValueError(f"{self.spec} never fired in {SEARCH_DAYS} days")

    def period_end(self, start: int) -> int:
        """The first firing after ``start``."""
        first_day = datetime.fromtimestamp(start, self.zone).date() - timedelta(days=1)
        for day in _days(first_day, 1):
            later = [fire for fire in self.fires_on(day) if fire > start]
            if later:
                return later[0]
        raise ValueError(f"{self.spec} does not fire in {SEARCH_DAYS} days")

    def fires_on(self, day: date) -> list[int]:
        """The firings of local ``day`` in epoch seconds, sorted, each instant once."""
        if not self.spec.matches(day):
            return []
        instants = {
            int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone).timestamp())
            for hour in self.spec.hours
            for minute in self.spec.minutes
        }  # fold=0: a skipped time shifts forward by the gap, a repeated one fires first
        return sorted(instants)


def _days(first: date, step: int) -> Iterator[date]:
    for offset in range(SEARCH_DAYS):
        yield first + timedelta(days=offset * step)


def schedule_of(digest: DigestConfig, zone: str) -> DigestSchedule:
    """The schedule ``digest`` asks for; cron times are read in ``zone``.

    Example:
        >>> schedule_of(DigestConfig(name="hourly", every="1h"), "UTC")
        FixedPeriods(every_s=3600, origin_s=0)
    """
    spec = digest.cron_spec
    if spec is None:
        return FixedPeriods(digest.every_s, digest.origin_s)
    return CronPeriods(spec, ZoneInfo(zone))
