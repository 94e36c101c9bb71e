"""The real model with an ROI on the bundled video: boxes come back in full-frame pixels."""

from __future__ import annotations

from itertools import islice

import cv2
import numpy as np
import pytest

from edge_publisher.detector import Detector, RegionOfInterest, Sighting
from sightline.config.edge import DetectorConfig
from tests.edge_publisher.edge_process import MODEL, VIDEO

pytestmark = pytest.mark.slow

ROI = RegionOfInterest(x1=300, y1=200, x2=900, y2=600)


def video_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(VIDEO))
    frames = [image for ok, image in islice(iter(capture.read, (False, None)), count) if ok]
    capture.release()
    return frames


def track(region: RegionOfInterest, frames: list[np.ndarray]) -> list[list[Sighting]]:
    detector = Detector(DetectorConfig(model_file=str(MODEL), track_classes=["person"]))
    return [detector.track(image, region) for image in frames]


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return video_frames(30)


def test_every_box_found_in_an_roi_lies_inside_it_in_full_frame_pixels(
    frames: list[np.ndarray],
) -> None:
    sightings = [s for per_frame in track(ROI, frames) for s in per_frame]
    assert len(sightings) >= 12
    for s in sightings:
        x1, y1, x2, y2 = s.box
        assert ROI.x1 - 0.5 <= x1 <= x2 <= ROI.x2 + 0.5, s
        assert ROI.y1 - 0.5 <= y1 <= y2 <= ROI.y2 + 0.5, s
    assert max(s.box[0] for s in sightings) > ROI.x1 + 100


def test_tracked_persons_keep_their_ids_and_unconfirmed_ones_come_with_no_id(
    frames: list[np.ndarray],
) -> None:
    per_frame = track(RegionOfInterest.full(1280, 720), frames)
    first_ids = {s.track_id for s in per_frame[2]} - {None}
    last_ids = {s.track_id for s in per_frame[-1]} - {None}
    assert len(first_ids & last_ids) >= 5
    untracked = [s for sightings in per_frame for s in sightings if s.track_id is None]
    assert untracked, "detections the tracker has not confirmed must be kept, with no id"
    assert all(s.class_name == "person" and s.confidence >= 0.25 for s in untracked)
