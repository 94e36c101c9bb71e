"""Detection envelope v1 from one processed frame.

Example:
    >>> from datetime import UTC, datetime
    >>> moment = datetime(2025, 1, 15, tzinfo=UTC)
    >>> stamp = FrameStamp("jetson-01", "driveway", 0, 3, moment, "20250115T000000Z-3f9a2c")
    >>> envelope = build_envelope(stamp, RegionOfInterest.full(640, 480), 640, 480, [], {})
    >>> envelope.frame.number, envelope.frame.model_extra, envelope.source.run_id
    (0, {'source_frame': 3}, '20250115T000000Z-3f9a2c')

On the camera's hot path the envelope is built as a plain document and encoded with the
standard library (:func:`envelope_document`, :func:`document_bytes`): the same bytes as
``encode(build_envelope(...))``, at a fraction of the cost; values a model would refuse fall
back to :func:`build_envelope`, which raises naming the field.

    >>> from sightline.messages import encode
    >>> sightings = [Sighting(3, 0, "person", 0.81234, (10.04, 20.0, 50.0, 120.0))]
    >>> args = (stamp, RegionOfInterest.full(640, 480), 640, 480, sightings, {3: (1.0, 2.5)})
    >>> document_bytes(envelope_document(*args)) == encode(build_envelope(*args))
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge_publisher.detector import RegionOfInterest, Sighting
from edge_publisher.tracks import Center
from sightline.messages import (
    BBox,
    Detection,
    DetectionEnvelope,
    FrameInfo,
    Point,
    Roi,
    Source,
)
from sightline.messages.base import MAX_COORDINATE
from sightline.timestamps import format_timestamp


@dataclass(frozen=True)
class FrameStamp:
    """Who saw a frame, its number in this run, its index in the source, capture time, and
    the run (see :func:`edge_publisher.run.new_run_id`)."""

    device_id: str
    camera_id: str
    number: int
    source_frame: int
    timestamp: datetime
    run_id: str | None = None


def _detection(sighting: Sighting, previous: Center | None) -> Detection:
    x1, y1, x2, y2 = (round(v, 1) for v in sighting.box)
    bbox = BBox(x1=x1, y1=y1, x2=x2, y2=y2)
    return Detection(
        track_id=sighting.track_id,
        class_id=sighting.class_id,
        class_name=sighting.class_name,
        confidence=round(sighting.confidence, 4),
        bbox=bbox,
        center=bbox.center,
        previous_center=None if previous is None else Point(x=previous[0], y=previous[1]),
    )


def strongest(sightings: Sequence[Sighting], limit: int) -> list[Sighting]:
    """At most ``limit`` sightings, the most confident, in their original order.

    An envelope may carry at most ``max_detections``; a crowd beyond that keeps its
    clearest members rather than making the frame's envelope invalid.
    """
    if len(sightings) <= limit:
        return list(sightings)
    keep = set(sorted(range(len(sightings)), key=lambda i: -sightings[i].confidence)[:limit])
    return [s for i, s in enumerate(sightings) if i in keep]


def centers_of(sightings: Sequence[Sighting]) -> dict[int, Center]:
    """Box centers of the tracked sightings, by track id (rounded as in the envelope)."""
    centers: dict[int, Center] = {}
    for sighting in sightings:
        if sighting.track_id is not None:
            x1, y1, x2, y2 = (round(v, 1) for v in sighting.box)
            centers[sighting.track_id] = ((x1 + x2) / 2, (y1 + y2) / 2)
    return centers


def build_envelope(
    stamp: FrameStamp,
    region: RegionOfInterest,
    width: int,
    height: int,
    sightings: Sequence[Sighting],
    previous: Mapping[int, Center | None],
) -> DetectionEnvelope:
    """The envelope of one frame; ``previous`` maps track ids to their last center."""
    frame = FrameInfo.model_validate(
        {
            "number": stamp.number,
            "width": width,
            "height": height,
            "roi_applied": Roi(x1=region.x1, y1=region.y1, x2=region.x2, y2=region.y2),
            "source_frame": stamp.source_frame,
        }
    )
    return DetectionEnvelope(
        source=Source(
            device_id=stamp.device_id,
            camera_id=stamp.camera_id,
            timestamp=stamp.timestamp,
            run_id=stamp.run_id,
        ),
        frame=frame,
        detections=[
            _detection(s, None if s.track_id is None else previous.get(s.track_id))
            for s in sightings
        ],
    )


def _plain(sighting: Sighting, previous: Center | None) -> dict[str, Any] | None:
    """A detection as the document :class:`Detection` would encode, or None when a value
    is one the model refuses (the caller then builds the model and gets its error)."""
    x1, y1, x2, y2 = (float(round(v, 1)) for v in sighting.box)
    numbers = (x1, y1, x2, y2, *(previous or ()))
    if not all(math.isfinite(v) and -MAX_COORDINATE <= v <= MAX_COORDINATE for v in numbers):
        return None
    if x2 < x1 or y2 < y1 or not 1 <= len(sighting.class_name) <= 64:
        return None
    if sighting.track_id is not None and sighting.track_id < 0:
        return None
    if not 0 <= sighting.class_id <= 100_000 or not 0.0 <= sighting.confidence <= 1.0:
        return None
    return {
        "track_id": sighting.track_id,
        "class_id": sighting.class_id,
        "class_name": sighting.class_name,
        "confidence": round(float(sighting.confidence), 4),
        "bbox": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
        "center": {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2},
        "previous_center": (
            None if previous is None else {"x": float(previous[0]), "y": float(previous[1])}
        ),
    }


def envelope_document(
    stamp: FrameStamp,
    region: RegionOfInterest,
    width: int,
    height: int,
    sightings: Sequence[Sighting],
    previous: Mapping[int, Center | None],
) -> dict[str, Any]:
    """The envelope of one frame as a JSON-ready document, field for field what
    :func:`build_envelope` encodes to.

    Raises:
        pydantic.ValidationError: a value the envelope model refuses (naming the field).
    """
    detections = []
    for s in sightings:
        plain = _plain(s, None if s.track_id is None else previous.get(s.track_id))
        if plain is None:  # let the model say what is wrong
            build_envelope(stamp, region, width, height, sightings, previous)
            raise ValueError(f"detection {s} is not valid")  # pragma: no cover
        detections.append(plain)
    return {
        "version": 1,
        "source": {
            "device_id": stamp.device_id,
            "camera_id": stamp.camera_id,
            "timestamp": format_timestamp(stamp.timestamp),
            "run_id": stamp.run_id,
        },
        "frame": {
            "number": stamp.number,
            "width": width,
            "height": height,
            "roi_applied": {"x1": region.x1, "y1": region.y1, "x2": region.x2, "y2": region.y2},
            "source_frame": stamp.source_frame,
        },
        "detections": detections,
        "frame_data": None,
        "frame_ref": None,
    }


def document_bytes(document: Mapping[str, Any]) -> bytes:
    """Compact JSON of an envelope document, as :func:`sightline.messages.encode` writes it.

    Raises:
        ValueError: a NaN or infinite number.
    """
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
