"""Bad messages for every service's input topics, each with what its dead letter must name.

One function per input topic, its cases grouped by what they try: the shape and size every
JSON topic refuses (:func:`_common`), the topic's own fields, the one id rule
(``sightline.ids``: an id that could leave a folder or hide a file), then what one service
learned the hard way (the engine's poison values, the frame-store's bomb). New cases go into
the group they belong to, with a comment when the reason is not obvious.

Example:
    >>> [case.name for case in envelope_cases()][:2]
    ['not JSON', 'truncated JSON']
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.notifier.support import make_event
from tests.support.dotted import set_dotted
from tests.support.envelopes import envelope

Edit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class BadMessage:
    """One bad payload and the words (any of them, case-insensitive) its reason must contain."""

    name: str
    payload: bytes
    words: tuple[str, ...]

    def named_in(self, reason: str) -> bool:
        """Whether ``reason`` names the problem."""
        return any(word.lower() in reason.lower() for word in self.words)


def _good_envelope() -> dict[str, Any]:
    data = json.loads(envelope("cam-a", 7, device="dev-a").model_dump_json())
    data["detections"] = [_detection(1)]
    return dict(data)


def _detection(track: int) -> dict[str, Any]:
    return {
        "track_id": track,
        "class_id": 0,
        "class_name": "person",
        "confidence": 0.9,
        "bbox": {"x1": 10, "y1": 10, "x2": 50, "y2": 90},
        "center": {"x": 30, "y": 50},
    }


def _edited(base: dict[str, Any], edit: Edit) -> bytes:
    data = copy.deepcopy(base)
    edit(data)
    return json.dumps(data).encode()


def _set(path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        set_dotted(data, path, value)

    return edit


def _drop(key: str) -> Edit:
    return lambda data: data.pop(key)


def oversized(good: bytes, size: int) -> bytes:
    """``good`` with ``size`` bytes of leading whitespace: valid JSON, far too large."""
    return b" " * size + good


def _common(good: bytes, limit: int) -> list[BadMessage]:
    """What every JSON topic must refuse."""
    return [
        BadMessage("not JSON", b"hello, broker", ("JSON",)),
        BadMessage("truncated JSON", good[: len(good) // 2], ("JSON",)),
        BadMessage("empty payload", b"", ("JSON", "empty")),
        BadMessage("a JSON array", b"[1, 2, 3]", ("object", "dict", "type")),
        BadMessage("a JSON string", b'"detections"', ("object", "dict", "type")),
        BadMessage("JSON null", b"null", ("object", "dict", "type", "none")),
        BadMessage("invalid UTF-8", b"\xff\xfe" + good[2:], ("UTF-8", "utf8", "JSON", "decode")),
        BadMessage("oversized payload", oversized(good, limit), ("bytes", "large", "size")),
    ]


def envelope_cases() -> list[BadMessage]:
    """Bad envelopes for ``detections/cam-a`` (the engine)."""
    base = _good_envelope()
    good = json.dumps(base).encode()
    many = _edited(base, _set("detections", [_detection(n) for n in range(2000)]))
    return [
        *_common(good, 10_000_000),
        # fields
        BadMessage("version 2", _edited(base, _set("version", 2)), ("version",)),
        BadMessage("no source", _edited(base, _drop("source")), ("source",)),
        BadMessage("detections not a list", _edited(base, _set("detections", {})), ("detections",)),
        BadMessage("2000 detections", many, ("detections",)),
        BadMessage("negative frame number", _edited(base, _set("frame.number", -5)), ("number",)),
        BadMessage("frame number a word", _edited(base, _set("frame.number", "seven")), ("number",)),
        BadMessage("absurd width", _edited(base, _set("frame.width", 10**12)), ("width",)),
        BadMessage("zero height", _edited(base, _set("frame.height", 0)), ("height",)),
        BadMessage(
            "timestamp without zone",
            _edited(base, _set("source.timestamp", "2025-01-15T14:30:00")),
            ("timestamp",),
        ),
        BadMessage("confidence 7", _edited(base, _set("detections.0.confidence", 7)), ("confidence",)),
        BadMessage("track id a word", _edited(base, _set("detections.0.track_id", "abc")), ("track_id",)),
        BadMessage("class name a number", _edited(base, _set("detections.0.class_name", 5)), ("class_name",)),
        BadMessage("bbox corner a word", _edited(base, _set("detections.0.bbox.x1", "left")), ("x1",)),
        BadMessage("unknown device", _edited(base, _set("source.device_id", "dev-zz")), ("device",)),
        # ids: the one id rule
        BadMessage("camera id ..", _edited(base, _set("source.camera_id", "..")), ("camera_id",)),
        BadMessage("camera id .hidden", _edited(base, _set("source.camera_id", ".hidden")), ("camera_id",)),
        BadMessage("device id ../x", _edited(base, _set("source.device_id", "../x")), ("device_id",)),
        # the engine's poison: valid envelopes that used to mute a camera
        *engine_poison_cases(),
    ]  # fmt: skip


def engine_poison_cases() -> list[BadMessage]:
    """Valid envelopes with values that used to mute a camera, or another camera's identity."""
    base = _good_envelope()
    return [
        BadMessage("frame number 2**62", _edited(base, _set("frame.number", 2**62)), ("frame.number",)),
        BadMessage(
            "year 9999",
            _edited(base, _set("source.timestamp", "9999-12-31T23:59:59.000Z")),
            ("source.timestamp",),
        ),
        BadMessage(
            "1970 (no NTP yet)",
            _edited(base, _set("source.timestamp", "1970-01-01T00:00:42.000Z")),
            ("source.timestamp",),
        ),
        BadMessage(
            "spoofed camera",
            _edited(base, lambda d: d["source"].update(camera_id="cam-b", device_id="dev-b")),
            ("source.camera_id",),
        ),
    ]  # fmt: skip


