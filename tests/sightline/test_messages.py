"""The wire messages: the seed's envelope parses as written; bad ones are refused by name."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from sightline.errors import MessageError, PayloadTooLargeError, UnsupportedVersionError
from sightline.messages import (
    Actions,
    DeadLetter,
    DetectionEnvelope,
    Event,
    EventActions,
    EventType,
    MessageLimits,
    SnapshotAnnouncement,
    base,
    deadletter,
    decode_envelope,
    decode_event,
    decode_snapshot,
    encode,
    geometry,
    make_event_id,
    snapshot,
)
from sightline.messages import envelope as envelope_module
from sightline.messages import event as event_module
from tests.support.dotted import set_dotted

SEED_ENVELOPE: dict[str, Any] = {
    "version": 1,
    "source": {
        "device_id": "jetson-01",
        "camera_id": "driveway",
        "timestamp": "2025-01-15T14:30:22.123Z",
    },
    "frame": {
        "number": 12345,
        "width": 1920,
        "height": 1080,
        "roi_applied": {"x1": 0, "y1": 0, "x2": 1920, "y2": 1080},
    },
    "detections": [
        {
            "track_id": 42,
            "class_id": 2,
            "class_name": "car",
            "confidence": 0.87,
            "bbox": {"x1": 100, "y1": 200, "x2": 400, "y2": 500},
            "center": {"x": 250, "y": 350},
            "previous_center": {"x": 240, "y": 340},
        }
    ],
}

EVENT: dict[str, Any] = {
    "version": 1,
    "event_id": "driveway-line_cross-abc",
    "event_type": "LINE_CROSS",
    "rule": "car-detected",
    "camera_id": "driveway",
    "device_id": "jetson-01",
    "timestamp": "2025-01-15T14:30:22.123Z",
    "frame_number": 12345,
    "object": {
        "track_id": 42,
        "class_name": "car",
        "confidence": 0.87,
        "bbox": {"x1": 100, "y1": 200, "x2": 400, "y2": 500},
        "center": {"x": 250, "y": 350},
    },
    "line": {"name": "driveway entry", "direction": "left_to_right"},
    "actions": {"email_immediate": True},
}


def with_change(base: dict[str, Any], path: str, value: Any) -> bytes:
    """``base`` with the value at a dotted path (list indexes as numbers) replaced."""
    return json.dumps(set_dotted(copy.deepcopy(base), path, value)).encode()


def test_the_seed_envelope_parses_field_for_field() -> None:
    envelope = decode_envelope(json.dumps(SEED_ENVELOPE))

    detection = envelope.detections[0]
    assert envelope.source.timestamp == datetime(2025, 1, 15, 14, 30, 22, 123000, tzinfo=UTC)
    assert envelope.frame.roi_applied is not None
    assert envelope.frame.roi_applied.x2 == 1920
    assert (detection.track_id, detection.class_name, detection.confidence) == (42, "car", 0.87)
    assert detection.previous_center is not None
    assert detection.previous_center.as_tuple() == (240, 340)


def test_encoding_round_trips_and_writes_rfc3339_milliseconds() -> None:
    envelope = decode_envelope(json.dumps(SEED_ENVELOPE))

    wire = json.loads(encode(envelope))

    assert wire["source"]["timestamp"] == "2025-01-15T14:30:22.123Z"
    assert decode_envelope(encode(envelope)) == envelope


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("0999-03-04T05:06:07.8915Z", "0999-03-04T05:06:07.891Z"),
        ("2025-01-15T15:30:22.1239+01:00", "2025-01-15T14:30:22.123Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_every_accepted_timestamp_is_written_in_utc_with_four_year_digits_and_read_back(
    given: str, written: str
) -> None:
    envelope = copy.deepcopy(SEED_ENVELOPE)
    envelope["source"]["timestamp"] = given

    wire = encode(decode_envelope(json.dumps(envelope)))

    assert json.loads(wire)["source"]["timestamp"] == written
    assert encode(decode_envelope(wire)) == wire  # what we write, we read back


def test_unknown_fields_are_kept_and_ignored() -> None:
    payload = with_change(SEED_ENVELOPE, "firmware", "2.1")

    envelope = decode_envelope(payload)

    assert json.loads(encode(envelope))["firmware"] == "2.1"


def test_optional_frame_data_and_frame_ref_parse() -> None:
    data = copy.deepcopy(SEED_ENVELOPE)
    data["frame_data"] = {"encoding": "jpeg", "quality": 85, "base64": "/9j/4AAQ"}
    data["frame_ref"] = {
        "type": "s3",
        "bucket": "detection-frames",
        "key": "jetson-01/2025-01-15/frame-12345.jpg",
    }

    envelope = decode_envelope(json.dumps(data))

    assert envelope.frame_data is not None
    assert envelope.frame_data.quality == 85
    assert envelope.frame_ref is not None
    assert envelope.frame_ref.bucket == "detection-frames"


def test_a_detection_without_a_track_id_is_valid() -> None:
    envelope = decode_envelope(with_change(SEED_ENVELOPE, "detections.0.track_id", None))

    assert envelope.detections[0].track_id is None


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_another_version_is_refused_with_a_typed_error(version: Any) -> None:
    with pytest.raises(UnsupportedVersionError, match=r"version: .* is not supported"):
        decode_envelope(with_change(SEED_ENVELOPE, "version", version))


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("detections.0.bbox.x2", 50, r"detections\[0\]\.bbox\.x2: must be >= x1"),
        ("detections.0.bbox.y2", 10, r"detections\[0\]\.bbox\.y2: must be >= y1"),
        ("detections.0.confidence", 1.5, r"detections\[0\]\.confidence"),
        ("detections.0.track_id", -1, r"detections\[0\]\.track_id"),
        ("detections.0.class_name", "", r"detections\[0\]\.class_name"),
        ("frame.width", 0, r"frame\.width"),
        ("frame.width", 100_000, r"frame\.width"),
        ("frame.height", -5, r"frame\.height"),
        ("frame.number", -1, r"frame\.number"),
        ("frame.roi_applied.x2", 0, r"frame\.roi_applied\.x2"),
        ("source.camera_id", "a/b", r"source\.camera_id: .*must not contain '/'"),
        ("source.camera_id", "cam+", r"source\.camera_id"),
        ("source.camera_id", "", r"source\.camera_id: .*empty"),
        ("source.device_id", "x" * 65, r"source\.device_id"),
        ("source.timestamp", "yesterday", r"source\.timestamp"),
        ("source.timestamp", "2025-01-15T14:30:22", r"source\.timestamp: .*time zone"),
        ("detections.0.bbox", "box", r"detections\[0\]\.bbox"),
        ("detections", {"a": 1}, r"detections"),
    ],
)
def test_bad_fields_are_refused_with_a_reason_naming_the_field(
    path: str, value: Any, reason: str
) -> None:
    with pytest.raises(MessageError, match=reason):
        decode_envelope(with_change(SEED_ENVELOPE, path, value))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(literal: str) -> None:
    payload = json.dumps(SEED_ENVELOPE).replace('"x": 250', f'"x": {literal}').encode()

    with pytest.raises(MessageError, match=r"detections\[0\]\.center\.x"):
        decode_envelope(payload)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"not json", "invalid JSON"),
        (b'{"version": 1, "source": ', "invalid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe\x00garbage", "invalid JSON"),
        (b'{"version": 1}', "source: Field required"),
    ],
)
def test_payloads_that_are_not_envelopes_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode_envelope(payload)


def test_too_many_detections_are_refused_before_they_are_validated() -> None:
    data = copy.deepcopy(SEED_ENVELOPE)
    data["detections"] = data["detections"] * 11

    with pytest.raises(MessageError, match="detections: 11 detections; at most 10"):
        decode_envelope(json.dumps(data), MessageLimits(max_detections=10))


def test_a_payload_over_the_limit_is_refused_unparsed() -> None:
    with pytest.raises(PayloadTooLargeError, match="payload is 2048 bytes; at most 1024"):
        decode_envelope(b" " * 2048, MessageLimits(max_payload_bytes=1024))


def test_an_event_parses_and_its_type_names_its_topic_level() -> None:
    event = decode_event(json.dumps(EVENT))

    assert event.event_type is EventType.LINE_CROSS
    assert event.event_type.topic_level == "line_cross"
    assert event.actions.email_immediate
    assert event.actions.snapshot


def test_an_event_from_a_newer_engine_with_a_new_action_is_kept_whole_and_still_acted_on() -> None:
    payload = with_change(EVENT, "actions", {"sms": True, "email_immediate": True})

    event = decode_event(payload)

    assert event.actions.email_immediate
    assert not event.actions.json_log
    assert json.loads(encode(event))["actions"]["sms"] is True
    assert decode_event(encode(event)) == event


@pytest.mark.parametrize(
    "path",
    [
        "lens",
        "source.lens",
        "frame.exposure",
        "frame.roi_applied.mask",
        "detections.0.colour",
        "detections.0.bbox.rotation",
        "detections.0.center.z",
        "frame_data.hdr",
        "frame_ref.region",
    ],
)
def test_an_unknown_key_anywhere_in_an_envelope_is_kept_and_ignored(path: str) -> None:
    data = copy.deepcopy(SEED_ENVELOPE)
    data["frame_data"] = {"encoding": "jpeg", "quality": 85, "base64": "/9j/4AAQ"}
    data["frame_ref"] = {"type": "file", "key": "driveway/frame.jpg"}
    known = json.loads(encode(decode_envelope(json.dumps(data))))
    payload = with_change(known, path, {"from": "a newer edge"})

    envelope = decode_envelope(payload)

    assert json.loads(encode(envelope)) == json.loads(payload)
    assert envelope.frame.number == 12345


@pytest.mark.parametrize(
    "path", ["lens", "object.colour", "object.bbox.rotation", "line.width", "actions.sms"]
)
def test_an_unknown_key_anywhere_in_an_event_is_kept_and_ignored(path: str) -> None:
    known = json.loads(encode(decode_event(json.dumps(EVENT))))
    payload = with_change(known, path, {"from": "a newer engine"})

    event = decode_event(payload)

    assert json.loads(encode(event)) == json.loads(payload)
    assert event.actions.email_immediate


def test_every_wire_model_keeps_unknown_keys_and_only_the_config_form_of_actions_refuses_them() -> (
    None
):
    models = {
        model
        for module in (base, deadletter, envelope_module, event_module, geometry, snapshot)
        for model in vars(module).values()
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel
    }

    strict = {model.__name__ for model in models if model.model_config.get("extra") != "allow"}

    assert len(models) >= 15
    assert strict == {"Actions"}


def test_an_event_built_from_a_rule_compares_equal_to_itself_decoded() -> None:
    built = Event.model_validate({**EVENT, "actions": Actions(email_digest=["nightly"])})

    assert decode_event(encode(built)) == built
    assert type(built.actions) is EventActions
    assert built.actions.email_digest == ["nightly"]


@pytest.mark.parametrize("event_id", ["..", ".hidden", "../../etc/passwd", "sent/x", "", "x" * 129])
def test_an_event_id_that_could_not_name_a_file_is_refused_by_name(event_id: str) -> None:
    with pytest.raises(MessageError, match=r"event_id: "):
        decode_event(with_change(EVENT, "event_id", event_id))


def test_an_event_id_of_128_characters_is_accepted() -> None:
    assert decode_event(with_change(EVENT, "event_id", "e" * 128)).event_id == "e" * 128


@pytest.mark.parametrize(
    ("given", "expected"),
    [(True, ["default"]), ("nightly", ["nightly"]), (["a", "b"], ["a", "b"]), (False, [])],
)
def test_email_digest_accepts_a_flag_a_name_or_names(given: Any, expected: list[str]) -> None:
    event = decode_event(with_change(EVENT, "actions", {"email_digest": given}))

    assert event.actions.email_digest == expected


def test_event_ids_are_deterministic_and_distinguish_decisions() -> None:
    first = make_event_id("driveway", "LINE_CROSS", "car", 42, 100, "entry", "left_to_right")
    again = make_event_id(
        "driveway", EventType.LINE_CROSS, "car", 42, 100, "entry", "left_to_right"
    )
    other = make_event_id("driveway", "LINE_CROSS", "car", 42, 101, "entry", "left_to_right")

    assert first == again
    assert first != other
    assert first.startswith("driveway-line_cross-")


def test_a_snapshot_announcement_without_a_frame_carries_a_reason() -> None:
    announcement = decode_snapshot(
        b'{"version": 1, "event_id": "e1", "camera_id": "driveway",'
        b' "timestamp": "2025-01-15T14:30:22.123Z",'
        b' "frame_ref": null, "reason": "frame never arrived"}'
    )

    assert announcement.frame_ref is None
    assert announcement.reason == "frame never arrived"
    assert isinstance(announcement, SnapshotAnnouncement)


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [(b'{"broken": ', "utf-8"), (b"\xff\xd8\xff\xe0 jpeg bytes", "base64")],
)
def test_a_dead_letter_keeps_a_readable_excerpt(payload: bytes, encoding: str) -> None:
    letter = DeadLetter.from_payload(
        service="event-engine",
        instance="main",
        topic="detections/x",
        reason="bad",
        payload=payload,
    )

    assert letter.payload_encoding == encoding
    assert letter.payload_size == len(payload)
    assert json.loads(encode(letter))["reason"] == "bad"


def test_a_dead_letter_of_a_huge_payload_is_truncated() -> None:
    letter = DeadLetter.from_payload(
        service="s", instance="i", topic="t", reason="too big", payload=b"x" * 10_000_000
    )

    assert letter.truncated
    assert len(letter.payload_excerpt) == 4096


def test_models_are_frozen() -> None:
    envelope = DetectionEnvelope.model_validate(SEED_ENVELOPE)

    with pytest.raises(ValueError, match="frozen"):
        envelope.frame.number = 1  # type: ignore[misc]
    assert isinstance(Event.model_validate(EVENT).timestamp, datetime)
