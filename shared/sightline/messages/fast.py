"""A fast path for decoding detection envelopes: msgspec, with pydantic as the judge.

``decode_envelope`` is on the engine's hot path (one call per envelope). pydantic's
``model_validate_json`` plus our validators cost ~10x what msgspec's typed decoding does, so
:func:`fast_envelope` tries msgspec first, with a schema that accepts **no more** than the
pydantic models of :mod:`sightline.messages.envelope`:

* strict types (no ``"5"`` for 5, no ``5.0`` for an int, no ``true`` for a number), the same
  bounds (``ge``/``le``/``gt``, string lengths), ints within 64 bits;
* no unknown keys (pydantic keeps them; the fast path leaves such envelopes to pydantic);
* ``version`` present and 1; a timestamp only in the plain RFC 3339 form
  ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``; every id by the one id rule; the detections
  within ``limits``; boxes ordered as the models' own validators require.

It then builds the very objects pydantic would (same values and types, same fields set, no
extras). Anything else (any msgspec error, anything unusual) returns None and the caller
goes the pydantic way, so every refusal, and its wording in a dead letter, stays pydantic's.
``tests/sightline/test_fast_decode.py`` checks both paths agree, envelope for envelope.

Example:
    >>> payload = (b'{"version":1,"source":{"device_id":"d","camera_id":"c",'
    ...            b'"timestamp":"2025-01-15T14:30:22.123Z"},'
    ...            b'"frame":{"number":1,"width":640,"height":480},"detections":[]}')
    >>> fast_envelope(payload, MessageLimits()).frame.number
    1
    >>> fast_envelope(b'{"version": 2}', MessageLimits()) is None  # pydantic says why
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType
from pydantic import BaseModel

from sightline.ids import MAX_ID_LENGTH, is_valid_id
from sightline.messages.base import MAX_FRAME_SIDE, MessageLimits
from sightline.messages.envelope import (
    Detection,
    DetectionEnvelope,
    FrameData,
    FrameInfo,
    FrameRef,
    Roi,
    Source,
)
from sightline.messages.geometry import BBox, Point
from sightline.messages.sightings import (
    ClassId,
    ClassName,
    Confidence,
    Coordinate,
    Count,
    Sighting,
    Sightings,
)

__all__ = ["fast_envelope", "fast_sightings"]

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D")

Side = Annotated[int, Meta(gt=0, le=MAX_FRAME_SIDE)]
RoiEdge = Annotated[int, Meta(ge=0, le=MAX_FRAME_SIDE)]
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]


class _Struct(msgspec.Struct, forbid_unknown_fields=True):
    pass


class _Point(_Struct):
    x: Coordinate
    y: Coordinate


class _BBox(_Struct):
    x1: Coordinate
    y1: Coordinate
    x2: Coordinate
    y2: Coordinate


class _Roi(_Struct):
    x1: RoiEdge
    y1: RoiEdge
    x2: RoiEdge
    y2: RoiEdge


class _Source(_Struct):
    device_id: Id
    camera_id: Id
    timestamp: str
    run_id: Id | UnsetType | None = UNSET


class _FrameInfo(_Struct):
    number: Count
    width: Side
    height: Side
    roi_applied: _Roi | UnsetType | None = UNSET


class _Detection(_Struct):
    class_id: ClassId
    class_name: ClassName
    confidence: Confidence
    bbox: _BBox
    center: _Point
    track_id: Count | UnsetType | None = UNSET
    previous_center: _Point | UnsetType | None = UNSET


class _FrameData(_Struct):
    base64: Annotated[str, Meta(min_length=1)]
    encoding: Literal["jpeg"] | UnsetType = UNSET
    quality: Annotated[int, Meta(ge=1, le=100)] | UnsetType = UNSET


class _FrameRef(_Struct):
    type: Literal["s3", "file"]
    key: Annotated[str, Meta(min_length=1, max_length=1024)]
    bucket: str | UnsetType | None = UNSET


class _Envelope(_Struct, Generic[D]):
    version: Literal[1]
    source: _Source
    frame: _FrameInfo
    detections: list[D] | UnsetType = UNSET
    frame_data: _FrameData | UnsetType | None = UNSET
    frame_ref: _FrameRef | UnsetType | None = UNSET


_DECODER = msgspec.json.Decoder(_Envelope[_Detection])
_SIGHTINGS = msgspec.json.Decoder(_Envelope[Sighting])
"""The engine's: the detections as :class:`Sighting` dataclasses, which msgspec builds
itself (unknown keys inside a detection dropped: pydantic keeps them, and the engine never
reads them)."""

_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_VALID_IDS: set[str] = set()
_MAX_CACHED_IDS = 4096


class _Unusual(Exception):
    """Not for the fast path: let pydantic decide (and word any refusal)."""


def fast_envelope(payload: bytes | str, limits: MessageLimits) -> DetectionEnvelope | None:
    """The envelope in ``payload``, exactly as ``decode(DetectionEnvelope, ...)`` would
    return it; None when the fast path cannot vouch for it (then ask pydantic)."""
    return _vouched(payload, limits, _read_envelope)


def fast_sightings(payload: bytes | str, limits: MessageLimits) -> Sightings | None:
    """The envelope in ``payload`` as ``Sightings.of(decode(DetectionEnvelope, ...))`` would
    give it; None when the fast path cannot vouch for it (then ask pydantic)."""
    return _vouched(payload, limits, _read_sightings)


R = TypeVar("R")


def _vouched(
    payload: bytes | str, limits: MessageLimits, read: Callable[[bytes | str, MessageLimits], R]
) -> R | None:
    """``read(payload, limits)``, or None if anything about it is unusual."""
    size = len(payload)
    if size == 0 or size > limits.max_payload_bytes:
        return None
    try:
        return read(payload, limits)
    except Exception:  # msgspec's refusals, _Unusual, anything else: pydantic decides
        return None


def _read_envelope(payload: bytes | str, limits: MessageLimits) -> DetectionEnvelope:
    return _envelope(_DECODER.decode(payload), limits)


def _read_sightings(payload: bytes | str, limits: MessageLimits) -> Sightings:
    raw = _SIGHTINGS.decode(payload)
    detections: list[Sighting] = [] if raw.detections is UNSET else raw.detections
    if len(detections) > limits.max_detections:
        raise _Unusual
    for detection in detections:
        box = detection.bbox
        if box.x2 < box.x1 or box.y2 < box.y1:
            raise _Unusual  # the order BBox's validator requires
    if isinstance(raw.frame_ref, _FrameRef) and not raw.frame_ref.key.isprintable():
        raise _Unusual  # as _frame_ref
    return Sightings(_source(raw.source), _frame(raw.frame), detections)


_new = object.__new__
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__
"""A model's slots set through their descriptors: what ``object.__setattr__`` does for them
(a frozen model refuses its own ``__setattr__``), without looking each name up again."""


def _make(cls: type[M], values: dict[str, Any], given: set[str]) -> M:
    """``cls`` holding ``values`` (already valid) as pydantic's validation leaves it."""
    model = _new(cls)
    _set_dict(model, values)
    _set_fields_set(model, given)
    _set_extra(model, {})
    _set_private(model, None)
    return model


