"""A JPEG's size is read from its header, and a frame claiming too many pixels is refused
before anything is decoded."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from frame_store.jpeg import check_size, jpeg_size
from frame_store.pictures import frame_of
from sightline.errors import MessageError
from sightline.messages import DetectionEnvelope
from tests.frame_store.media import T0, bomb, jpeg_of


def envelope_with(jpeg: bytes, width: int, height: int) -> DetectionEnvelope:
    return DetectionEnvelope.model_validate(
        {
            "source": {"device_id": "d", "camera_id": "cam", "timestamp": T0},
            "frame": {"number": 1, "width": width, "height": height},
            "detections": [],
            "frame_data": {"base64": base64.b64encode(jpeg).decode()},
        }
    )


@pytest.mark.parametrize("shape", [(720, 1280), (48, 64), (10, 3000)])
def test_the_size_is_read_from_baseline_and_progressive_headers(shape: tuple[int, int]) -> None:
    image = np.zeros((*shape, 3), np.uint8)
    for flags in ([], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]):
        ok, buffer = cv2.imencode(".jpg", image, flags)
        assert ok
        assert jpeg_size(buffer.tobytes()) == (shape[1], shape[0])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"GIF89a", "not a JPEG"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08", "truncated SOF"),
        (b"\xff\xd8\xff\xd9", "no SOF"),
        (b"\xff\xd8\x00\x00\x00\x00", "bad JPEG marker"),
        (b"\xff\xd8\xff\xe0\x00\x01\x00\x00", "segment length"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10\x03", "size of 16x0"),
    ],
)
def test_a_header_without_a_usable_size_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        jpeg_size(data)


def test_the_bomb_states_its_claimed_size_in_a_few_hundred_bytes() -> None:
    assert len(bomb()) < 1000
    assert jpeg_size(bomb()) == (12000, 12000)
    with pytest.raises(ValueError, match="144000000 pixels; at most 40000000"):
        check_size(bomb(), 16384, 16384, 40_000_000)


@pytest.mark.parametrize(
    ("jpeg", "width", "height", "words"),
    [
        (bomb(), 12000, 12000, "at most 40000000"),  # as the envelope claims: the cap
        (bomb(), 1280, 720, "larger than the frame's 1280x720"),  # more than the envelope says
        (bomb(4000, 3000), 1280, 720, "larger than the frame's"),
    ],
)
def test_a_frame_claiming_too_many_pixels_is_refused_naming_frame_data(
    jpeg: bytes, width: int, height: int, words: str
) -> None:
    with pytest.raises(MessageError, match=words) as refused:
        frame_of(envelope_with(jpeg, width, height), max_pixels=40_000_000)
    assert refused.value.reason.startswith("frame_data: ")


def test_a_frame_smaller_than_stated_is_kept_the_edge_may_downscale() -> None:
    jpeg = jpeg_of(np.zeros((360, 640, 3), np.uint8))
    assert frame_of(envelope_with(jpeg, 1280, 720)).jpeg == jpeg
