"""The capture + inference loop: frames of every camera -> one model -> envelopes, non-blocking.

Each turn takes the frame waiting at every camera that is due (its own ``fps`` cap), runs
the model on them (one batch with ``detector.batch_cameras``, else one call per frame), and
hands each camera its detections: its tracker, frame numbers and topics are its own.

Example:
    >>> from threading import Event
    >>> ready = Event()
    >>> wait_for_frames(ready, [0.0, 0.01])
    False
    >>> ready.set(); wait_for_frames(ready, [0.0])
    True
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from edge_publisher.camera import Camera
from edge_publisher.detector import Detector, Found, Sighting
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.progress import ProgressLine
from edge_publisher.source import STOP_WAIT_S, CapturedFrame
from sightline.health import Heartbeat

log = logging.getLogger(__name__)

DROP_REPORT_EVERY_S = 5.0
IDLE_WAIT_S = 0.5


def wait_for_frames(ready: threading.Event, due_in: list[float]) -> bool:
    """Wait until a reader signals a frame, the next paced camera is due (``due_in``: seconds
    per camera, 0 when due) or :data:`IDLE_WAIT_S` passed; return whether a reader signalled."""
    return ready.wait(min([IDLE_WAIT_S, *[s for s in due_in if s > 0]]))


@dataclass
class EdgeLoop:
    """Runs until every camera's source ends or has its ``max_frames``, or ``stopping`` is set."""

    cameras: list[Camera]
    detector: Detector
    metrics: EdgeMetrics
    heartbeat: Heartbeat
    stopping: threading.Event
    frame_ready: threading.Event
    batch: bool = False
    progress: ProgressLine | None = None

    def __post_init__(self) -> None:
        self._reported: dict[tuple[str, str], int] = {}

    @property
    def processed(self) -> int:
        """Frames processed, all cameras together."""
        return sum(camera.processed for camera in self.cameras)

    def __call__(self) -> None:
        """Run the loop (the service's main loop)."""
        for camera in self.cameras:
            camera.start()
        last_report = time.monotonic()
        try:
            while not self.stopping.is_set():
                self.heartbeat.beat()
                active = [camera for camera in self.cameras if not camera.finished()]
                if not active:
                    break
                for camera in active:
                    camera.publish_stats()
                self.frame_ready.clear()
                now = time.monotonic()
                taken = [(c, f) for c in active if (f := c.take(now)) is not None]
                self._gauges()
                if not taken:
                    wait_for_frames(self.frame_ready, [c.pace.wait_s(now) for c in active])
                    continue
                self._run(taken)
                if time.monotonic() - last_report >= DROP_REPORT_EVERY_S:
                    last_report = time.monotonic()
                    self._report_drops()
        finally:
            for camera in self.cameras:  # all readers at once: hung ones wait together
                camera.reader.request_stop()
            deadline = time.monotonic() + STOP_WAIT_S
            for camera in self.cameras:
                camera.stop(max(0.0, deadline - time.monotonic()))
            if self.progress is not None:
                self.progress.close()
            self._report_drops()
            for camera in self.cameras:
                camera.publish_stats(final=True)

    def _run(self, taken: list[tuple[Camera, CapturedFrame]]) -> None:
        crops = [camera.crop(frame) for camera, frame in taken]
        started = time.perf_counter()
        if self.batch and len(crops) > 1:
            found = self.detector.detect(crops)
        else:
            found = [self.detector.detect([crop])[0] for crop in crops]
        per_frame = (time.perf_counter() - started) / len(crops)
        for (camera, frame), detections in zip(taken, found, strict=True):
            sightings = camera.process(frame, detections)
            self.metrics.inference_seconds.observe(per_frame + camera.track_seconds)
            self._count(sightings)

    def _gauges(self) -> None:
        self.metrics.observe_source(
            sum(c.reader.stale_dropped for c in self.cameras),
            sum(c.reader.reconnects for c in self.cameras),
        )

    def _count(self, sightings: list[Sighting]) -> None:
        self.metrics.frames_processed.inc()
        self.metrics.count_classes(s.class_name for s in sightings)
        self.metrics.tracks_remembered.set(sum(len(c.memory) for c in self.cameras))
        if self.progress is not None:
            self.progress.update(self.processed)

    def _report_drops(self) -> None:
        for camera in self.cameras:
            key = (camera.camera_id, "jpeg")
            skipped = camera.encoder.dropped
            self.metrics.frames_skipped.labels("encoder_busy").inc(
                skipped - self._reported.get(key, 0)
            )
            self._reported[key] = skipped
            dropped = dict(camera.client.outbox.dropped)
            if any(dropped[k] != self._reported.get((camera.camera_id, k), 0) for k in dropped):
                log.warning(
                    "publish queue full: dropped %d envelopes and %d frames so far (camera %s)",
                    dropped["essential"],
                    dropped["droppable"],
                    camera.camera_id,
                    extra={
                        "camera_id": camera.camera_id,
                        "publish_dropped": dropped,
                        "queued": len(camera.client.outbox),
                    },
                )
                self._reported.update({(camera.camera_id, k): v for k, v in dropped.items()})


__all__ = ["EdgeLoop", "Found", "wait_for_frames"]