def lenient_envelope_cases() -> list[BadMessage]:
    """Envelopes DESIGN.md says must not be guessed at: no version, a number for a timestamp."""
    base = _good_envelope()
    return [
        BadMessage("no version", _edited(base, _drop("version")), ("version",)),
        BadMessage("timestamp a number", _edited(base, _set("source.timestamp", 12)), ("timestamp",)),
    ]  # fmt: skip


def _frames_bomb() -> bytes:
    """A good frame whose ~700-byte JPEG (and envelope) claim 12000x12000 pixels."""
    from tests.frame_store.media import bomb  # OpenCV: only for the frame cases

    base = _good_envelope()
    base["frame"].update(width=12000, height=12000)
    base["frame_data"] = {"quality": 80, "base64": base64.b64encode(bomb()).decode()}
    return json.dumps(base).encode()


def frame_cases() -> list[BadMessage]:
    """Bad frames for ``detections/cam-a/frame`` (the frame-store)."""
    base = _good_envelope()
    base["frame_data"] = {"encoding": "jpeg", "quality": 80, "base64": "aGVsbG8="}  # "hello"
    good = json.dumps(base).encode()
    return [
        *_common(good, 17_000_000),
        # fields
        BadMessage("version 2", _edited(base, _set("version", 2)), ("version",)),
        BadMessage("no frame_data", _edited(base, _set("frame_data", None)), ("frame_data",)),
        BadMessage("not a JPEG", good, ("JPEG",)),
        BadMessage("base64 broken", _edited(base, _set("frame_data.base64", "%%%")), ("base64",)),
        BadMessage("other camera", _edited(base, _set("source.camera_id", "cam-b")), ("camera",)),
        # ids: the one id rule
        BadMessage("camera id ..", _edited(base, _set("source.camera_id", "..")), ("camera_id",)),
        # the frame-store's own: decoding it would take 412 MiB
        BadMessage("JPEG bomb, 12000x12000 in 700 bytes", _frames_bomb(), ("frame_data",)),
    ]  # fmt: skip


