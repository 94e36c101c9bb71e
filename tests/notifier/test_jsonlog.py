"""The JSON log: one line per event, per day, idempotent, with retention."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.jsonlog import JsonLog
from sightline.config.notifier import JsonLogConfig
from tests.notifier.support import fill, make_event, small_disk


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("per_day", "timezone", "expected_file"),
    [
        (True, "UTC", "events-2025-01-15.jsonl"),
        (True, "Pacific/Auckland", "events-2025-01-16.jsonl"),  # 14:30 UTC is 03:30 next day
        (False, "UTC", "events.jsonl"),
    ],
)
def test_an_event_is_one_json_line_in_the_file_of_its_local_day(
    tmp_path: Path, per_day: bool, timezone: str, expected_file: str
) -> None:
    log = JsonLog(JsonLogConfig(directory=tmp_path, per_day=per_day), timezone)
    event = make_event(1)

    assert log.append(event)

    assert [p.name for p in tmp_path.iterdir()] == [expected_file]
    [line] = lines(tmp_path / expected_file)
    assert line["event_id"] == event.event_id
    assert line["rule"] == "car-in"


def test_a_redelivered_event_is_not_written_twice_even_after_a_restart(tmp_path: Path) -> None:
    config = JsonLogConfig(directory=tmp_path)
    first = JsonLog(config, "UTC")
    assert first.append(make_event(1))
    assert not first.append(make_event(1))
    assert first.append(make_event(2))

    restarted = JsonLog(config, "UTC")
    assert not restarted.append(make_event(1))

    assert [
        line["track_id"] for line in map(_object, lines(tmp_path / "events-2025-01-15.jsonl"))
    ] == [1, 2]


def _object(line: dict[str, object]) -> dict[str, object]:
    value = line["object"]
    assert isinstance(value, dict)
    return value


def test_a_line_torn_by_a_crash_does_not_spoil_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "events-2025-01-15.jsonl"
    path.write_text(make_event(1).model_dump_json() + "\n" + '{"event_id": "half')

    assert JsonLog(JsonLogConfig(directory=tmp_path), "UTC").append(make_event(2))

    text = path.read_text().splitlines()
    assert len(text) == 3
    assert json.loads(text[2])["event_id"] == make_event(2).event_id


@pytest.mark.parametrize(
    ("retention_days", "kept"),
    [
        (1, ["events-2025-01-20.jsonl"]),
        (3, ["events-2025-01-18.jsonl", "events-2025-01-20.jsonl"]),
        (30, ["events-2025-01-10.jsonl", "events-2025-01-18.jsonl", "events-2025-01-20.jsonl"]),
    ],
)
def test_daily_files_older_than_the_retention_are_deleted(
    tmp_path: Path, retention_days: int, kept: list[str]
) -> None:
    for day in ("2025-01-10", "2025-01-18", "2025-01-20"):
        path = tmp_path / f"events-{day}.jsonl"
        path.write_text("{}\n")
        written = datetime.fromisoformat(f"{day}T23:00:00+00:00").timestamp()
        os.utime(path, (written, written))
    (tmp_path / "notes.txt").write_text("not ours")
    log = JsonLog(JsonLogConfig(directory=tmp_path, retention_days=retention_days), "UTC")

    log.remove_expired(now=datetime(2025, 1, 20, 12, 0, tzinfo=UTC))

    assert sorted(p.name for p in tmp_path.glob("events-*")) == kept
    assert (tmp_path / "notes.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_line_the_full_disk_cut_short_is_undone_and_written_whole_once_there_is_room(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        log = JsonLog(JsonLogConfig(directory=disk, per_day=False), "UTC")
        path = disk / "events.jsonl"
        path.write_text(" " * 4000 + "\n")  # ~90 bytes left in the file's page
        filler = fill(disk)

        with pytest.raises(OSError, match="No space left"):
            log.append(make_event(1))

        assert path.stat().st_size == 4001  # the part that fitted was cut off again
        filler.unlink()
        assert log.append(make_event(1))
        assert not log.append(make_event(1))
        assert [line["event_id"] for line in lines(path)] == [make_event(1).event_id]
