"""Hand-written tracks for the engine's tests: boxes per frame, turned into real envelopes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from event_engine.engine import Engine
from sightline.config import EngineSettings
from sightline.messages import DetectionEnvelope
from sightline.messages.event import Event

T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)
FRAME_S = 0.04
WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True)
class Box:
    """One detection: a track (or None), its box and class."""

    track_id: int | None
    x1: float
    y1: float
    x2: float
    y2: float
    class_name: str = "person"
    confidence: float = 0.9

    @classmethod
    def at_foot(cls, track_id: int | None, x: float, y: float, **kwargs: Any) -> Box:
        """A 40x100 box whose bottom centre is ``(x, y)``."""
        return cls(track_id, x - 20, y - 100, x + 20, y, **kwargs)


def envelope(
    number: int,
    boxes: list[Box],
    *,
    seconds: float | None = None,
    device: str = "pi",
    camera: str = "cam",
) -> DetectionEnvelope:
    """The envelope of frame ``number`` (at ``seconds``, default 40 ms per frame)."""
    moment = T0 + timedelta(seconds=number * FRAME_S if seconds is None else seconds)
    return DetectionEnvelope.model_validate(
        {
            "version": 1,
            "source": {"device_id": device, "camera_id": camera, "timestamp": moment},
            "frame": {"number": number, "width": WIDTH, "height": HEIGHT},
            "detections": [
                {
                    "track_id": b.track_id,
                    "class_id": 0,
                    "class_name": b.class_name,
                    "confidence": b.confidence,
                    "bbox": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
                    "center": {"x": (b.x1 + b.x2) / 2, "y": (b.y1 + b.y2) / 2},
                }
                for b in boxes
            ],
        }
    )


def walk(track_id: int, points: Sequence[tuple[float, float]], **kwargs: Any) -> list[list[Box]]:
    """One box per frame whose foot follows ``points``."""
    return [[Box.at_foot(track_id, x, y, **kwargs)] for x, y in points]


def settings(device: dict[str, Any], **extra: Any) -> EngineSettings:
    """Engine settings with one device ``pi`` (camera ``cam``)."""
    return EngineSettings.model_validate(
        {"devices": {"pi": {"camera_id": "cam", **device}}, **extra}
    )


def rule(name: str, event_type: str, **match: Any) -> dict[str, Any]:
    """A rule entry of ``events:``."""
    return {"name": name, "match": {"event_type": event_type, **match}}


def run(engine: Engine, frames: list[list[Box]], start: int = 0, **kwargs: Any) -> list[Event]:
    """Feed one envelope per entry of ``frames`` (numbered from ``start``); the events."""
    events: list[Event] = []
    for offset, boxes in enumerate(frames):
        events += engine.process(envelope(start + offset, boxes, **kwargs)).events
    return events


def summary(events: list[Event]) -> list[tuple[str, int, str]]:
    """``(event type, track id, direction or zone reason)`` per event."""
    return [
        (
            str(e.event_type),
            e.object.track_id,
            str(e.line.direction) if e.line else str(e.zone.reason if e.zone else ""),
        )
        for e in events
    ]
