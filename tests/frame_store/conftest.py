"""Fixtures of the frame-store's tests: a real person found by the real model."""

from __future__ import annotations

import os
from typing import Any

import pytest

from sightline.messages import BBox
from tests.conftest import REPO
from tests.frame_store.media import video_frames

MODEL = REPO / "models" / "yolo11n_int8_openvino_model"
PERSON_FRAME = 40


@pytest.fixture(scope="session")
def person() -> tuple[BBox, float]:
    """The most confident person the bundled model finds in frame 40: ``(bbox, confidence)``."""
    os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / "var" / "ultralytics"))
    from ultralytics.models import YOLO

    model = YOLO(str(MODEL), task="detect")
    results: Any = model.predict(video_frames()[PERSON_FRAME], verbose=False)
    result = results[0]
    boxes = [
        (box, float(conf))
        for box, conf, cls in zip(
            result.boxes.xyxy.tolist(),
            result.boxes.conf.tolist(),
            result.boxes.cls.tolist(),
            strict=True,
        )
        if result.names[int(cls)] == "person"
    ]
    assert boxes, "the model found no person in frame 40"
    (x1, y1, x2, y2), confidence = max(boxes, key=lambda item: item[1])
    return BBox(x1=x1, y1=y1, x2=x2, y2=y2), confidence
