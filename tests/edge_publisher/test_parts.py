"""The edge-publisher's parts on their own: rate limit, track memory, classes, ROI, envelopes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_publisher.detector import (
    DetectorError,
    RegionOfInterest,
    Sighting,
    class_ids,
    resolve_model_path,
    untracked,
)
from edge_publisher.envelope import (
    FrameStamp,
    build_envelope,
    centers_of,
    document_bytes,
    envelope_document,
    strongest,
)
from edge_publisher.frames import FrameGate, encode_jpeg, frame_payload, with_frame_data
from edge_publisher.record import Recorder
from edge_publisher.tracks import TrackMemory
from sightline.config.edge import FramePublishConfig, RoiConfig
from sightline.messages import decode_envelope, encode

NAMES = {0: "person", 1: "bicycle", 2: "car"}
STAMP = FrameStamp("jetson-01", "driveway", 7, 42, datetime(2025, 1, 15, 14, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("config", "frames", "expected"),
    [
        (
            {"interval_s": 1.0, "on_detection": False},
            [(0.0, False), (0.5, True), (1.0, False)],
            [True, False, True],
        ),
        (
            {"interval_s": 1.0, "on_detection": True},
            [(0.0, False), (0.5, True), (0.6, False)],
            [True, True, False],
        ),
        (
            {"interval_s": 1.0, "on_detection": True, "min_interval_s": 0.3},
            [(0.0, True), (0.2, True), (0.4, True)],
            [True, False, True],
        ),
        ({"enabled": False}, [(0.0, True), (5.0, True)], [False, False]),
    ],
)
def test_frame_gate_publishes_on_interval_and_detections_within_the_floor(
    config: dict[str, object], frames: list[tuple[float, bool]], expected: list[bool]
) -> None:
    gate = FrameGate(FramePublishConfig.model_validate(config))
    assert [gate.admit(now, has) for now, has in frames] == expected


def test_track_memory_gives_previous_centers_and_forgets_tracks_not_seen_for_a_while() -> None:
    memory = TrackMemory(forget_after=3)
    assert memory.advance(0, {1: (1.0, 1.0), 2: (5.0, 5.0)}) == {1: None, 2: None}
    assert memory.advance(1, {1: (2.0, 1.0)}) == {1: (1.0, 1.0)}
    for number in range(2, 6):
        memory.advance(number, {1: (float(number), 1.0)})
    assert len(memory) == 1
    assert memory.advance(6, {2: (6.0, 6.0)}) == {2: None}


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [(None, None), (["person"], [0]), (["car", 1], [2, 1]), (["2"], [2])],
)
def test_track_classes_by_name_or_id_become_model_ids(
    wanted: list[str | int] | None, expected: list[int] | None
) -> None:
    assert class_ids(wanted, NAMES) == expected


@pytest.mark.parametrize("wanted", [["unicorn"], [99]])
def test_an_unknown_track_class_is_a_config_error_naming_it(wanted: list[str | int]) -> None:
    with pytest.raises(DetectorError, match=re.escape(f"the model has no class {wanted[0]!r}")):
        class_ids(wanted, NAMES)


@pytest.mark.parametrize(
    ("detections", "tracks", "expected"),
    [
        ([[0, 0, 10, 10], [50, 50, 60, 60]], [[1, 1, 10, 10]], [False, True]),
        ([[0, 0, 10, 10]], [], [True]),
        ([[0, 0, 10, 10]], [[5, 5, 15, 15]], [True]),
        ([], [[0, 0, 10, 10]], []),
    ],
)
def test_detections_no_track_overlaps_are_the_untracked_ones(
    detections: list[list[float]], tracks: list[list[float]], expected: list[bool]
) -> None:
    as_boxes = [np.array(rows, np.float32).reshape(-1, 4) for rows in (detections, tracks)]
    assert untracked(*as_boxes).tolist() == expected


def test_a_missing_model_is_an_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "yolo.pt"
    with pytest.raises(DetectorError, match=re.escape(f"model_file: '{missing}' does not exist")):
        resolve_model_path(str(missing))


@pytest.mark.parametrize(
    ("roi", "size", "expected"),
    [
        (None, (1280, 720), RegionOfInterest(0, 0, 1280, 720)),
        (
            RoiConfig(x1=100, y1=50, x2=600, y2=400),
            (1280, 720),
            RegionOfInterest(100, 50, 600, 400),
        ),
        (
            RoiConfig(x1=100, y1=50, x2=2000, y2=900),
            (1280, 720),
            RegionOfInterest(100, 50, 1280, 720),
        ),
    ],
)
def test_roi_is_clamped_to_the_frame(
    roi: RoiConfig | None, size: tuple[int, int], expected: RegionOfInterest
) -> None:
    assert RegionOfInterest.from_config(roi, *size) == expected


def test_an_roi_outside_the_frame_is_refused() -> None:
    with pytest.raises(DetectorError, match=r"detector\.roi"):
        RegionOfInterest.from_config(RoiConfig(x1=2000, y1=0, x2=2100, y2=10), 1280, 720)


def test_roi_crop_is_the_region_of_the_full_frame() -> None:
    image = np.arange(720 * 1280 * 3, dtype=np.uint32).reshape(720, 1280, 3).astype(np.uint8)
    crop = RegionOfInterest(100, 50, 600, 400).crop(image)
    assert crop.shape == (350, 500, 3)
    assert np.array_equal(crop[0, 0], image[50, 100])


def test_envelope_is_valid_v1_with_previous_centers_and_null_track_ids() -> None:
    sightings = [
        Sighting(3, 0, "person", 0.9, (100.0, 200.0, 140.0, 300.0)),
        Sighting(None, 2, "car", 0.5, (10.0, 10.0, 50.0, 30.0)),
    ]
    previous = TrackMemory().advance(STAMP.number, centers_of(sightings))
    first = build_envelope(STAMP, RegionOfInterest(0, 0, 640, 480), 640, 480, sightings, previous)
    decoded = decode_envelope(encode(first))
    assert decoded.frame.roi_applied is not None
    assert (decoded.frame.number, decoded.frame.model_extra) == (7, {"source_frame": 42})
    assert [d.track_id for d in decoded.detections] == [3, None]
    assert decoded.detections[0].center.as_tuple() == (120.0, 250.0)
    assert decoded.detections[0].previous_center is None
    again = build_envelope(
        STAMP, RegionOfInterest(0, 0, 640, 480), 640, 480, sightings, {3: (110.0, 240.0)}
    )
    assert again.detections[0].previous_center is not None
    assert again.detections[0].previous_center.as_tuple() == (110.0, 240.0)


@pytest.mark.parametrize(
    ("confidences", "limit", "kept"),
    [([0.5, 0.9, 0.3], 5, [0.5, 0.9, 0.3]), ([0.5, 0.9, 0.3, 0.7], 2, [0.9, 0.7]), ([], 1, [])],
)
def test_beyond_max_detections_the_most_confident_are_kept_in_order(
    confidences: list[float], limit: int, kept: list[float]
) -> None:
    sightings = [
        Sighting(i, 0, "person", c, (0.0, 0.0, 1.0, 1.0)) for i, c in enumerate(confidences)
    ]
    assert [s.confidence for s in strongest(sightings, limit)] == kept


def test_an_empty_frame_still_gets_an_envelope() -> None:
    envelope = build_envelope(STAMP, RegionOfInterest.full(64, 48), 64, 48, [], {})
    assert decode_envelope(encode(envelope)).detections == []


@pytest.mark.parametrize(("max_width", "expected_width"), [(None, 640), (320, 320), (1000, 640)])
def test_jpeg_frames_are_downscaled_to_max_width(
    max_width: int | None, expected_width: int
) -> None:
    image = np.full((480, 640, 3), 128, np.uint8)
    decoded = cv2.imdecode(
        np.frombuffer(encode_jpeg(image, 80, max_width), np.uint8), cv2.IMREAD_COLOR
    )
    assert decoded.shape[1] == expected_width


def test_recorder_writes_one_line_per_envelope_without_frame_bytes(tmp_path: Path) -> None:
    envelope = build_envelope(STAMP, RegionOfInterest.full(64, 48), 64, 48, [], {})
    with_jpeg = with_frame_data(envelope, b"\xff\xd8jpeg", 80)
    with Recorder(tmp_path / "rec" / "run.jsonl") as recorder:
        recorder.write(envelope)
        recorder.write(with_jpeg)
    lines = (tmp_path / "rec" / "run.jsonl").read_bytes().splitlines()
    assert [decode_envelope(line).frame_data for line in lines] == [None, None]


def random_sightings(rng: np.random.Generator, count: int) -> list[Sighting]:
    sightings = []
    for _ in range(count):
        x1, y1 = rng.uniform(-5, 1900, 2)
        w, h = rng.uniform(0, 400, 2)
        sightings.append(
            Sighting(
                None if rng.random() < 0.3 else int(rng.integers(1, 10_000)),
                int(rng.integers(0, 80)),
                str(rng.choice(["person", "car", "tëddy bear", "traffic light"])),
                float(rng.random()),
                (float(x1), float(y1), float(x1 + w), float(y1 + h)),
            )
        )
    return sightings


@pytest.mark.parametrize("seed", range(20))
def test_the_hot_path_envelope_is_byte_for_byte_the_model_s_encoding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sightings = random_sightings(rng, int(rng.integers(0, 30)))
    previous = {
        s.track_id: (float(rng.uniform(0, 1900)), float(rng.uniform(0, 1000)))
        for s in sightings
        if s.track_id is not None and rng.random() < 0.7
    }
    stamp = FrameStamp("jetson-01", "driveway", seed, 3 * seed, datetime.now(UTC), "r-1")
    region = RegionOfInterest(0, 10, 1920, 1080)
    args = (stamp, region, 1920, 1080, sightings, previous)
    document = envelope_document(*args)
    assert document_bytes(document) == encode(build_envelope(*args))
    jpeg = bytes(rng.integers(0, 256, 300, dtype=np.uint8))
    assert frame_payload(document, jpeg, 70) == encode(
        with_frame_data(build_envelope(*args), jpeg, 70)
    )


@pytest.mark.parametrize(
    ("sighting", "field"),
    [
        (Sighting(1, 0, "person", 0.5, (10.0, 0.0, 5.0, 1.0)), "x2"),
        (Sighting(1, 0, "person", 0.5, (float("nan"), 0.0, 5.0, 1.0)), "x1"),
        (Sighting(-1, 0, "person", 0.5, (0.0, 0.0, 5.0, 1.0)), "track_id"),
        (Sighting(1, 0, "", 0.5, (0.0, 0.0, 5.0, 1.0)), "class_name"),
    ],
)
def test_a_value_the_model_refuses_is_an_error_naming_the_field_on_the_hot_path_too(
    sighting: Sighting, field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        envelope_document(STAMP, RegionOfInterest.full(64, 48), 64, 48, [sighting], {})