def _id(value: str) -> str:
    if value in _VALID_IDS:
        return value
    if not is_valid_id(value):
        raise _Unusual
    if len(_VALID_IDS) >= _MAX_CACHED_IDS:  # bounded: ids are the senders' to choose
        _VALID_IDS.clear()
    _VALID_IDS.add(value)
    return value


def _timestamp(text: str) -> datetime:
    if _TIMESTAMP.fullmatch(text) is None:
        raise _Unusual
    return datetime.fromisoformat(text).astimezone(UTC)  # ValueError, OverflowError: unusual


_XY = frozenset({"x", "y"})


def _point(raw: _Point) -> Point:
    return _make(Point, {"x": raw.x, "y": raw.y}, set(_XY))


_BOX_FIELDS = frozenset({"x1", "y1", "x2", "y2"})


def _roi(raw: _Roi) -> Roi:
    if raw.x2 <= raw.x1 or raw.y2 <= raw.y1:
        raise _Unusual
    values = {"x1": raw.x1, "y1": raw.y1, "x2": raw.x2, "y2": raw.y2}
    return _make(Roi, values, set(_BOX_FIELDS))


def _source(raw: _Source) -> Source:
    given = {"device_id", "camera_id", "timestamp"}
    run_id = None
    if raw.run_id is not UNSET:
        given.add("run_id")
        run_id = None if raw.run_id is None else _id(raw.run_id)
    values = {
        "device_id": _id(raw.device_id),
        "camera_id": _id(raw.camera_id),
        "timestamp": _timestamp(raw.timestamp),
        "run_id": run_id,
    }
    return _make(Source, values, given)


