"""JPEG frames for the frame-store: which frames to send, and encoding them off the loop.

Example:
    >>> from sightline.config.edge import FramePublishConfig
    >>> gate = FrameGate(FramePublishConfig(interval_s=1.0, on_detection=False))
    >>> [gate.admit(t, has_detections=False) for t in (0.0, 0.5, 1.0)]
    [True, False, True]
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from edge_publisher.envelope import document_bytes
from edge_publisher.source import Image
from sightline.config.edge import FramePublishConfig
from sightline.messages import DetectionEnvelope, FrameData
from sightline.threads import start_critical

log = logging.getLogger(__name__)


class FrameGate:
    """Rate limit: one frame per ``interval_s``, plus detection-bearing frames when
    ``on_detection`` is set, never two closer than ``min_interval_s``."""

    def __init__(self, config: FramePublishConfig) -> None:
        self.config = config
        self._last: float | None = None

    def admit(self, now: float, has_detections: bool) -> bool:
        """Whether the frame seen at monotonic time ``now`` is to be published."""
        if not self.config.enabled:
            return False
        since = None if self._last is None else now - self._last
        if since is not None and since < self.config.min_interval_s:
            return False
        due = since is None or since >= self.config.interval_s
        if due or (self.config.on_detection and has_detections):
            self._last = now
            return True
        return False


def encode_jpeg(image: Image, quality: int, max_width: int | None) -> bytes:
    """``image`` as JPEG, downscaled to ``max_width`` if it is wider.

    Raises:
        ValueError: OpenCV could not encode the image.
    """
    if max_width is not None and image.shape[1] > max_width:
        height = round(image.shape[0] * max_width / image.shape[1])
        resized = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
        image = np.asarray(resized, np.uint8)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG")
    return bytes(buffer.tobytes())


def with_frame_data(envelope: DetectionEnvelope, jpeg: bytes, quality: int) -> DetectionEnvelope:
    """The same envelope plus its JPEG, base64-encoded."""
    data = FrameData(quality=quality, base64=base64.b64encode(jpeg).decode("ascii"))
    return envelope.model_copy(update={"frame_data": data})


_EMPTY_BASE64 = b'"base64":""'


def frame_payload(document: Mapping[str, Any], jpeg: bytes, quality: int) -> bytes:
    """An envelope document (:func:`edge_publisher.envelope.envelope_document`) plus its JPEG,
    base64-encoded, as wire bytes: what ``encode(with_frame_data(...))`` gives.

    The base64 text (~110 KB for a 720p frame) is spliced in as bytes: JSON has nothing to
    escape in it, and encoding it as a JSON string cost a quarter of the JPEG encoding.

    Example:
        >>> frame_payload({"frame_data": None, "frame_ref": None}, b"jpg", 80)
        b'{"frame_data":{"encoding":"jpeg","quality":80,"base64":"anBn"},"frame_ref":null}'
    """
    data = {"encoding": "jpeg", "quality": quality, "base64": ""}
    # The key "base64" occurs nowhere else in an envelope, and a string's quotes are escaped.
    head, tail = document_bytes({**document, "frame_data": data}).split(_EMPTY_BASE64, 1)
    return b"".join((head, b'"base64":"', base64.b64encode(jpeg), b'"', tail))


def lower_priority(increment: int) -> bool:
    """Run the calling thread ``increment`` nice levels lower (Linux: per thread); False
    where the system does not allow it.

    Example:
        >>> lower_priority(0)
        True
    """
    if increment == 0:
        return True
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + increment)
    except (OSError, AttributeError):
        return False
    return True


class FrameEncoder:
    """Encodes admitted frames in a thread and hands the result to ``publish``.

    When the encoder is still busy with earlier frames, a new one is dropped and counted,
    so the loop never waits for JPEG encoding.
    """

    def __init__(
        self,
        config: FramePublishConfig,
        publish: Callable[[bytes], None],
        backlog: int = 2,
        name: str = "jpeg-encoder",
    ) -> None:
        self.config = config
        self.publish = publish
        self.dropped = 0
        self.encoded = 0
        self.jpeg_bytes = 0
        self._queue: queue.Queue[tuple[Mapping[str, Any], Image] | None] = queue.Queue(backlog)
        self.name = name
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the encoder thread (critical: its death ends the process)."""
        self._thread = start_critical(self._run, self.name)

    def submit(self, document: Mapping[str, Any], image: Image) -> None:
        """Queue a frame (its envelope document, not to be changed any more) for encoding,
        or drop it when the encoder is behind."""
        try:
            self._queue.put_nowait((document, image))
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        """Encode what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(10.0)

    def _run(self) -> None:
        lower_priority(self.config.encoder_niceness)
        while (item := self._queue.get()) is not None:
            document, image = item
            try:
                jpeg = encode_jpeg(image, self.config.jpeg_quality, self.config.max_width)
            except ValueError:
                log.exception("frame %d not published", document["frame"]["number"])
                continue
            self.jpeg_bytes += len(jpeg)
            self.encoded += 1
            self.publish(frame_payload(document, jpeg, self.config.jpeg_quality))
