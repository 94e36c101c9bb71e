"""What the console knows, built from MQTT messages: cameras, their latest frame and boxes,
the engine's config state per camera, the last events and their snapshots.

Handlers write from the MQTT worker thread; the HTTP threads read snapshots of it.

Example:
    >>> board = Board(events_kept=5)
    >>> board.edge_status("street", "online")
    >>> board.engine_state("street", {"camera_id": "street", "device_id": "street-pi",
    ...                               "applied": True, "error": None, "config": {}})
    >>> [c["camera_id"] for c in board.cameras(now=11.0)], board.device_of("street")
    (['street'], 'street-pi')
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sightline.messages.envelope import DetectionEnvelope
from sightline.messages.event import Event
from sightline.messages.snapshot import SnapshotAnnouncement

STALE_S = 10.0
"""A camera with no envelope for this long is shown as quiet."""


@dataclass
class Camera:
    """One camera as last heard of."""

    camera_id: str
    device_id: str | None = None
    run_id: str | None = None
    status: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    last_seen: float | None = None
    last_timestamp: str | None = None
    width: int | None = None
    height: int | None = None
    frame_number: int | None = None
    boxes: list[dict[str, Any]] = field(default_factory=list)
    jpeg: bytes | None = None
    jpeg_seq: int = 0
    jpeg_frame: int | None = None
    jpeg_boxes: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] | None = None
    envelopes: int = 0

    def summary(self, now: float) -> dict[str, Any]:
        """The camera as the page lists it."""
        age = None if self.last_seen is None else max(0.0, now - self.last_seen)
        return {
            "camera_id": self.camera_id,
            "device_id": self.device_id,
            "run_id": self.run_id,
            "status": self.status,
            "fps": self.stats.get("fps"),
            "frames": self.stats.get("frames"),
            "dropped": self.stats.get("dropped"),
            "envelopes": self.envelopes,
            "last_timestamp": self.last_timestamp,
            "age_s": None if age is None else round(age, 1),
            "live": age is not None and age < STALE_S,
            "has_frame": self.jpeg is not None,
        }

    def detail(self, now: float) -> dict[str, Any]:
        """The camera as its view draws it: frame size and number, boxes, engine state."""
        return {
            **self.summary(now),
            "width": self.width,
            "height": self.height,
            "frame_number": self.frame_number,
            "frame_seq": self.jpeg_seq,
            "frame_of": self.jpeg_frame,
            "boxes": self.boxes,
            "frame_boxes": self.jpeg_boxes,
            "engine": self.engine,
        }


def _boxes(envelope: DetectionEnvelope) -> list[dict[str, Any]]:
    return [
        {
            "track_id": d.track_id,
            "class_name": d.class_name,
            "confidence": round(d.confidence, 3),
            "bbox": [
                round(d.bbox.x1, 1),
                round(d.bbox.y1, 1),
                round(d.bbox.x2, 1),
                round(d.bbox.y2, 1),
            ],
        }
        for d in envelope.detections
    ]


class Board:
    """Thread-safe store of what the page shows."""

    def __init__(self, events_kept: int = 30) -> None:
        self._lock = threading.Lock()
        self._cameras: dict[str, Camera] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=events_kept)
        self._snapshots: dict[str, bytes] = {}
        self.event_seq = 0

    def _camera(self, camera_id: str) -> Camera:
        camera = self._cameras.get(camera_id)
        if camera is None:
            camera = self._cameras[camera_id] = Camera(camera_id)
        return camera

    # -- writers (the MQTT handler thread) ---------------------------------------------------

    def envelope(self, envelope: DetectionEnvelope, now: float) -> None:
        """A detection envelope, with or without its frame (``frame_data``)."""
        jpeg = None
        if envelope.frame_data is not None:
            try:
                jpeg = base64.b64decode(envelope.frame_data.base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("frame_data.base64: not valid base64") from None
        with self._lock:
            camera = self._camera(envelope.camera_id)
            camera.device_id = envelope.source.device_id
            run_id = envelope.source.run_id
            new_run = run_id is not None and run_id != camera.run_id
            camera.run_id = envelope.source.run_id or camera.run_id
            newer = new_run or camera.frame_number is None
            newer = newer or envelope.frame.number >= (camera.frame_number or 0)
            newer_jpeg = new_run or camera.jpeg_frame is None
            newer_jpeg = newer_jpeg or envelope.frame.number >= (camera.jpeg_frame or 0)
            if jpeg is not None and newer_jpeg:
                camera.jpeg = jpeg
                camera.jpeg_seq += 1
                camera.jpeg_frame = envelope.frame.number
                camera.jpeg_boxes = _boxes(envelope)
            if newer:
                camera.frame_number = envelope.frame.number
                camera.width, camera.height = envelope.frame.width, envelope.frame.height
                camera.boxes = _boxes(envelope)
                camera.last_timestamp = envelope.source.timestamp.isoformat()
            camera.last_seen = now
            camera.envelopes += 1

    def edge_status(self, camera_id: str, status: str) -> None:
        """``sightline/edge-publisher/<camera>/status``: online or offline."""
        with self._lock:
            self._camera(camera_id).status = status

    def edge_stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        """``sightline/edge-publisher/<camera>/stats``: fps, frames, dropped..."""
        with self._lock:
            camera = self._camera(camera_id)
            camera.stats = stats
            if isinstance(stats.get("device_id"), str):
                camera.device_id = camera.device_id or stats["device_id"]

    def engine_state(self, camera_id: str, state: dict[str, Any]) -> None:
        """``sightline/event-engine/config/<camera>/state``: the engine's effective config."""
        with self._lock:
            camera = self._camera(camera_id)
            camera.engine = state
            if isinstance(state.get("device_id"), str):
                camera.device_id = camera.device_id or state["device_id"]

    def event(self, event: Event) -> None:
        """An event the engine decided."""
        item = {
            "event_id": event.event_id,
            "event_type": str(event.event_type),
            "rule": event.rule,
            "camera_id": event.camera_id,
            "timestamp": event.timestamp.isoformat(),
            "frame_number": event.frame_number,
            "track_id": event.object.track_id,
            "class_name": event.object.class_name,
            "line": event.line.name if event.line else None,
            "direction": str(event.line.direction) if event.line else None,
            "zone": event.zone.name if event.zone else None,
            "snapshot": False,
            "snapshot_reason": None,
        }
        with self._lock:
            self.event_seq += 1
            self._events.appendleft(item)
            kept = {e["event_id"] for e in self._events}
            for gone in set(self._snapshots) - kept:
                del self._snapshots[gone]

    def snapshot(self, announcement: SnapshotAnnouncement) -> None:
        """A snapshot announcement; its ``image`` is kept for a listed event."""
        jpeg = None
        if announcement.image is not None:
            try:
                jpeg = base64.b64decode(announcement.image.base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("image.base64: not valid base64") from None
        with self._lock:
            for item in self._events:
                if item["event_id"] == announcement.event_id:
                    item["snapshot"] = jpeg is not None
                    item["snapshot_reason"] = announcement.reason
                    if jpeg is not None:
                        self._snapshots[announcement.event_id] = jpeg
                    self.event_seq += 1
                    break

    # -- readers (HTTP threads) --------------------------------------------------------------

    def cameras(self, now: float) -> list[dict[str, Any]]:
        """Every camera, by id."""
        with self._lock:
            return [self._cameras[c].summary(now) for c in sorted(self._cameras)]

    def camera(self, camera_id: str, now: float) -> dict[str, Any] | None:
        """One camera's view, or None if unknown."""
        with self._lock:
            camera = self._cameras.get(camera_id)
            return None if camera is None else camera.detail(now)

    def frame(self, camera_id: str) -> bytes | None:
        """The latest JPEG of a camera."""
        with self._lock:
            camera = self._cameras.get(camera_id)
            return None if camera is None else camera.jpeg

    def device_of(self, camera_id: str) -> str | None:
        """The device id the engine config keys this camera by."""
        with self._lock:
            camera = self._cameras.get(camera_id)
            if camera is None:
                return None
            engine_device = (camera.engine or {}).get("device_id")
            return engine_device if isinstance(engine_device, str) else camera.device_id

    def events(self) -> list[dict[str, Any]]:
        """The last events, newest first."""
        with self._lock:
            return [dict(e) for e in self._events]

    def snapshot_jpeg(self, event_id: str) -> bytes | None:
        """The annotated snapshot of a listed event."""
        with self._lock:
            return self._snapshots.get(event_id)
