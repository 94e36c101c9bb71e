"""The ring of recent frames: bounded by count and by bytes, keyed by frame number."""

from __future__ import annotations

import pytest

from frame_store.ring import FrameRing, FrameTooLargeError, RecentFrame, RecentFrames


def frame(number: int, size: int = 100) -> RecentFrame:
    return RecentFrame(number=number, jpeg=b"\xff" * size)


@pytest.mark.parametrize(
    ("max_frames", "max_bytes", "sizes", "kept"),
    [
        (3, 10_000, [100] * 5, [2, 3, 4]),  # count bound
        (100, 250, [100] * 5, [3, 4]),  # bytes bound
        (100, 300, [100, 100, 250, 10], [2, 3]),  # a big frame pushes out several
        (2, 10_000, [100], [0]),  # under both bounds
    ],
)
def test_the_ring_keeps_the_newest_frames_within_both_bounds(
    max_frames: int, max_bytes: int, sizes: list[int], kept: list[int]
) -> None:
    ring = FrameRing(max_frames, max_bytes)
    for number, size in enumerate(sizes):
        ring.add(frame(number, size))
    assert ring.numbers == kept
    assert ring.total_bytes == sum(sizes[n] for n in kept)
    assert ring.total_bytes <= max_bytes
    assert len(ring.numbers) <= max_frames


def test_evicted_frames_are_returned_oldest_first() -> None:
    ring = FrameRing(2, 10_000)
    evicted = [e.number for n in range(5) for e in ring.add(frame(n))]
    assert evicted == [0, 1, 2]


def test_a_frame_larger_than_the_ring_is_refused_and_the_ring_is_unchanged() -> None:
    ring = FrameRing(10, 1024)
    ring.add(frame(1, 100))
    with pytest.raises(FrameTooLargeError, match="2000 bytes"):
        ring.add(frame(2, 2000))
    assert ring.numbers == [1]


def test_a_lower_frame_number_starts_a_new_edge_run_and_empties_the_ring() -> None:
    ring = FrameRing(10, 10_000)
    for number in (500, 501, 502):
        ring.add(frame(number))
    ring.add(frame(0))
    assert ring.numbers == [0]
    assert ring.total_bytes == 100


def test_the_same_frame_number_twice_is_kept_once() -> None:
    ring = FrameRing(10, 10_000)
    ring.add(frame(1, 100))
    ring.add(frame(1, 100))
    assert ring.numbers == [1]
    assert ring.total_bytes == 100


@pytest.mark.parametrize(
    ("wanted", "window", "found"),
    [
        (20, 0, 20),  # exact
        (21, 5, 20),  # tie between 20 and 22: the earlier one
        (23, 5, 22),
        (40, 5, None),  # nothing within the window
        (35, 5, 30),
    ],
)
def test_nearest_finds_the_closest_kept_frame_within_the_window(
    wanted: int, window: int, found: int | None
) -> None:
    frames = RecentFrames(max_frames=100, max_bytes=100_000)
    for number in (10, 20, 22, 30):
        frames.add("cam", frame(number))
    nearest = frames.nearest("cam", wanted, window)
    assert (nearest.number if nearest else None) == found


def test_each_camera_has_its_own_ring() -> None:
    frames = RecentFrames(max_frames=2, max_bytes=100_000)
    for number in range(5):
        frames.add("a", frame(number))
    frames.add("b", frame(100))
    assert frames.newest_number("a") == 4
    assert frames.nearest("b", 3, 5) is None
    assert frames.newest_number("unknown") is None
