"""msgspec's fast paths and pydantic decode every envelope to the same result.

``decode_envelope`` and the engine's ``decode_sightings`` try :mod:`sightline.messages.fast`
first. These tables prove the paths agree: where a fast path answers, pydantic returns the
very same objects (values, types, fields set, extras; for the engine, the same values as
``Sightings.of`` reads from pydantic's envelope); where it does not, pydantic decides, so
refusals (and the words a dead letter carries) are pydantic's, word for word. Each row also
says which path a payload takes, so a fast path cannot quietly stop taking the ordinary
envelopes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

from sightline.errors import MessageError
from sightline.messages import (
    DetectionEnvelope,
    MessageLimits,
    Sightings,
    decode,
    decode_envelope,
    decode_sightings,
)
from sightline.messages.fast import fast_envelope, fast_sightings
from tests.sightline.test_messages import SEED_ENVELOPE
from tests.sightline.test_parser_properties import _mutations
from tests.support.dotted import set_dotted

LIMITS = MessageLimits()
FAST, PYDANTIC = "fast", "pydantic"


def changed(path: str, value: Any, base: dict[str, Any] = SEED_ENVELOPE) -> bytes:
    """The seed envelope with one value (dotted path) replaced."""
    return json.dumps(set_dotted(copy.deepcopy(base), path, value)).encode()


def without(path: str) -> bytes:
    """The seed envelope without the key at ``path``."""
    data = copy.deepcopy(SEED_ENVELOPE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]
    return json.dumps(data).encode()


def raw(text: str) -> bytes:
    """The seed envelope's JSON with ``"x": 250`` (the centre's x) replaced by ``text``."""
    return json.dumps(SEED_ENVELOPE).replace('"x": 250', f'"x": {text}').encode()


def with_extras(**extras: Any) -> bytes:
    data = copy.deepcopy(SEED_ENVELOPE)
    data.update(extras)
    return json.dumps(data).encode()


FRAME_DATA = {"encoding": "jpeg", "quality": 85, "base64": "/9j/4AAQ"}
MINIMAL = (
    b'{"version":1,"source":{"device_id":"d","camera_id":"c",'
    b'"timestamp":"2025-01-15T14:30:22.123Z"},"frame":{"number":1,"width":640,"height":480}}'
)

VALID: list[tuple[str, bytes | str]] = [
    ("seed", json.dumps(SEED_ENVELOPE).encode()),
    ("seed as text", json.dumps(SEED_ENVELOPE)),
    ("seed, spaced out", json.dumps(SEED_ENVELOPE, indent=4).encode() + b"\n"),
    ("no detections key", MINIMAL),
    ("no detections", changed("detections", [])),
    ("no roi", without("frame.roi_applied")),
    ("roi null", changed("frame.roi_applied", None)),
    ("no previous centre", without("detections.0.previous_center")),
    ("previous centre null", changed("detections.0.previous_center", None)),
    ("no track id", without("detections.0.track_id")),
    ("track id null", changed("detections.0.track_id", None)),
    ("run id", changed("source.run_id", "run-7f3a")),
    ("run id null", changed("source.run_id", None)),
    ("frame data", changed("frame_data", FRAME_DATA)),
    ("frame data, defaults", changed("frame_data", {"base64": "/9j/"})),
    ("frame data null", changed("frame_data", None)),
    ("frame ref", changed("frame_ref", {"type": "s3", "bucket": "b", "key": "a/b.jpg"})),
    ("frame ref, no bucket", changed("frame_ref", {"type": "file", "key": "a.jpg"})),
    ("frame ref, bucket null", changed("frame_ref", {"type": "file", "bucket": None, "key": "k"})),
    ("frame ref, unicode key", changed("frame_ref", {"type": "s3", "key": "Süd/Straße.jpg"})),
    ("frame 0", changed("frame.number", 0)),
    ("frame 2**62", changed("frame.number", 2**62)),
    ("frame 2**63-1", changed("frame.number", 2**63 - 1)),
    ("track id 2**63-1", changed("detections.0.track_id", 2**63 - 1)),
    ("16K frame", changed("frame.width", 16_384)),
    ("1x1 frame", changed("frame", {"number": 3, "width": 1, "height": 1})),
    ("class 100000", changed("detections.0.class_id", 100_000)),
    ("class name 64", changed("detections.0.class_name", "c" * 64)),
    ("class name unicode", changed("detections.0.class_name", "Fußgänger 🚶")),
    ("confidence 0", changed("detections.0.confidence", 0)),
    ("confidence 1.0", changed("detections.0.confidence", 1.0)),
    ("coordinate at the bound", raw("100000")),
    ("coordinate at the negative bound", raw("-100000.0")),
    ("coordinate exponent", raw("1E2")),
    ("coordinate tiny", raw("1e-300")),
    ("coordinate -0.0", raw("-0.0")),
    ("coordinate long digits", raw("0.30000000000000004")),
    ("coordinate 17 digits", raw("250.12345678901234567")),
    ("id 64", changed("source.camera_id", "c" * 64)),
    ("id with dot", changed("source.camera_id", "front.door")),
    ("id escaped", MINIMAL.replace(b'"c"', b'"\\u0063am"')),
    ("duplicate keys", MINIMAL.replace(b'"number":1', b'"number":1,"number":2')),
    ("timestamp Z", changed("source.timestamp", "2025-01-15T14:30:22Z")),
    ("timestamp .1", changed("source.timestamp", "2025-01-15T14:30:22.1Z")),
    ("timestamp us", changed("source.timestamp", "2025-01-15T14:30:22.123456Z")),
    ("timestamp +05:30", changed("source.timestamp", "2025-01-15T14:30:22.5+05:30")),
    ("timestamp -08:00", changed("source.timestamp", "2025-01-15T14:30:22-08:00")),
    ("timestamp +00:00", changed("source.timestamp", "2025-01-15T14:30:22+00:00")),
    ("timestamp 1970", changed("source.timestamp", "1970-01-01T00:00:00Z")),
    ("timestamp year 1", changed("source.timestamp", "0001-01-01T00:00:00Z")),
    ("timestamp year 9999", changed("source.timestamp", "9999-12-31T23:59:59.999999Z")),
    ("timestamp leap day", changed("source.timestamp", "2024-02-29T12:00:00Z")),
    ("1000 detections", changed("detections", SEED_ENVELOPE["detections"] * 1000)),
]

FALLBACK: list[tuple[str, bytes | str]] = [
    # every refusal of tests/sightline/test_messages.py
    ("version 2", changed("version", 2)),
    ("version 0", changed("version", 0)),
    ("version '1'", changed("version", "1")),
    ("version null", changed("version", None)),
    ("no version", without("version")),
    ("bbox x2 < x1", changed("detections.0.bbox.x2", 50)),
    ("bbox y2 < y1", changed("detections.0.bbox.y2", 10)),
    ("confidence 1.5", changed("detections.0.confidence", 1.5)),
    ("track id -1", changed("detections.0.track_id", -1)),
    ("class name empty", changed("detections.0.class_name", "")),
    ("width 0", changed("frame.width", 0)),
    ("width 100000", changed("frame.width", 100_000)),
    ("height -5", changed("frame.height", -5)),
    ("frame -1", changed("frame.number", -1)),
    ("roi x2 0", changed("frame.roi_applied.x2", 0)),
    ("id a/b", changed("source.camera_id", "a/b")),
    ("id cam+", changed("source.camera_id", "cam+")),
    ("id empty", changed("source.camera_id", "")),
    ("id 65", changed("source.device_id", "x" * 65)),
    ("timestamp yesterday", changed("source.timestamp", "yesterday")),
    ("timestamp naive", changed("source.timestamp", "2025-01-15T14:30:22")),
    ("bbox a string", changed("detections.0.bbox", "box")),
    ("detections an object", changed("detections", {"a": 1})),
    ("NaN", raw("NaN")),
    ("Infinity", raw("Infinity")),
    ("-Infinity", raw("-Infinity")),
    ("empty", b""),
    ("not json", b"not json"),
    ("truncated", b'{"version": 1, "source": '),
    ("an array", b"[1, 2]"),
    ("garbage", b"\xff\xfe\x00garbage"),
    ("only a version", b'{"version": 1}'),
    ("1001 detections", changed("detections", SEED_ENVELOPE["detections"] * 1001)),
    # ids that leave their folder or are not one topic level
    ("id ..", changed("source.camera_id", "..")),
    ("id .hidden", changed("source.camera_id", ".hidden")),
    ("id -rf", changed("source.device_id", "-rf")),
    ("id with space", changed("source.camera_id", "a b")),
    ("id unicode", changed("source.camera_id", "Süd")),
    ("id #", changed("source.camera_id", "#")),
    ("run id ..", changed("source.run_id", "..")),
    ("id a number", changed("source.camera_id", 7)),
    # absurd numbers
    ("frame 2**63", changed("frame.number", 2**63)),
    ("frame 10**30", changed("frame.number", 10**30)),
    ("frame 5.0", changed("frame.number", 5.0)),
    ("frame 5.5", changed("frame.number", 5.5)),
    ("frame '5'", changed("frame.number", "5")),
    ("frame true", changed("frame.number", True)),
    ("track id 2**64", changed("detections.0.track_id", 2**64)),
    ("track id true", changed("detections.0.track_id", True)),
    ("track id 1.0", changed("detections.0.track_id", 1.0)),
    ("confidence true", changed("detections.0.confidence", True)),
    ("confidence '0.5'", changed("detections.0.confidence", "0.5")),
    ("confidence -0.01", changed("detections.0.confidence", -0.01)),
    ("class 100001", changed("detections.0.class_id", 100_001)),
    ("class name 65", changed("detections.0.class_name", "c" * 65)),
    ("class name a number", changed("detections.0.class_name", 3)),
    ("lone surrogate", changed("detections.0.class_name", "\ud800")),
    ("coordinate 1e999", raw("1e999")),
    ("coordinate over the bound", raw("100000.0001")),
    ("coordinate far out", raw("-1e6")),
    ("coordinate null", raw("null")),
    ("coordinate a string", raw('"250"')),
    ("coordinate huge int", raw("1" + "0" * 400)),
    ("roi x2 == x1", changed("frame.roi_applied", {"x1": 5, "y1": 0, "x2": 5, "y2": 9})),
    ("roi y2 == y1", changed("frame.roi_applied", {"x1": 0, "y1": 9, "x2": 5, "y2": 9})),
    ("roi 16385", changed("frame.roi_applied.x2", 16_385)),
    ("roi missing y2", changed("frame.roi_applied", {"x1": 0, "y1": 0, "x2": 5})),
    # timestamps
    ("timestamp 0", changed("source.timestamp", 0)),
    ("timestamp 1e12", changed("source.timestamp", 1e12)),
    ("timestamp digits", changed("source.timestamp", "1700000000")),
    ("timestamp space", changed("source.timestamp", "2025-01-15 14:30:22Z")),
    ("timestamp z", changed("source.timestamp", "2025-01-15T14:30:22z")),
    ("timestamp 7 digits", changed("source.timestamp", "2025-01-15T14:30:22.1234567Z")),
    ("timestamp +0530", changed("source.timestamp", "2025-01-15T14:30:22+0530")),
    ("timestamp 24:00", changed("source.timestamp", "2025-01-15T24:00:00Z")),
    ("timestamp Feb 30", changed("source.timestamp", "2025-02-30T00:00:00Z")),
    ("timestamp second 60", changed("source.timestamp", "2016-12-31T23:59:60Z")),
    ("timestamp year 0", changed("source.timestamp", "0000-01-01T00:00:00Z")),
    ("timestamp past 9999", changed("source.timestamp", "9999-12-31T23:59:59-01:00")),
    ("timestamp before year 1", changed("source.timestamp", "0001-01-01T00:00:00+01:00")),
    ("timestamp offset 24h", changed("source.timestamp", "2025-01-15T14:30:22+24:00")),
    ("timestamp dot only", changed("source.timestamp", "2025-01-15T14:30:22.Z")),
    ("timestamp date only", changed("source.timestamp", "2025-01-15")),
    # unknown keys are pydantic's (kept and ignored)
    ("extra top level", with_extras(lens="wide")),
    ("extra nested", changed("source.lens", "wide")),
    ("extra in a detection", changed("detections.0.colour", "red")),
    ("extra in a point", changed("detections.0.center.z", 1)),
    ("extra in frame data", changed("frame_data", {**FRAME_DATA, "hdr": True})),
    # frame data and references
    ("quality 0", changed("frame_data", {**FRAME_DATA, "quality": 0})),
    ("quality 101", changed("frame_data", {**FRAME_DATA, "quality": 101})),
    ("base64 empty", changed("frame_data", {**FRAME_DATA, "base64": ""})),
    ("encoding png", changed("frame_data", {**FRAME_DATA, "encoding": "png"})),
    ("ref type http", changed("frame_ref", {"type": "http", "key": "k"})),
    ("ref key empty", changed("frame_ref", {"type": "file", "key": ""})),
    ("ref key 1025", changed("frame_ref", {"type": "file", "key": "k" * 1025})),
    ("ref key NUL", changed("frame_ref", {"type": "file", "key": "a\u0000b.jpg"})),
    ("ref key newline", changed("frame_ref", {"type": "file", "key": "a\nb.jpg"})),
    ("ref key DEL", changed("frame_ref", {"type": "s3", "key": "a\u007fb"})),
    # not an envelope at all
    ("null", b"null"),
    ("a string", b'"envelope"'),
    ("a number", b"1"),
    ("deep nesting", b"[" * 5000 + b"]" * 5000),
    ("trailing garbage", MINIMAL + b"}"),
    ("byte order mark", b"\xef\xbb\xbf" + MINIMAL),
]


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except MessageError as exc:
        return type(exc).__name__, exc.reason


def assert_identical(got: Any, expected: Any, path: str = "envelope") -> None:
    """Same type and value all the way down, and the same pydantic bookkeeping."""
    assert type(got) is type(expected), path
    if isinstance(expected, BaseModel):
        assert got.model_fields_set == expected.model_fields_set, path
        assert got.__pydantic_extra__ == expected.__pydantic_extra__, path
        assert got.__pydantic_private__ == expected.__pydantic_private__, path
        assert list(got.__dict__) == list(expected.__dict__), path
        for key, value in expected.__dict__.items():
            assert_identical(got.__dict__[key], value, f"{path}.{key}")
    elif dataclasses.is_dataclass(expected):  # the engine's Sightings
        for field in dataclasses.fields(expected):
            name = field.name
            assert_identical(getattr(got, name), getattr(expected, name), f"{path}.{name}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for index, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_identical(a, b, f"{path}[{index}]")
    elif isinstance(expected, datetime):
        assert (got, got.tzinfo, got.fold) == (expected, expected.tzinfo, expected.fold), path
    else:
        assert repr(got) == repr(expected), path


def check(payload: bytes | str, limits: MessageLimits = LIMITS) -> str:
    """Every path agrees on ``payload``; which one ``decode_envelope`` took (and
    :func:`check_sightings`, which one ``decode_sightings`` took)."""
    slow = _outcome(lambda: decode(DetectionEnvelope, payload, limits))
    fast = fast_envelope(payload, limits)
    if fast is not None:
        assert slow[0] == "ok", f"the fast path took what pydantic refuses: {slow[1]}"
        assert_identical(fast, slow[1])
        assert fast.model_dump_json() == slow[1].model_dump_json()
    used = _outcome(lambda: decode_envelope(payload, limits))
    if slow[0] == "ok":
        assert used[0] == "ok"
        assert_identical(used[1], slow[1])
    else:
        assert used == slow  # the same refusal, word for word
    return FAST if fast is not None else PYDANTIC


def check_sightings(payload: bytes | str, limits: MessageLimits = LIMITS) -> str:
    """The engine's decoding agrees with pydantic's on ``payload``; which path it took."""
    slow = _outcome(lambda: decode(DetectionEnvelope, payload, limits))
    fast = fast_sightings(payload, limits)
    if fast is not None:
        assert slow[0] == "ok", f"the fast path took what pydantic refuses: {slow[1]}"
        assert_identical(fast, Sightings.of(slow[1]), "sightings")
    used = _outcome(lambda: decode_sightings(payload, limits))
    if slow[0] == "ok":
        assert used[0] == "ok"
        assert_identical(used[1], Sightings.of(slow[1]), "sightings")
    else:
        assert used == slow  # the same refusal, word for word
    return FAST if fast is not None else PYDANTIC


KEPT_BY_PYDANTIC_ONLY = {"extra in a detection", "extra in a point"}
"""Unknown keys inside a detection: pydantic keeps them (so ``decode_envelope`` leaves them
to it), the engine's dataclasses drop them (so ``decode_sightings`` takes its fast path)."""


