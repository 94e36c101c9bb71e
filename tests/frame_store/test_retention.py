"""Retention on real files: by age (per camera), by total size oldest first, never too young."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from frame_store.retention import DAY_S, RetentionPolicy, apply_retention, scan
from frame_store.storage import FileStore

NOW = 1_750_000_000.0
HOUR = 3600.0


def snapshot(root: Path, camera: str, event_id: str, age_s: float, size: int = 1000) -> None:
    """An event's three pictures, ``age_s`` old, ``size`` bytes each."""
    day = root / camera / "2025-01-15"
    day.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-clean", "-crop"):
        path = day / f"{event_id}{suffix}.jpg"
        path.write_bytes(b"\xff" * size)
        os.utime(path, (NOW - age_s, NOW - age_s))


def policy(
    days: float = 14,
    per_camera_days: dict[str, float] | None = None,
    max_total_bytes: int | None = None,
    min_age_s: float = HOUR,
) -> RetentionPolicy:
    return RetentionPolicy(days, per_camera_days or {}, max_total_bytes, min_age_s)


@pytest.mark.parametrize(
    ("stored", "rules", "removed"),
    [
        pytest.param(
            [("cam", "old", 15 * DAY_S), ("cam", "new", 1 * DAY_S)],
            policy(days=14),
            ["old"],
            id="older-than-days",
        ),
        pytest.param(
            [("door", "d-old", 3 * DAY_S), ("yard", "y-old", 3 * DAY_S)],
            policy(days=14, per_camera_days={"door": 2}),
            ["d-old"],
            id="per-camera-days",
        ),
        pytest.param(
            [("cam", "young", 0.5 * HOUR)],
            policy(days=0.001, min_age_s=HOUR),
            [],
            id="too-old-but-younger-than-min-age",
        ),
        pytest.param(
            [("cam", "a", 5 * HOUR), ("cam", "b", 4 * HOUR), ("cam", "c", 3 * HOUR)],
            policy(max_total_bytes=5500),
            ["a", "b"],
            id="size-oldest-first",
        ),
        pytest.param(
            [("a", "x", 5 * HOUR), ("b", "y", 0.2 * HOUR), ("b", "z", 0.1 * HOUR)],
            policy(max_total_bytes=3000, min_age_s=HOUR),
            ["x"],
            id="size-pressure-never-deletes-young",
        ),
        pytest.param(
            [("cam", "a", 5 * HOUR), ("cam", "b", 4 * HOUR)],
            policy(max_total_bytes=6000),
            [],
            id="size-exactly-at-limit",
        ),
    ],
)
def test_retention_removes_what_the_policy_says_and_nothing_else(
    tmp_path: Path,
    stored: list[tuple[str, str, float]],
    rules: RetentionPolicy,
    removed: list[str],
) -> None:
    for camera, event_id, age in stored:
        snapshot(tmp_path, camera, event_id, age)

    report = apply_retention(FileStore(tmp_path), rules, now=NOW)

    assert sorted(report.removed) == sorted(removed)
    assert report.freed_bytes == 3000 * len(removed)
    left = sorted(s.event_id for s in scan(FileStore(tmp_path)))
    assert left == sorted(e for _, e, _ in stored if e not in removed)
    assert report.kept_bytes == 3000 * len(left)


def test_a_day_folder_emptied_by_retention_is_removed(tmp_path: Path) -> None:
    snapshot(tmp_path, "cam", "old", 30 * DAY_S)
    apply_retention(FileStore(tmp_path), policy(days=1), now=NOW)
    assert list((tmp_path / "cam").iterdir()) == []


def test_temp_files_of_a_write_in_progress_are_not_counted_as_snapshots(tmp_path: Path) -> None:
    snapshot(tmp_path, "cam", "e1", HOUR)
    (tmp_path / "cam" / "2025-01-15" / ".e2.jpg.abc.tmp").write_bytes(b"partial")
    assert [(s.event_id, len(s.keys)) for s in scan(FileStore(tmp_path))] == [("e1", 3)]


def test_retention_logs_each_removal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    snapshot(tmp_path, "cam", "old", 30 * DAY_S)
    with caplog.at_level("INFO", logger="frame_store.retention"):
        apply_retention(FileStore(tmp_path), policy(days=1), now=NOW)
    assert [r.event_id for r in caplog.records] == ["old"]  # type: ignore[attr-defined]
