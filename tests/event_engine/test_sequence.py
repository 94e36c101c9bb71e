"""Gaps in a camera's frame numbers are counted and reported, so a loss is never silent."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from event_engine.sequence import FrameGapDetector, GapMetrics


@pytest.mark.parametrize(
    ("frames", "missing", "gaps"),
    [
        ([0, 1, 2, 3], 0, 0),
        ([0, 1, 4, 5], 2, 1),
        ([0, 2, 4, 6], 3, 3),
        ([0, 1, 1, 2, 0, 3], 0, 0),  # redeliveries are not gaps
        ([10, 20], 9, 1),
    ],
)
def test_missing_frames_are_counted(frames: list[int], missing: int, gaps: int) -> None:
    detector = FrameGapDetector()
    for number in frames:
        detector.observe("cam", number)

    assert detector.missing["cam"] == missing
    assert detector.gaps["cam"] == gaps


def test_cameras_are_counted_apart_and_a_gap_is_logged_and_exported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    detector = FrameGapDetector(GapMetrics.from_registry(registry))

    with caplog.at_level(logging.WARNING):
        for camera, number in [("a", 0), ("b", 0), ("a", 3), ("b", 1)]:
            detector.observe(camera, number)

    assert dict(detector.missing) == {"a": 2}
    assert registry.get_sample_value("sightline_frames_missing_total", {"camera_id": "a"}) == 2
    assert any(getattr(r, "camera_id", None) == "a" for r in caplog.records)


def test_after_a_reset_a_restarted_edge_counting_from_zero_is_no_gap() -> None:
    detector = FrameGapDetector()
    detector.observe("cam", 500)

    detector.reset("cam")

    assert detector.observe("cam", 0) is None
    assert detector.observe("cam", 2) == 1
