"""Digests carry thumbnails, not full frames."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from notifier.letters import LetterWriter
from notifier.snapshots import SnapshotImage
from notifier.state import PendingEvent, StateStore
from notifier.thumbnails import THUMBNAIL_WIDTH, thumbnail
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.messages import encode
from tests.notifier.support import images_of, make_event, parse_mail, sample_jpeg, store_snapshot


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


def test_a_digest_carries_thumbnails_and_is_much_smaller_than_its_full_frames(
    tmp_path: Path,
) -> None:
    section = NotifierSection.model_validate({"snapshots_dir": tmp_path / "snaps"})
    letters = LetterWriter(section, StateStore(tmp_path / "state"))
    records, frames_bytes = [], 0
    for number in range(6):
        event = make_event(number + 1)
        letters.store.add_snapshot(
            event.event_id, store_snapshot(tmp_path / "snaps", event, 10 * number).decode()
        )
        frames_bytes += len(sample_jpeg(10 * number))
        records.append(PendingEvent(event.event_id, "t", encode(event).decode(), float(number)))

    raw = bytes(letters.digest(DigestConfig(name="d"), 0, 3600, records))

    images = images_of(parse_mail(raw))
    assert len(images) == 6
    for image in images:
        data = image.get_content()
        assert size_of(data) == (THUMBNAIL_WIDTH, 270)  # 1280x720 scaled, aspect kept
        assert image.get_content_type() == "image/jpeg"
    assert len(raw) < frames_bytes / 3  # base64 included


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (SnapshotImage(None, reason="none"), SnapshotImage(None, reason="none")),
        (SnapshotImage(b"not an image", "x.jpg"), SnapshotImage(b"not an image", "x.jpg")),
    ],
)
def test_what_cannot_be_shrunk_is_kept_as_it_is(
    image: SnapshotImage, expected: SnapshotImage
) -> None:
    assert thumbnail(image) == expected


@pytest.mark.parametrize(("mode", "size"), [("RGB", (320, 200)), ("RGBA", (960, 540))])
def test_small_images_stay_and_large_ones_become_jpegs_of_the_thumbnail_width(
    mode: str, size: tuple[int, int]
) -> None:
    source = io.BytesIO()
    Image.new(mode, size, "red").save(source, "PNG")
    image = SnapshotImage(source.getvalue(), "frame.png", "png")

    small = thumbnail(image)

    assert small.data is not None
    assert size_of(small.data)[0] == min(size[0], THUMBNAIL_WIDTH)
    assert small.subtype == ("png" if size[0] <= THUMBNAIL_WIDTH else "jpeg")