def _frame(raw: _FrameInfo) -> FrameInfo:
    given = {"number", "width", "height"}
    roi = None
    if raw.roi_applied is not UNSET:
        given.add("roi_applied")
        roi = None if raw.roi_applied is None else _roi(raw.roi_applied)
    values = {"number": raw.number, "width": raw.width, "height": raw.height, "roi_applied": roi}
    return _make(FrameInfo, values, given)


_DETECTION_FIELDS = frozenset({"class_id", "class_name", "confidence", "bbox", "center"})


def _detection(raw: _Detection) -> Detection:
    # The hottest loop (every detection of every envelope): the models built inline.
    given = set(_DETECTION_FIELDS)
    track_id = previous = None
    if raw.track_id is not UNSET:
        given.add("track_id")
        track_id = raw.track_id
    if raw.previous_center is not UNSET:
        given.add("previous_center")
        if raw.previous_center is not None:
            previous = _point(raw.previous_center)
    box = raw.bbox
    x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
    if x2 < x1 or y2 < y1:
        raise _Unusual
    bbox = _new(BBox)
    _set_dict(bbox, {"x1": x1, "y1": y1, "x2": x2, "y2": y2})
    _set_fields_set(bbox, set(_BOX_FIELDS))
    _set_extra(bbox, {})
    _set_private(bbox, None)
    raw_center = raw.center
    center = _new(Point)
    _set_dict(center, {"x": raw_center.x, "y": raw_center.y})
    _set_fields_set(center, set(_XY))
    _set_extra(center, {})
    _set_private(center, None)
    detection = _new(Detection)
    _set_dict(
        detection,
        {
            "track_id": track_id,
            "class_id": raw.class_id,
            "class_name": raw.class_name,
            "confidence": raw.confidence,
            "bbox": bbox,
            "center": center,
            "previous_center": previous,
        },
    )
    _set_fields_set(detection, given)
    _set_extra(detection, {})
    _set_private(detection, None)
    return detection


def _frame_data(raw: _FrameData) -> FrameData:
    given = {"base64"}
    encoding, quality = "jpeg", 85
    if raw.encoding is not UNSET:
        given.add("encoding")
        encoding = raw.encoding
    if raw.quality is not UNSET:
        given.add("quality")
        quality = raw.quality
    values = {"encoding": encoding, "quality": quality, "base64": raw.base64}
    return _make(FrameData, values, given)


def _frame_ref(raw: _FrameRef) -> FrameRef:
    if not raw.key.isprintable():
        raise _Unusual  # a control character, perhaps: pydantic names it
    given = {"type", "key"}
    bucket = None
    if raw.bucket is not UNSET:
        given.add("bucket")
        bucket = raw.bucket
    return _make(FrameRef, {"type": raw.type, "bucket": bucket, "key": raw.key}, given)


def _envelope(raw: _Envelope[_Detection], limits: MessageLimits) -> DetectionEnvelope:
    given = {"version", "source", "frame"}
    detections: list[Detection] = []
    if raw.detections is not UNSET:
        given.add("detections")
        if len(raw.detections) > limits.max_detections:
            raise _Unusual
        detections = [_detection(d) for d in raw.detections]
    frame_data = frame_ref = None
    if raw.frame_data is not UNSET:
        given.add("frame_data")
        frame_data = None if raw.frame_data is None else _frame_data(raw.frame_data)
    if raw.frame_ref is not UNSET:
        given.add("frame_ref")
        frame_ref = None if raw.frame_ref is None else _frame_ref(raw.frame_ref)
    values = {
        "version": 1,
        "source": _source(raw.source),
        "frame": _frame(raw.frame),
        "detections": detections,
        "frame_data": frame_data,
        "frame_ref": frame_ref,
    }
    return _make(DetectionEnvelope, values, given)
