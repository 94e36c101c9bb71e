"""Digest schedules: cron parsing, next firings across DST changes, config errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifier.schedule import CronPeriods, FixedPeriods, schedule_of
from sightline.config import NotifierSettings, load_config
from sightline.config.notifier import DigestConfig
from sightline.cron import CronSpec
from sightline.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def local(text: str, zone: ZoneInfo = BERLIN, fold: int = 0) -> int:
    """``"2025-03-30 01:59"`` in ``zone`` as epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold).timestamp())


def shown(epoch: int, zone: ZoneInfo = BERLIN) -> str:
    """Epoch seconds as a local time with its zone abbreviation."""
    return datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("cron", "after", "expected_next"),
    [
        # plain days, lists, ranges and steps
        ("0 8 * * *", "2025-01-15 07:59", "2025-01-15 08:00 CET"),
        ("0 8 * * *", "2025-01-15 08:00", "2025-01-16 08:00 CET"),
        ("0 8 * * 1-5", "2025-01-17 09:00", "2025-01-20 08:00 CET"),  # Fri -> Mon
        ("*/20 9-10 * * *", "2025-01-15 09:41", "2025-01-15 10:00 CET"),
        ("0 0,12 * * 0", "2025-01-15 00:00", "2025-01-19 00:00 CET"),  # Sunday as 0
        ("0 0 * * 7", "2025-01-15 00:00", "2025-01-19 00:00 CET"),  # ... and as 7
        ("0 0 1 * 1", "2025-01-15 00:00", "2025-01-20 00:00 CET"),  # 1st OR Monday
        ("0 0 29 2 *", "2025-01-15 00:00", "2028-02-29 00:00 CET"),
        # spring forward (Berlin 2025-03-30, 02:00 CET -> 03:00 CEST): skipped times shift
        ("30 2 * * *", "2025-03-29 03:00", "2025-03-30 03:30 CEST"),
        ("30 2 * * *", "2025-03-30 03:30", "2025-03-31 02:30 CEST"),
        ("30 2,3 * * *", "2025-03-30 01:00", "2025-03-30 03:30 CEST"),  # both are 03:30: once
        ("30 2,3 * * *", "2025-03-30 03:30", "2025-03-31 02:30 CEST"),
        ("0 * * * *", "2025-03-30 01:00", "2025-03-30 03:00 CEST"),
        ("0 8 * * *", "2025-03-29 08:00", "2025-03-30 08:00 CEST"),  # a 23-hour day
        # fall back (Berlin 2025-10-26, 03:00 CEST -> 02:00 CET): repeated times fire once
        ("30 2 * * *", "2025-10-26 01:00", "2025-10-26 02:30 CEST"),
        ("30 2 * * *", "2025-10-26 02:30", "2025-10-27 02:30 CET"),
        ("0 * * * *", "2025-10-26 02:00", "2025-10-26 03:00 CET"),  # no second 02:00
        ("0 8 * * *", "2025-10-25 08:00", "2025-10-26 08:00 CET"),  # a 25-hour day
    ],
)
def test_the_next_firing_is_in_local_time_across_dst_changes(
    cron: str, after: str, expected_next: str
) -> None:
    schedule = CronPeriods(CronSpec.from_text(cron), BERLIN)

    assert shown(schedule.period_end(local(after))) == expected_next


@pytest.mark.parametrize(
    ("cron", "at", "expected_start"),
    [
        ("0 8 * * *", "2025-01-15 08:00", "2025-01-15 08:00 EST"),
        ("0 8 * * *", "2025-01-15 07:59", "2025-01-14 08:00 EST"),
        ("0 8 * * 1-5", "2025-01-19 12:00", "2025-01-17 08:00 EST"),  # Sun -> Fri
        ("30 2 * * *", "2025-03-09 12:00", "2025-03-09 03:30 EDT"),  # skipped 02:30
        ("30 1 * * *", "2025-11-02 01:40", "2025-11-02 01:30 EDT"),  # first 01:30
    ],
)
def test_a_period_starts_at_the_last_firing_at_or_before_an_event(
    cron: str, at: str, expected_start: str
) -> None:
    schedule = CronPeriods(CronSpec.from_text(cron), NEW_YORK)

    assert shown(schedule.period_start(local(at, NEW_YORK)), NEW_YORK) == expected_start


def test_the_second_pass_of_a_repeated_hour_belongs_to_the_period_of_its_first() -> None:
    schedule = CronPeriods(CronSpec.from_text("30 1 * * *"), NEW_YORK)
    second_pass = local("2025-11-02 01:45", NEW_YORK, fold=1)  # EST, after the first 01:30

    start = schedule.period_start(second_pass)

    assert shown(start, NEW_YORK) == "2025-11-02 01:30 EDT"
    assert shown(schedule.period_end(start), NEW_YORK) == "2025-11-03 01:30 EST"


