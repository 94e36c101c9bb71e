"""Storage layout and atomic writes, pending events and the announced ledger on real files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from frame_store.ledger import AnnouncedLedger
from frame_store.pending import PendingEvent, PendingEvents
from frame_store.storage import FileStore, PictureKind, SnapshotKeys
from sightline.atomic import write_bytes
from sightline.messages import BBox
from tests.frame_store.media import line_event


@pytest.mark.parametrize(
    ("timestamp", "kind", "key"),
    [
        (datetime(2025, 1, 15, 14, 30, tzinfo=UTC), PictureKind.ANNOTATED, "cam/2025-01-15/e1.jpg"),
        (
            datetime(2025, 1, 15, 23, 59, tzinfo=UTC),
            PictureKind.CLEAN,
            "cam/2025-01-15/e1-clean.jpg",
        ),
        # the day is the UTC day, whatever the zone the timestamp was written in
        (
            datetime(2025, 1, 16, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            PictureKind.CROP,
            "cam/2025-01-15/e1-crop.jpg",
        ),
    ],
)
def test_keys_follow_the_camera_day_event_layout(
    timestamp: datetime, kind: PictureKind, key: str
) -> None:
    assert SnapshotKeys.for_event("cam", timestamp, "e1").key(kind) == key


@pytest.mark.parametrize("event_id", ["../escape", ".hidden", "a/b"])
def test_an_event_id_that_cannot_name_a_file_is_refused(event_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a file"):
        SnapshotKeys.for_event("cam", datetime(2025, 1, 15, tzinfo=UTC), event_id)


def test_a_stored_picture_is_complete_and_leaves_no_temp_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "root")
    ref = store.put("cam/2025-01-15/e1.jpg", b"\xff\xd8picture")
    assert ref.type == "file"
    assert ref.key == "cam/2025-01-15/e1.jpg"
    assert (tmp_path / "root" / ref.key).read_bytes() == b"\xff\xd8picture"
    assert [p.name for p in (tmp_path / "root" / "cam" / "2025-01-15").iterdir()] == ["e1.jpg"]


def test_an_atomic_write_replaces_the_old_content_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_bytes(target, b"old")
    write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_pending_events_survive_a_restart_and_go_once_removed(tmp_path: Path) -> None:
    bbox = BBox(x1=10, y1=10, x2=50, y2=90)
    first, second = line_event("cam", 5, bbox), line_event("cam", 9, bbox, track_id=8)
    pending = PendingEvents(tmp_path / "pending")
    assert pending.add(PendingEvent(first, deadline=100.0))
    assert pending.add(PendingEvent(second, deadline=50.0))
    assert not pending.add(PendingEvent(first, deadline=999.0))

    reloaded = PendingEvents(tmp_path / "pending")
    assert reloaded.load() == 2
    assert [p.event for p in reloaded.of_camera("cam")] == [second, first]
    assert [p.event.event_id for p in reloaded.expired(now=60.0)] == [second.event_id]
    reloaded.remove(second.event_id)
    assert PendingEvents(tmp_path / "pending").load() == 1


def test_an_unreadable_pending_file_is_set_aside_and_the_rest_load(tmp_path: Path) -> None:
    pending = PendingEvents(tmp_path / "pending")
    pending.add(PendingEvent(line_event("cam", 5, BBox(x1=1, y1=1, x2=5, y2=5)), 1.0))
    (tmp_path / "pending" / "broken.json").write_text("{not json")
    assert PendingEvents(tmp_path / "pending").load() == 1
    assert (tmp_path / "pending" / "broken.bad").exists()


def test_the_ledger_remembers_announced_ids_across_restarts_until_forgotten(
    tmp_path: Path,
) -> None:
    AnnouncedLedger(tmp_path).record("e1")
    ledger = AnnouncedLedger(tmp_path)
    assert "e1" in ledger
    assert "e2" not in ledger
    assert ledger.forget_older_than(3600) == 0
    assert ledger.forget_older_than(3600, now=(tmp_path / "e1").stat().st_mtime + 7200) == 1
    assert "e1" not in ledger
