"""Poison values within the schema's limits never mute a camera, and a camera's topic is its
identity: each bad envelope is refused with a reason naming the field (a dead letter), or
contained; the next good envelopes of that camera still give their events, also after the
engine restarted from its checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from event_engine.camera import FrameOutcome
from event_engine.engine import Engine
from event_engine.tracks import FrameOrder
from sightline.errors import MessageError
from sightline.messages import DetectionEnvelope, encode
from sightline.timestamps import format_timestamp, utc_now
from tests.event_engine.test_runs import Sink, recording
from tests.event_engine.walks import Box, envelope, rule, settings, walk

Poison = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Poison:
    def edit(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        for key in parents:
            data = data[key]
        data[leaf] = value

    return edit


REFUSED: list[tuple[str, Poison, str]] = [
    ("frame number 2**62", _set("frame.number", 2**62), "frame.number"),
    ("frame number jumps by 10**9", _set("frame.number", 10**9), "frame.number"),
    ("year 9999", _set("source.timestamp", "9999-12-31T23:59:59.000Z"), "source.timestamp"),
    ("1970", _set("source.timestamp", "1970-01-01T00:00:07.000Z"), "source.timestamp"),
    ("spoofed camera", _set("source.camera_id", "backyard"), "source.camera_id"),
]


def poisoned(good: DetectionEnvelope, edit: Poison) -> bytes:
    data = json.loads(encode(good))
    edit(data)
    return json.dumps(data).encode()


def reference_ids(tmp_path: Path) -> list[str]:
    return Sink(tmp_path / "reference.json").feed(recording())


@pytest.mark.parametrize(("name", "edit", "field"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_poison_envelope_is_refused_naming_the_field_and_the_camera_goes_on(
    tmp_path: Path, name: str, edit: Poison, field: str
) -> None:
    envelopes = recording()
    sink = Sink(tmp_path / "state.json")
    ids = sink.feed(envelopes[:18])
    bad = poisoned(envelopes[17], edit)
    with pytest.raises(MessageError) as refused:
        sink.handler.handle("detections/cam", bad)
    assert refused.value.reason.startswith(field), refused.value.reason
    sink.handler.flush()
    restarted = Sink(tmp_path / "state.json")  # from the checkpoint; the poison redelivered
    with pytest.raises(MessageError):
        restarted.handler.handle("detections/cam", bad)
    ids += restarted.feed(envelopes[18:])
    assert ids == reference_ids(tmp_path)


def test_a_retained_envelope_is_refused_as_a_stored_copy(tmp_path: Path) -> None:
    envelopes = recording()
    sink = Sink(tmp_path / "state.json")
    with pytest.raises(MessageError, match=r"^retain:"):
        sink.handler.handle("detections/cam", encode(envelopes[0]), retain=True)
    assert sink.feed(envelopes) == reference_ids(tmp_path)


IN_23_HOURS = format_timestamp(utc_now() + timedelta(hours=23))  # within max_clock_ahead_s


@pytest.mark.parametrize(
    ("run_id", "stray_run", "number", "timestamp"),
    [
        ("run-1", "bogus", 10**9, "2025-01-15T14:30:00.000Z"),
        (None, None, 3, "2025-01-15T15:30:00.000Z"),
        ("run-1", "run-1", 1017, IN_23_HOURS),
        (None, None, 1017, IN_23_HOURS),
    ],
    ids=[
        "a bogus run id",
        "numbers back, clock an hour ahead",
        "the same run, 23 hours ahead",
        "no run id, 23 hours ahead",
    ],
)
def test_a_stray_envelope_of_another_run_is_contained(
    tmp_path: Path, run_id: str | None, stray_run: str | None, number: int, timestamp: str
) -> None:
    """A plausible envelope of a run that is not the edge's: taken as a restart, after
    which the edge's own run resumes and its later crossings still give events."""
    envelopes = recording(run_id)
    sink = Sink(tmp_path / "state.json")
    sink.feed(envelopes[:18])
    stray = json.loads(encode(envelopes[17]))
    stray["frame"]["number"] = number
    stray["source"]["run_id"] = stray_run
    stray["source"]["timestamp"] = timestamp
    sink.handler.handle("detections/cam", json.dumps(stray).encode())
    sink.handler.flush()
    later = Sink(tmp_path / "state.json").feed(envelopes[18:])
    kinds = sorted(e.split("-")[1] for e in later)
    assert kinds == ["line_cross", "zone_enter"], later  # the second person, seen in full


def test_a_device_configured_for_another_camera_is_refused(tmp_path: Path) -> None:
    sink = Sink(tmp_path / "state.json")
    other = poisoned(recording()[0], _set("source.camera_id", "backyard"))
    with pytest.raises(
        MessageError, match=r"^source\.camera_id: 'backyard' is not the camera of d"
    ):
        sink.handler.handle("detections/backyard", other)


def test_a_poison_frame_number_within_the_jump_allowance_never_mutes_a_camera_with_a_run_id() -> (
    None
):
    """After ten minutes without a link an edge may jump 600,000 frames: one envelope
    numbered that far ahead, then the real frames of the same run (numbered lower,
    captured later) are no redeliveries: they go on, their crossings counted."""
    line = {"type": "vertical", "position_pct": 50, "name": "mid"}
    engine = Engine(settings({"lines": [line], "events": [rule("crossed", "LINE_CROSS")]}))

    def frame(number: int, seconds: float, boxes: list[Box]) -> FrameOutcome:
        env = envelope(number, boxes, seconds=seconds)
        source = env.source.model_copy(update={"run_id": "run-1"})
        return engine.process(env.model_copy(update={"source": source}))

    def across(track_id: int) -> list[list[Box]]:
        return walk(track_id, [(x, 400.0) for x in range(300, 1000, 25)])

    before = [frame(n, n * 0.04, boxes) for n, boxes in enumerate(across(1))]
    assert [str(e.event_type) for o in before for e in o.events] == ["LINE_CROSS"]
    poison = frame(500_000, 600.0, [])  # within 1000 + 1000 frames per second of capture
    assert poison.order is FrameOrder.NEXT
    after = [frame(15_035 + n, 600.04 + n * 0.04, b) for n, b in enumerate(across(2))]
    assert after[0].order is FrameOrder.RESTART
    assert {o.order for o in after[1:]} == {FrameOrder.NEXT}
    assert [str(e.event_type) for o in after for e in o.events] == ["LINE_CROSS"]
