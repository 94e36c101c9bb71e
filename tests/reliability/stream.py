"""A deterministic synthetic stream for the whole suite, and its reference events.

Two cameras; on each, a person starts every ``GAP`` frames at the left edge, walks right
over the vertical line at x=640 px into the zone (x 800..1200 px), stays there long enough
to dwell, then vanishes (the engine ends the track after ``track_timeout_s``: a ZONE_EXIT
``lost``). Each walk gives LINE_CROSS, ZONE_ENTER, ZONE_DWELL and ZONE_EXIT.

Example:
    .. code-block:: python

        stream = Stream.build(frames=120)
        reference = stream.reference(tmp_path)   # the engine's --replay of the stream
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO
from tests.event_engine.walks import Box, envelope

CAMERAS = {"cam-a": "dev-a", "cam-b": "dev-b"}
GAP = 20
WALK = [(100.0 + 30.0 * step, 500.0) for step in range(34)] + [(1090.0, 500.0)] * 16

RULES = [
    {"name": "crossed", "match": {"event_type": "LINE_CROSS", "line": "gate"},
     "actions": {"json_log": True, "email_digest": ["default"]}},
    {"name": "entered", "match": {"event_type": "ZONE_ENTER", "zone": "yard"},
     "actions": {"json_log": True, "email_immediate": True}},
    {"name": "dwelling", "match": {"event_type": "ZONE_DWELL", "zone": "yard"},
     "actions": {"json_log": True}},
    {"name": "left", "match": {"event_type": "ZONE_EXIT", "zone": "yard"},
     "actions": {"json_log": True}},
]  # fmt: skip


def engine_devices() -> dict[str, Any]:
    """The ``devices:`` section for the stream's cameras."""
    device = {
        "track_timeout_s": 0.5,
        "lines": [
            {"type": "polyline", "name": "gate", "points": [[640, 0], [640, 720]], "units": "px"}
        ],
        "zones": [
            {
                "name": "yard",
                "points": [[800, 200], [1200, 200], [1200, 700], [800, 700]],
                "units": "px",
                "dwell_s": 0.4,
            }
        ],
        "events": RULES,
    }
    return {dev: {"camera_id": cam, **device} for cam, dev in CAMERAS.items()}


def engine_config() -> dict[str, Any]:
    """A whole engine config (Home Assistant discovery off: fewer messages to wade through)."""
    return {"devices": engine_devices(), "homeassistant": {"enabled": False}}


def boxes_at(frame: int) -> list[Box]:
    """The people in view at ``frame`` (the same on every camera)."""
    boxes = []
    for start in range(0, frame + 1, GAP):
        step = frame - start
        if step < len(WALK):
            x, y = WALK[step]
            boxes.append(Box.at_foot(1 + start // GAP, x, y))
    return boxes


@dataclass(frozen=True)
class Message:
    """One envelope as it goes on the wire."""

    topic: str
    payload: bytes


@dataclass(frozen=True)
class Stream:
    """The envelopes of every camera, interleaved frame by frame."""

    messages: tuple[Message, ...]

    @classmethod
    def build(cls, frames: int = 120, tail: int = 20) -> Stream:
        """``frames`` frames with walkers, then ``tail`` empty frames (the tracks end)."""
        messages = []
        for number in range(frames + tail):
            boxes = boxes_at(number) if number < frames else []
            for camera, device in CAMERAS.items():
                env = envelope(number, boxes, device=device, camera=camera)
                messages.append(Message(f"detections/{camera}", env.model_dump_json().encode()))
        return cls(tuple(messages))

    def reference(self, directory: Path) -> list[dict[str, Any]]:
        """The events ``python -m event_engine --replay`` finds in the stream."""
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "reference-engine.yaml"
        config.write_text(yaml.safe_dump(engine_config()))
        source = directory / "stream.txt"
        source.write_text("".join(f"{m.topic} {m.payload.decode()}\n" for m in self.messages))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "event_engine",
                "--config",
                str(config),
                "--replay",
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=REPO,
        )
        return [json.loads(line) for line in result.stdout.splitlines()]


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Events keyed by ``event_id``."""
    return {event["event_id"]: event for event in events}
