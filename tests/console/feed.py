"""Real envelopes for the console: the bundled video's recorded detections
(tests/fixtures/engine/pedestrians.jsonl, camera ``street`` of device ``street-pi``), with
the matching frames of samples/pedestrians.avi as ``frame_data``, published to a broker."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import yaml

from tests.support.broker import Broker
from tests.support.mqtt import publish
from tests.support.paths import REPO

CAMERA = "street"
DEVICE = "street-pi"
RECORDED = REPO / "tests/fixtures/engine/pedestrians.jsonl"
ENGINE_YAML = REPO / "tests/fixtures/engine/pedestrians.yaml"
VIDEO = REPO / "samples/pedestrians.avi"


def recorded(count: int | None = None) -> list[dict[str, Any]]:
    """The first ``count`` recorded envelopes (all when None), as JSON objects."""
    lines = RECORDED.read_text().splitlines()
    return [json.loads(line) for line in (lines if count is None else lines[:count])]


def video_jpegs(count: int, quality: int = 70) -> list[bytes]:
    """The first ``count`` frames of the bundled video as JPEG."""
    capture = cv2.VideoCapture(str(VIDEO))
    jpegs = []
    try:
        while len(jpegs) < count:
            ok, frame = capture.read()
            if not ok:
                break
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            assert ok
            jpegs.append(data.tobytes())
    finally:
        capture.release()
    return jpegs


def with_frame(envelope: dict[str, Any], jpeg: bytes) -> dict[str, Any]:
    """The envelope as the edge sends it on ``detections/<camera>/frame``."""
    data = {"encoding": "jpeg", "quality": 70, "base64": base64.b64encode(jpeg).decode()}
    return {**envelope, "frame_data": data}


def engine_device() -> dict[str, Any]:
    """The engine config of camera ``street`` (pedestrians.yaml's device section)."""
    device: dict[str, Any] = yaml.safe_load(ENGINE_YAML.read_text())["devices"][DEVICE]
    return device


def engine_state(config: dict[str, Any] | None = None) -> bytes:
    """What the engine publishes, retained, on ``.../config/street/state`` at start-up."""
    state = {
        "camera_id": CAMERA,
        "device_id": DEVICE,
        "applied": True,
        "error": None,
        "config": config if config is not None else engine_device(),
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return json.dumps(state).encode()


def feed(broker: Broker, count: int = 40, frame_every: int = 5) -> None:
    """Publish the edge's status and stats, and ``count`` envelopes; every ``frame_every``-th
    also with its frame on ``detections/street/frame``."""
    host, port = broker.host, broker.port
    status = f"sightline/edge-publisher/{CAMERA}"
    publish(host, port, f"{status}/status", [b"online"], retain=True)
    stats = {
        "camera_id": CAMERA,
        "device_id": DEVICE,
        "run_id": None,
        "fps": 24.8,
        "frames": count,
        "dropped": 0,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    publish(host, port, f"{status}/stats", [json.dumps(stats).encode()], retain=True)
    envelopes = recorded(count)
    jpegs = video_jpegs(count)
    frames = [
        json.dumps(with_frame(e, jpegs[i])).encode()
        for i, e in enumerate(envelopes)
        if i % frame_every == 0
    ]
    publish(host, port, f"detections/{CAMERA}", [json.dumps(e).encode() for e in envelopes])
    publish(host, port, f"detections/{CAMERA}/frame", frames)


def write_token(path: Path, token: str) -> Path:
    """A secrets file holding ``token``."""
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def publish_event(broker: Broker, envelope: dict[str, Any], jpeg: bytes) -> str:
    """A LINE_CROSS event of the envelope's first track on ``kerb``, then the frame-store's
    snapshot announcement carrying ``jpeg``; returns the event id."""
    from sightline.messages import encode
    from sightline.messages.event import Event, make_event_id
    from sightline.messages.snapshot import SnapshotAnnouncement

    detection = envelope["detections"][0]
    number = envelope["frame"]["number"]
    event_id = make_event_id(CAMERA, "LINE_CROSS", "kerb-crossed", detection["track_id"], number)
    event = Event.model_validate(
        {
            "event_id": event_id,
            "event_type": "LINE_CROSS",
            "rule": "kerb-crossed",
            "camera_id": CAMERA,
            "device_id": DEVICE,
            "timestamp": envelope["source"]["timestamp"],
            "frame_number": number,
            "object": {
                "track_id": detection["track_id"],
                "class_name": detection["class_name"],
                "confidence": detection["confidence"],
                "bbox": detection["bbox"],
                "center": detection["center"],
            },
            "line": {"name": "kerb", "direction": "in"},
        }
    )
    snapshot = SnapshotAnnouncement.model_validate(
        {
            "event_id": event_id,
            "camera_id": CAMERA,
            "frame_number": number,
            "timestamp": envelope["source"]["timestamp"],
            "frame_ref": {"type": "file", "key": f"{CAMERA}/{event_id}.jpg"},
            "image": {"encoding": "jpeg", "quality": 70, "base64": base64.b64encode(jpeg).decode()},
        }
    )
    publish(broker.host, broker.port, f"events/{CAMERA}/line_cross", [encode(event)])
    publish(broker.host, broker.port, f"events/{CAMERA}/snapshot", [encode(snapshot)])
    return event_id