@pytest.mark.parametrize(
    ("digest", "expected"),
    [
        ({"every": "15m"}, FixedPeriods(900)),
        ({}, FixedPeriods(3600)),
        (
            {"every": "8h", "origin": "2025-01-01T06:00:00+01:00"},
            FixedPeriods(28800, local("2025-01-01 06:00")),
        ),
        ({"at": "08:00"}, CronPeriods(CronSpec.from_text("0 8 * * *"), BERLIN)),
        ({"cron": "0 8 * * 1-5"}, CronPeriods(CronSpec.from_text("0 8 * * 1-5"), BERLIN)),
    ],
)
def test_a_digest_gets_the_schedule_it_asks_for(digest: dict[str, str], expected: object) -> None:
    assert schedule_of(DigestConfig(name="d", **digest), "Europe/Berlin") == expected


def test_every_keeps_its_epoch_aligned_periods() -> None:
    schedule = FixedPeriods(3600)

    assert schedule.period_start(7300.5) == 7200
    assert schedule.period_end(7200) == 10800


@pytest.mark.parametrize(
    ("at", "expected_start"),
    [
        ("2025-01-10 05:59", "2025-01-09 22:00 CET"),
        ("2025-01-10 06:00", "2025-01-10 06:00 CET"),
        ("2025-01-10 13:59", "2025-01-10 06:00 CET"),
        ("2025-01-10 14:00", "2025-01-10 14:00 CET"),
        ("2024-12-31 23:00", "2024-12-31 22:00 CET"),  # before the origin itself
        ("2025-06-10 07:30", "2025-06-10 07:00 CEST"),  # a fixed offset: 06:00 CET in summer
    ],
)
def test_every_is_aligned_to_its_origin_before_and_after_it(at: str, expected_start: str) -> None:
    digest = DigestConfig(name="shifts", every="8h", origin="2025-01-01T06:00:00+01:00")
    schedule = schedule_of(digest, "Europe/Berlin")

    start = schedule.period_start(local(at))

    assert shown(start) == expected_start
    assert schedule.period_end(start) == start + 8 * 3600


def test_an_origin_with_a_fraction_of_a_second_starts_periods_on_the_whole_second() -> None:
    digest = DigestConfig(name="d", every="10s", origin="2025-01-01T00:00:05.9+00:00")

    assert schedule_of(digest, "UTC").period_start(1735689615.0) == 1735689615


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ({"cron": "0 8 * *"}, "notifier.digests[0].cron: '0 8 * *': expected 5 fields"),
        ({"cron": "60 8 * * *"}, "notifier.digests[0].cron: minute '60': values must lie in 0-59"),
        ({"cron": "0 8 * * 1-x"}, "notifier.digests[0].cron: day of week '1-x': expected"),
        ({"cron": "0 8 5-1 * *"}, "notifier.digests[0].cron: day of month '5-1': values must"),
        ({"cron": "*/0 * * * *"}, "notifier.digests[0].cron: minute '*/0': the step must be"),
        ({"cron": "0 0 30 2 *"}, "notifier.digests[0].cron: '0 0 30 2 *': no month has such"),
        ({"at": "8am"}, "notifier.digests[0].at: '8am': expected a time of day as HH:MM"),
        ({"every": "1h", "cron": "0 8 * * *"}, "notifier.digests[0].cron: give one of every"),
        ({"cron": "0 8 * * *", "at": "08:00"}, "notifier.digests[0].at: give one of every"),
        ({"origin": "2025-01-01T06:00:00"}, "notifier.digests[0].origin: Input should have"),
        ({"origin": "yesterday"}, "notifier.digests[0].origin: Input should be a valid"),
        (
            {"at": "08:00", "origin": "2025-01-01T06:00:00Z"},
            "notifier.digests[0].origin: aligns the periods of every",
        ),
    ],
)
def test_a_bad_schedule_is_a_config_error_naming_its_key(
    tmp_path: Path, digest: dict[str, str], problem: str
) -> None:
    path = tmp_path / "notifier.yaml"
    path.write_text("notifier: {}\n")

    with pytest.raises(ConfigError) as error:
        load_config(NotifierSettings, path, notifier={"digests": [{"name": "d", **digest}]})

    assert problem in str(error.value)


def test_a_cron_digest_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yaml"
    path.write_text(
        "notifier:\n  timezone: Europe/Berlin\n"
        "  digests:\n    - {name: mornings, cron: '0 8 * * 1-5'}\n    - {name: daily, at: '18:30'}\n"
    )

    settings = load_config(NotifierSettings, path)

    mornings, daily = settings.notifier.digests
    assert mornings.cron_spec == CronSpec.from_text("0 8 * * 1-5")
    assert daily.cron_spec == CronSpec.from_text("30 18 * * *")


def test_an_origin_loads_from_yaml_quoted_or_as_a_yaml_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yaml"
    path.write_text(
        "notifier:\n  digests:\n"
        "    - {name: quoted, every: 8h, origin: '2025-01-01T06:00:00+01:00'}\n"
        "    - {name: plain, every: 8h, origin: 2025-01-01T06:00:00+01:00}\n"
    )

    settings = load_config(NotifierSettings, path)

    assert [d.origin_s for d in settings.notifier.digests] == [local("2025-01-01 06:00")] * 2
