"""The annotator on a real frame: box, label, line with its direction, zone, crop."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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


def _located(frame: np.ndarray, part: np.ndarray) -> tuple[int, int]:
    """Where ``part`` lies in ``frame`` exactly (x, y)."""
    scores = cv2.matchTemplate(frame, part, cv2.TM_SQDIFF)
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    assert np.array_equal(frame[y : y + part.shape[0], x : x + part.shape[1]], part)
    return x, y


@pytest.mark.parametrize(
    ("bbox", "shape", "at"),
    [
        # a 50x100 pedestrian: half its size around it, 320 px on the short side, 2:3
        (BBox(x1=600, y1=300, x2=650, y2=400), (480, 320, 3), (465, 110)),
        # a large car: its box and half its size each side, at most 3:2
        (BBox(x1=300, y1=200, x2=700, y2=450), (533, 800, 3), (100, 58)),
        # in a corner: moved inside the frame, not cut
        (BBox(x1=0, y1=0, x2=50, y2=50), (320, 320, 3), (0, 0)),
        (BBox(x1=1250, y1=700, x2=1280, y2=720), (320, 480, 3), (800, 400)),
        # the whole frame: the frame
        (BBox(x1=0, y1=0, x2=1280, y2=720), (720, 1280, 3), (0, 0)),
    ],
)
def test_the_crop_is_the_object_with_its_context_at_least_320_px_inside_the_frame(
    bbox: BBox, shape: tuple[int, int, int], at: tuple[int, int]
) -> None:
    frame = video_frames()[PERSON_FRAME]

    part = crop(frame, bbox)

    _keep(f"crop-{bbox.x1:.0f}-{bbox.y1:.0f}.png", part)
    assert part.shape == shape
    x, y = _located(frame, part)
    assert (x, y) == at
    assert x <= bbox.x1
    assert y <= bbox.y1
    assert x + shape[1] >= bbox.x2
    assert y + shape[0] >= bbox.y2


def test_a_crop_of_a_small_frame_is_scaled_up_to_320_px_with_its_aspect() -> None:
    frame = cv2.resize(video_frames()[PERSON_FRAME], (256, 144))

    part = crop(frame, BBox(x1=120, y1=60, x2=130, y2=80))

    assert part.shape == (320, 569, 3)  # the whole 256x144 frame, scaled by 320/144


def test_a_time_the_zone_cannot_hold_is_captioned_in_utc(person: tuple[BBox, float]) -> None:
    """9999-12-31T23:30Z in Berlin would be the year 10000: the caption says UTC instead of
    the frame-store failing on a valid event."""
    bbox, _ = person
    frame = video_frames()[PERSON_FRAME]
    event = line_event("cam", PERSON_FRAME, bbox)
    event = event.model_copy(update={"timestamp": datetime(9999, 12, 31, 23, 30, tzinfo=UTC)})
    assert annotate(frame, event, ZoneInfo("Europe/Berlin")).shape == frame.shape
