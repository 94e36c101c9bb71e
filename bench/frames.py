"""How long one snapshot takes (decode, annotate, crop, encode, three atomic writes), against
a baseline in the same process: decoding the frame's JPEG alone.

Run: ``python -m bench.frames``; prints figures, asserts nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from frame_store.annotate import annotate
from frame_store.pictures import store_pictures
from frame_store.ring import RecentFrame, RecentFrames
from frame_store.storage import FileStore
from sightline.messages import BBox
from tests.frame_store.media import jpeg_of, line_event, video_frames

ROUNDS = 30


def per_call_ms(work: Callable[[int], object], rounds: int = ROUNDS) -> float:
    """The median time of ``work(i)`` in milliseconds."""
    times = []
    for index in range(rounds):
        start = time.perf_counter()
        work(index)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    image = video_frames()[40]
    jpeg = jpeg_of(image)
    frame = RecentFrame(number=40, jpeg=jpeg)
    bbox = BBox(x1=453, y1=312, x2=496, y2=432)
    events = [line_event("bench", 40, bbox, track_id=i) for i in range(ROUNDS)]
    with tempfile.TemporaryDirectory() as root:
        store = FileStore(Path(root))
        baseline = per_call_ms(lambda i: cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1))
        drawing = per_call_ms(lambda i: annotate(image, events[i]))
        snapshot = per_call_ms(lambda i: store_pictures(store, events[i], frame, with_crop=True))
    ring = RecentFrames(max_frames=300, max_bytes=64 * 1024 * 1024)
    start = time.perf_counter()
    for number in range(100_000):
        ring.add("bench", RecentFrame(number=number, jpeg=jpeg))
    ring_us = (time.perf_counter() - start) / 100_000 * 1e6
    print(f"frame 1280x720, JPEG {len(jpeg) / 1024:.0f} KiB")
    print(f"baseline  decode JPEG          {baseline:7.2f} ms")
    print(f"annotate  (box, line, caption) {drawing:7.2f} ms  ({drawing / baseline:.2f}x baseline)")
    print(
        f"snapshot  (all, 3 files)       {snapshot:7.2f} ms  ({snapshot / baseline:.2f}x baseline)"
    )
    print(f"ring add  (300 frames bound)   {ring_us:7.2f} us per frame")


if __name__ == "__main__":
    main()
