"""Detection envelope v1 from one processed frame.

Example:
    >>> from datetime import UTC, datetime
    >>> moment = datetime(2025, 1, 15, tzinfo=UTC)
    >>> stamp = FrameStamp("jetson-01", "driveway", 0, 3, moment, "20250115T000000Z-3f9a2c")
    >>> envelope = build_envelope(stamp, RegionOfInterest.full(640, 480), 640, 480, [], {})
    >>> envelope.frame.number, envelope.frame.model_extra, envelope.source.run_id
    (0, {'source_frame': 3}, '20250115T000000Z-3f9a2c')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from edge_publisher.detector import RegionOfInterest, Sighting
from edge_publisher.tracks import Center
from sightline.messages import BBox, Detection, DetectionEnvelope, FrameInfo, Point, Roi, Source


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