def event_cases() -> list[BadMessage]:
    """Bad events for ``events/driveway/line_cross`` (the notifier and the frame-store).

    An event from a newer engine with an action this release does not know is NOT bad input:
    it is kept whole and acted on (:func:`accepted_event_cases`;
    tests/reliability/test_strict_parsing.py proves it on the services).
    """
    base = json.loads(make_event(3).model_dump_json())
    good = json.dumps(base).encode()
    return [
        *_common(good, 10_000_000),  # 10 MB: every service holds events to 1 MiB
        # fields
        BadMessage("version 2", _edited(base, _set("version", 2)), ("version",)),
        BadMessage("digest not a list", _edited(base, _set("actions.email_digest", 3)), ("email_digest",)),
        BadMessage("unknown event type", _edited(base, _set("event_type", "EXPLODE")), ("event_type",)),
        BadMessage("timestamp a word", _edited(base, _set("timestamp", "noon")), ("timestamp",)),
        BadMessage("confidence 3", _edited(base, _set("object.confidence", 3)), ("confidence",)),
        BadMessage("other camera", _edited(base, _set("camera_id", "porch")), ("camera",)),
        BadMessage("no event_id", _edited(base, _drop("event_id")), ("event_id",)),
        # ids: the one id rule (see also notifier_event_cases)
        BadMessage("event id ..", _edited(base, _set("event_id", "..")), ("event_id",)),
        BadMessage("event id a path", _edited(base, _set("event_id", "../../x")), ("event_id",)),
        BadMessage("camera id .hidden", _edited(base, _set("camera_id", ".hidden")), ("camera_id",)),
        BadMessage("camera ..", _edited(base, _set("camera_id", "..")), ("camera",)),
    ]  # fmt: skip


def notifier_event_cases() -> list[BadMessage]:
    """Event ids no state file may carry, for ``events/driveway/line_cross`` (the notifier and
    the frame-store both refuse them)."""
    base = json.loads(make_event(4).model_dump_json())
    return [
        BadMessage("event_id ..", _edited(base, _set("event_id", "..")), ("event_id",)),
        BadMessage("event_id hidden", _edited(base, _set("event_id", ".sent")), ("event_id",)),
        BadMessage("event_id a path", _edited(base, _set("event_id", "x/../../y")), ("event_id",)),
        BadMessage("event_id a space", _edited(base, _set("event_id", "a b")), ("event_id",)),
    ]  # fmt: skip


@dataclass(frozen=True)
class AcceptedMessage:
    """A payload a consumer must handle as a good one: no dead letter."""

    name: str
    event_id: str
    payload: bytes


def accepted_event_cases() -> list[AcceptedMessage]:
    """Events for ``events/driveway/line_cross`` from a newer engine: handled, not refused."""
    newer = json.loads(make_event(4).model_dump_json())
    newer["actions"].update({"json_log": True, "email_immediate": True, "sms": True})
    newer["object"]["colour"] = "red"
    return [AcceptedMessage("unknown action sms", newer["event_id"], json.dumps(newer).encode())]


def _good_announcement() -> dict[str, Any]:
    event = make_event(3)
    key = f"{event.camera_id}/{event.event_id}.jpg"
    return {
        "version": 1,
        "event_id": event.event_id,
        "camera_id": event.camera_id,
        "frame_number": event.frame_number,
        "timestamp": "2025-01-15T14:30:03.000Z",
        "frame_ref": {"type": "file", "key": key},
        "files": {"annotated": {"type": "file", "key": key}},
        "image": {"encoding": "jpeg", "quality": 80, "base64": "/9j/4AAQSkZJRgABAQ=="},
    }


def snapshot_cases() -> list[BadMessage]:
    """Bad announcements for ``events/driveway/snapshot`` (the notifier; the frame-store, which
    publishes them, ignores that topic)."""
    base = _good_announcement()
    good = json.dumps(base).encode()
    return [
        *_common(good, 17_000_000),  # 17 MB: announcements carry a JPEG, held to 16 MiB
        # fields
        BadMessage("version 2", _edited(base, _set("version", 2)), ("version",)),
        BadMessage("no event_id", _edited(base, _drop("event_id")), ("event_id",)),
        # ids: the one id rule
        BadMessage("event_id ..", _edited(base, _set("event_id", "..")), ("event_id",)),
        BadMessage("event_id a path", _edited(base, _set("event_id", "a/../../b")), ("event_id",)),
        # the announcement's camera and picture
        BadMessage("other camera", _edited(base, _set("camera_id", "porch")), ("camera",)),
        BadMessage("image not base64", _edited(base, _set("image.base64", "%%%")), ("base64",)),
        BadMessage("image not a JPEG", _edited(base, _set("image.base64", "aGVsbG8=")), ("JPEG",)),
        BadMessage("image encoding png", _edited(base, _set("image.encoding", "png")), ("encoding",)),
        BadMessage("frame_ref type ftp", _edited(base, _set("frame_ref.type", "ftp")), ("type",)),
    ]  # fmt: skip
