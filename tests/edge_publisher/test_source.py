"""Reading frames: every frame of a file in order, ``loop``, missing files, dead streams."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_publisher.source import CapturedFrame, FrameReader, SourceError, SourceKind, redacted
from sightline.broker import free_port
from sightline.config.edge import CameraConfig
from tests.edge_publisher.videos import marker, moving_square_video


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return moving_square_video(tmp_path / "squares.avi", frames=30)


def read_all(reader: FrameReader, limit: int) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    reader.start()
    try:
        while len(frames) < limit and not reader.finished:
            frame = reader.next(timeout=5.0)
            if frame is not None:
                frames.append(frame)
    finally:
        reader.stop()
    return frames


@pytest.mark.parametrize(
    ("url", "kind"),
    [("rtsp://cam:8554/s", SourceKind.STREAM), ("http://cam/mjpg", SourceKind.STREAM),
     (0, SourceKind.DEVICE), ("1", SourceKind.DEVICE), ("videos/a.mp4", SourceKind.FILE)],
)  # fmt: skip
def test_source_kind_follows_the_url(url: str | int, kind: SourceKind) -> None:
    assert SourceKind.of(url) is kind


def test_a_file_delivers_every_frame_in_order_then_ends(video: Path) -> None:
    frames = read_all(FrameReader(CameraConfig(url=str(video))), limit=1000)
    assert [f.source_index for f in frames] == list(range(30))
    assert [marker(f.image) for f in frames[:4]] == [0, 1, 2, 3]
    assert all(a.timestamp < b.timestamp for a, b in itertools.pairwise(frames))
    assert (frames[0].width, frames[0].height) == (320, 240)


def test_a_looping_file_starts_again_with_timestamps_still_increasing(video: Path) -> None:
    frames = read_all(FrameReader(CameraConfig(url=str(video), loop=True)), limit=75)
    assert [marker(f.image) for f in frames[29:32]] == [29, 0, 1]
    assert [f.source_index for f in frames] == list(range(75))
    assert all(a.timestamp < b.timestamp for a, b in itertools.pairwise(frames))


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.avi"
    with pytest.raises(SourceError, match=re.escape(f"'{missing}' does not exist")):
        FrameReader(CameraConfig(url=str(missing)))


def test_a_file_that_is_not_a_video_is_an_error_naming_it(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match=re.escape(f"cannot decode video file '{garbage}'")):
        FrameReader(CameraConfig(url=str(garbage)))


@pytest.fixture
def dead_stream() -> Iterator[FrameReader]:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    reader = FrameReader(CameraConfig(url=url, reconnect_min_s=0.05, reconnect_max_s=0.1))
    reader.start()
    yield reader
    reader.stop()


def test_a_stream_that_cannot_connect_keeps_retrying_and_never_ends(
    dead_stream: FrameReader,
) -> None:
    for _ in range(100):
        if dead_stream.reconnects >= 3:
            break
        assert dead_stream.next(timeout=0.1) is None
    assert dead_stream.reconnects >= 3
    assert not dead_stream.finished


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:secret@cam:554/s", "rtsp://admin:***@cam:554/s"),
        ("rtsp://cam:554/s", "rtsp://cam:554/s"),
        (0, "0"),
    ],
)
def test_camera_passwords_never_reach_the_log(url: str | int, shown: str) -> None:
    assert redacted(url) == shown
