"""An envelope as the event engine reads it: the detections as plain frozen dataclasses.

The wire models of :mod:`sightline.messages.envelope` validate, dump and document every
message. Building them costs: three pydantic objects per detection took 67 of the 94 us
that decoding an envelope of ten detections took (in-process, 2026-11-28), and the engine
decodes every envelope of every camera. msgspec builds these dataclasses itself while it
decodes (see :func:`sightline.messages.fast.fast_sightings`): the whole envelope then takes
28-38 us. pydantic still reads and writes them in the engine's checkpoint. The source and
the frame stay the wire models (one each per envelope).

A :class:`Sightings` holds the same values as the :class:`DetectionEnvelope` it stands for
(:meth:`Sightings.of`); unknown keys inside a detection, which pydantic keeps, are dropped,
as the engine never read them. The frame's JPEG or reference is not kept either: the engine
never reads it (it is still validated).

Example:
    >>> from sightline.messages.envelope import DetectionEnvelope
    >>> envelope = DetectionEnvelope.model_validate({
    ...     "version": 1,
    ...     "source": {"device_id": "pi", "camera_id": "porch",
    ...                "timestamp": "2025-01-15T14:30:22Z"},
    ...     "frame": {"number": 7, "width": 640, "height": 480},
    ...     "detections": [{"track_id": 3, "class_id": 0, "class_name": "person",
    ...                     "confidence": 0.9, "bbox": {"x1": 10, "y1": 20, "x2": 30, "y2": 60},
    ...                     "center": {"x": 20, "y": 40}}]})
    >>> seen = Sightings.of(envelope)
    >>> seen.frame.number, seen.detections[0].bbox
    (7, SightingBox(x1=10.0, y1=20.0, x2=30.0, y2=60.0))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from msgspec import Meta

from sightline.messages.base import MAX_COORDINATE
from sightline.messages.envelope import Detection, DetectionEnvelope, FrameInfo, Source
from sightline.messages.geometry import BBox, Point

# The wire models' bounds, for msgspec (also the fast path's, in sightline.messages.fast).
Coordinate = Annotated[float, Meta(ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Count = Annotated[int, Meta(ge=0, le=2**63 - 1)]
"""A frame number or track id: any non-negative int that fits in 64 bits."""
ClassId = Annotated[int, Meta(ge=0, le=100_000)]
ClassName = Annotated[str, Meta(min_length=1, max_length=64)]
Confidence = Annotated[float, Meta(ge=0.0, le=1.0)]


@dataclass(frozen=True, slots=True)
class SightingPoint:
    """:class:`~sightline.messages.geometry.Point`'s values."""

    x: Coordinate
    y: Coordinate

    def model(self) -> Point:
        """The wire model (for an event)."""
        return Point(x=self.x, y=self.y)


@dataclass(frozen=True, slots=True)
class SightingBox:
    """:class:`~sightline.messages.geometry.BBox`'s values (``x1 <= x2``, ``y1 <= y2``)."""

    x1: Coordinate
    y1: Coordinate
    x2: Coordinate
    y2: Coordinate

    def model(self) -> BBox:
        """The wire model (for an event)."""
        return BBox(x1=self.x1, y1=self.y1, x2=self.x2, y2=self.y2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """:class:`~sightline.messages.envelope.Detection`'s values, in its fields' order (the
    checkpoint writes them so)."""

    track_id: Count | None = None
    class_id: ClassId
    class_name: ClassName
    confidence: Confidence
    bbox: SightingBox
    center: SightingPoint
    previous_center: SightingPoint | None = None

    @classmethod
    def of(cls, detection: Detection) -> Sighting:
        """The values of a wire model."""
        box, center, previous = detection.bbox, detection.center, detection.previous_center
        return cls(
            track_id=detection.track_id,
            class_id=detection.class_id,
            class_name=detection.class_name,
            confidence=detection.confidence,
            bbox=SightingBox(box.x1, box.y1, box.x2, box.y2),
            center=SightingPoint(center.x, center.y),
            previous_center=None if previous is None else SightingPoint(previous.x, previous.y),
        )


@dataclass(frozen=True, slots=True)
class Sightings:
    """One envelope's source, frame and detections, as the engine reads them."""

    source: Source
    frame: FrameInfo
    detections: list[Sighting] = field(default_factory=list)

    @classmethod
    def of(cls, envelope: DetectionEnvelope) -> Sightings:
        """The values of a wire envelope."""
        return cls(envelope.source, envelope.frame, [Sighting.of(d) for d in envelope.detections])
