"""Frames of the bundled video and the messages built from them, for the frame-store's tests."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from sightline.messages import BBox, DetectionEnvelope, Event, encode, make_event_id
from tests.conftest import REPO

VIDEO = REPO / "samples" / "pedestrians.avi"
T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)
Image = npt.NDArray[np.uint8]


@lru_cache(maxsize=1)
def video_frames(count: int = 60) -> tuple[Image, ...]:
    """The first ``count`` frames of the bundled video (1280x720, BGR)."""
    capture = cv2.VideoCapture(str(VIDEO))
    frames: list[Image] = []
    try:
        while len(frames) < count:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(np.asarray(image, dtype=np.uint8))
    finally:
        capture.release()
    assert len(frames) == count, f"the video gave {len(frames)} frames, not {count}"
    return tuple(frames)


def jpeg_of(image: Image, quality: int = 80) -> bytes:
    """``image`` as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


def bomb(width: int = 12000, height: int = 12000) -> bytes:
    """A tiny real JPEG whose header claims ``width`` x ``height`` pixels (~700 bytes):
    decoding it would take ``width * height * 3`` bytes."""
    jpeg = bytearray(jpeg_of(np.zeros((8, 8, 3), np.uint8)))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(jpeg)


def frame_message(camera: str, number: int, image: Image) -> bytes:
    """The ``detections/<camera>/frame`` payload of frame ``number``: envelope + JPEG."""
    height, width = image.shape[:2]
    envelope = DetectionEnvelope.model_validate(
        {
            "source": {
                "device_id": f"{camera}-edge",
                "camera_id": camera,
                "timestamp": T0 + timedelta(milliseconds=40 * number),
            },
            "frame": {"number": number, "width": width, "height": height},
            "detections": [],
            "frame_data": {
                "encoding": "jpeg",
                "quality": 80,
                "base64": base64.b64encode(jpeg_of(image)).decode(),
            },
        }
    )
    return encode(envelope)


def line_event(
    camera: str, number: int, bbox: BBox, track_id: int = 7, confidence: float = 0.7
) -> Event:
    """A LINE_CROSS of ``bbox`` at frame ``number`` over a slanted line, left to right."""
    return _event(
        camera,
        number,
        bbox,
        track_id,
        confidence,
        "LINE_CROSS",
        "walk-in",
        line={
            "name": "crosswalk",
            "direction": "left_to_right",
            "points": [[bbox.center.x - 10, 60.0], [bbox.center.x + 40, 700.0]],
        },
    )


def zone_event(
    camera: str, number: int, bbox: BBox, track_id: int = 7, confidence: float = 0.7
) -> Event:
    """A ZONE_ENTER of ``bbox`` at frame ``number`` into a quadrilateral around it."""
    x, y = bbox.center.x, bbox.center.y
    points = [[x - 200, y - 120], [x + 180, y - 150], [x + 220, y + 160], [x - 160, y + 180]]
    return _event(
        camera,
        number,
        bbox,
        track_id,
        confidence,
        "ZONE_ENTER",
        "plaza",
        zone={"name": "plaza", "points": points},
    )


def _event(
    camera: str,
    number: int,
    bbox: BBox,
    track_id: int,
    confidence: float,
    event_type: str,
    rule: str,
    **where: object,
) -> Event:
    return Event.model_validate(
        {
            "event_id": make_event_id(camera, event_type, rule, track_id, number),
            "event_type": event_type,
            "rule": rule,
            "camera_id": camera,
            "device_id": f"{camera}-edge",
            "timestamp": T0 + timedelta(milliseconds=40 * number),
            "frame_number": number,
            "object": {
                "track_id": track_id,
                "class_name": "person",
                "confidence": confidence,
                "bbox": bbox.model_dump(),
                "center": bbox.center.model_dump(),
            },
            **where,
        }
    )
