"""The annotator on a real frame: box, label, line with its direction, zone, crop."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_store.annotate import LINE_COLOUR, OBJECT_COLOUR, ZONE_COLOUR, annotate, crop
from sightline.messages import BBox, Event
from tests.frame_store.conftest import PERSON_FRAME
from tests.frame_store.media import line_event, video_frames, zone_event

VIEW_DIR = os.environ.get("FRAME_STORE_VIEW_DIR")


def _near(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(colour)) <= tolerance))


def _keep(name: str, image: np.ndarray) -> None:
    if VIEW_DIR:  # FRAME_STORE_VIEW_DIR=/tmp/view pytest ... keeps the pictures to look at
        cv2.imwrite(str(Path(VIEW_DIR) / name), image)


def test_the_box_of_the_object_is_drawn_in_its_colour_and_the_inside_is_untouched(
    person: tuple[BBox, float],
) -> None:
    bbox, confidence = person
    frame = video_frames()[PERSON_FRAME]
    event = line_event("cam", PERSON_FRAME, bbox, confidence=confidence)
    drawn = annotate(frame, event)
    both = event.model_copy(update={"zone": zone_event("cam", PERSON_FRAME, bbox).zone})
    _keep("line-and-zone.png", annotate(frame, both))

    left_edge_middle = drawn[round((bbox.y1 + bbox.y2) / 2), round(bbox.x1)]
    assert _near(left_edge_middle, OBJECT_COLOUR)
    inside = (round(bbox.center.y), round(bbox.center.x))
    assert np.array_equal(drawn[inside], frame[inside])
    assert not np.array_equal(drawn, frame)


@pytest.mark.parametrize(
    ("make_event", "colour", "name"),
    [(line_event, LINE_COLOUR, "line"), (zone_event, ZONE_COLOUR, "zone")],
)
def test_the_line_or_the_zone_outline_is_drawn_where_the_event_says(
    person: tuple[BBox, float], make_event: object, colour: tuple[int, int, int], name: str
) -> None:
    bbox, confidence = person
    event: Event = make_event("cam", PERSON_FRAME, bbox, confidence=confidence)  # type: ignore[operator]
    drawn = annotate(video_frames()[PERSON_FRAME], event)
    _keep(f"{name}-outline.png", drawn)
    points = (event.line.points if event.line else event.zone.points) or []  # type: ignore[union-attr]
    (x1, y1), (x2, y2) = points[0], points[1]
    quarter = (round(y1 + (y2 - y1) / 4), round(x1 + (x2 - x1) / 4))
    assert _near(drawn[quarter], colour)


def test_the_zone_is_translucent_the_frame_shows_through_it(person: tuple[BBox, float]) -> None:
    bbox, _ = person
    frame = video_frames()[PERSON_FRAME]
    event = zone_event("cam", PERSON_FRAME, bbox)
    drawn = annotate(frame, event)
    inside_zone = (round(bbox.y2 + 60), round(bbox.center.x))
    mixed = frame[inside_zone] * 0.75 + np.array(ZONE_COLOUR) * 0.25
    assert np.all(np.abs(drawn[inside_zone].astype(float) - mixed) <= 2)


@pytest.mark.parametrize(
    ("bbox", "shape"),
    [
        (BBox(x1=100, y1=100, x2=200, y2=300), (240, 120, 3)),
        (BBox(x1=0, y1=0, x2=50, y2=50), (55, 55, 3)),
        (BBox(x1=1250, y1=700, x2=1280, y2=720), (22, 33, 3)),
    ],
)
def test_the_crop_is_the_box_plus_a_margin_clamped_to_the_frame(
    bbox: BBox, shape: tuple[int, int, int]
) -> None:
    assert crop(video_frames()[0], bbox).shape == shape
