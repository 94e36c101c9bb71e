"""The state directory: idempotent records and garbage collection."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifier.state import PendingEvent, StateStore


def pending(event_id: str, at: float = 0.0) -> PendingEvent:
    return PendingEvent(event_id, "events/cam/line_cross", "{}", at)


def hourly(start: int) -> Iterator[int]:
    """The starts of hourly periods from ``start`` on."""
    return itertools.count(start, 3600)


def age(path: Path, seconds_old: float, now: float) -> None:
    os.utime(path, (now - seconds_old, now - seconds_old))


def test_an_event_is_collected_once_per_digest_whatever_the_period(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    added = [
        store.add_to_digest("default", hourly(0), pending("e1")),
        store.add_to_digest("default", hourly(3600), pending("e1")),  # redelivered later
        store.add_to_digest("nightly", hourly(0), pending("e1")),
    ]

    assert added == [0, None, 0]
    assert [(p.name, len(store.digest_events(p))) for p in store.digest_periods()] == [
        ("default", 1),
        ("nightly", 1),
    ]


def test_an_event_never_lands_in_a_period_whose_email_took_its_list(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.add_to_digest("default", hourly(0), pending("e1"))
    [period] = store.digest_periods()

    assert [r.event_id for r in store.close_digest(period)] == ["e1"]  # the e-mail's list
    assert store.add_to_digest("default", hourly(0), pending("e2")) == 3600  # the next one
    store.finish_digest(period, "sent", 1)
    assert store.add_to_digest("default", hourly(0), pending("e3")) == 3600
    assert [
        (p.start, [r.event_id for r in store.digest_events(p)]) for p in store.digest_periods()
    ] == [
        (0, ["e1"]),
        (3600, ["e2", "e3"]),
    ]


def test_an_immediate_email_is_not_pending_again_once_done(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.add_immediate(pending("e1"))
    store.finish_immediate("e1", "car-in", "sent")

    assert not store.add_immediate(pending("e1"))
    assert store.pending_immediate() == []


@pytest.mark.parametrize(
    ("days_old", "sent", "kept"),
    [(1, True, True), (20, True, False), (20, False, True)],
)
def test_finished_state_older_than_the_retention_is_removed_and_pending_state_is_kept(
    tmp_path: Path, days_old: int, sent: bool, kept: bool
) -> None:
    now = 2_000_000_000.0
    store = StateStore(tmp_path)
    store.add_to_digest("default", hourly(0), pending("e1"))
    store.add_snapshot("e1", "{}", b"\xff\xd8\xff photo")
    store.finish_immediate("e1", "car-in", "sent")
    [period] = store.digest_periods()
    if sent:
        store.finish_digest(period, "sent", 1)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            age(path, days_old * 86400, now)

    store.remove_older_than(now - 14 * 86400)

    assert bool(store.digest_periods()) is kept
    assert store.snapshot("e1") == ("{}" if kept else None)  # an unsent digest needs it
    assert store.photo("e1") == (b"\xff\xd8\xff photo" if kept else None)
    assert store.immediate_done("e1") is (days_old <= 14)