@pytest.mark.parametrize(("name", "payload"), VALID, ids=[name for name, _ in VALID])
def test_ordinary_envelopes_take_the_fast_path_and_decode_as_pydantic_does(
    name: str, payload: bytes | str
) -> None:
    assert check(payload) == FAST
    assert check_sightings(payload) == FAST


@pytest.mark.parametrize(("name", "payload"), FALLBACK, ids=[name for name, _ in FALLBACK])
def test_anything_unusual_is_left_to_pydantic(name: str, payload: bytes | str) -> None:
    assert check(payload) == PYDANTIC
    assert check_sightings(payload) == (FAST if name in KEPT_BY_PYDANTIC_ONLY else PYDANTIC)


def test_the_limits_in_force_bound_the_fast_path_too() -> None:
    eleven = changed("detections", SEED_ENVELOPE["detections"] * 11)
    ten = changed("detections", SEED_ENVELOPE["detections"] * 10)
    small = MessageLimits(max_detections=10, max_payload_bytes=len(ten))

    assert check(ten, small) == FAST
    assert check(eleven, small) == PYDANTIC
    assert check(ten + b" ", small) == PYDANTIC  # one byte over: refused unparsed
    assert check_sightings(ten, small) == FAST
    assert check_sightings(eleven, small) == PYDANTIC
    assert check_sightings(ten + b" ", small) == PYDANTIC


def test_a_refusal_reads_the_same_after_the_fast_path_declined() -> None:
    with pytest.raises(MessageError, match=r"source\.camera_id: '\.\.' must start with a letter"):
        decode_envelope(changed("source.camera_id", ".."))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(SEED_ENVELOPE))
def test_an_envelope_with_any_one_field_changed_decodes_the_same_either_way(
    data: dict[str, Any],
) -> None:
    check(json.dumps(data, allow_nan=True).encode())
    check_sightings(json.dumps(data, allow_nan=True).encode())


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_past_what_a_datetime_holds_is_refused_by_name(stamp: str) -> None:
    with pytest.raises(MessageError, match=r"source\.timestamp: is out of range once in UTC"):
        decode_envelope(changed("source.timestamp", stamp))
