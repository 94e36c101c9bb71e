"""The wire messages of ``DESIGN.md``: envelope v1, event v1, snapshot announcement, dead letter.

Example:
    >>> from sightline.messages import decode_envelope, encode
    >>> payload = (b'{"version":1,"source":{"device_id":"d","camera_id":"c",'
    ...            b'"timestamp":"2025-01-15T14:30:22.123Z"},'
    ...            b'"frame":{"number":1,"width":640,"height":480},"detections":[]}')
    >>> envelope = decode_envelope(payload)
    >>> decode_envelope(encode(envelope)) == envelope
    True
"""

from __future__ import annotations

from sightline.messages.base import MAX_FRAME_SIDE, Message, MessageLimits, Timestamp
from sightline.messages.codec import (
    decode,
    decode_envelope,
    decode_event,
    decode_sightings,
    decode_snapshot,
    encode,
)
from sightline.messages.deadletter import DeadLetter
from sightline.messages.envelope import (
    Detection,
    DetectionEnvelope,
    FrameData,
    FrameInfo,
    FrameRef,
    Roi,
    Source,
)
from sightline.messages.event import (
    Actions,
    Direction,
    Event,
    EventActions,
    EventObject,
    EventType,
    LineRef,
    ZoneRef,
    make_event_id,
)
from sightline.messages.geometry import BBox, Point
from sightline.messages.sightings import Sighting, SightingBox, SightingPoint, Sightings
from sightline.messages.snapshot import SnapshotAnnouncement, SnapshotFiles

__all__ = [
    "MAX_FRAME_SIDE",
    "Actions",
    "BBox",
    "DeadLetter",
    "Detection",
    "DetectionEnvelope",
    "Direction",
    "Event",
    "EventActions",
    "EventObject",
    "EventType",
    "FrameData",
    "FrameInfo",
    "FrameRef",
    "LineRef",
    "Message",
    "MessageLimits",
    "Point",
    "Roi",
    "Sighting",
    "SightingBox",
    "SightingPoint",
    "Sightings",
    "SnapshotAnnouncement",
    "SnapshotFiles",
    "Source",
    "Timestamp",
    "ZoneRef",
    "decode",
    "decode_envelope",
    "decode_event",
    "decode_sightings",
    "decode_snapshot",
    "encode",
    "make_event_id",
]
