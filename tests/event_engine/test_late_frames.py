"""Late frames: an envelope that arrives after a later one of its camera (QoS 1 redelivery
after a reconnect, a bridge) is used for the tracks it is news for, within a bounded
reorder window; a true duplicate is still ignored, and a gap filled late is not missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from sightline.messages import DetectionEnvelope
from sightline.messages.event import Event
from tests.event_engine.walks import Box, envelope, rule, settings, walk

LINE = {"type": "vertical", "position_pct": 50, "name": "mid"}  # x = 640 px, band 8 px
ROAD, SKY = 680.0, 250.0
XS = [560, 580, 600, 620, 640, 660, 680, 700, 720, 740]  # confirmed right of the line at 5

WALK = walk(1, [(x, ROAD) for x in XS])
# Track 2 crosses in frame 5 and the detector misses it in frame 6; track 1 stays left.
MISSED = [
    [Box.at_foot(1, 560, ROAD), *([Box.at_foot(2, x, SKY)] if n != 6 else [])]
    for n, x in enumerate(XS)
]
STILL = walk(1, [(600, ROAD)] * 70)


def arrival(first: int, last: int, *late: int) -> list[int]:
    """Frames ``first..last`` in order without ``late``, which arrive after them."""
    return [n for n in range(first, last + 1) if n not in late] + list(late)


CASES: list[tuple[str, dict[str, Any], list[list[Box]], list[int], list[tuple[int, int]], int]] = [
    # name, tracking settings, frames, arrival order, (track, frame) of each crossing, missing
    ("in order", {}, WALK, list(range(10)), [(1, 5)], 0),
    (
        "two frames swapped at the line: one crossing, nothing missing",
        {},
        WALK,
        [0, 1, 2, 3, 4, 6, 5, 7, 8, 9],
        [(1, 6)],
        0,
    ),
    (
        "a redelivered frame is still ignored, a late one's redelivery too",
        {},
        WALK,
        [0, 1, 2, 3, 4, 5, 5, 7, 6, 6, 8, 9],
        [(1, 5)],
        0,
    ),
    (
        "a late frame is news for the track it was missing from",
        {},
        MISSED,
        [0, 1, 2, 3, 4, 6, 5, 7, 8, 9],
        [(2, 5)],
        0,
    ),
    ("a gap filled late is not missing", {}, WALK, [0, 1, 2, 4, 5, 3, 6, 9, 8, 7], [(1, 5)], 0),
    (
        "beyond reorder_frames: dropped and counted missing",
        {},
        STILL,
        arrival(0, 69, 5),
        [],
        1,
    ),
    (
        "beyond reorder_s: dropped and counted missing",
        {"reorder_s": 0.03},
        MISSED,
        [0, 1, 2, 3, 4, 6, 5, 7, 8, 9],
        [(2, 7)],
        1,
    ),
    (
        "reorder_frames 0: late frames are duplicates, as before",
        {"reorder_frames": 0},
        MISSED,
        [0, 1, 2, 3, 4, 6, 5, 7, 8, 9],
        [(2, 7)],
        1,
    ),
]
ORDERS = {
    "a redelivered frame is still ignored, a late one's redelivery too": [
        *["next"] * 6,
        "duplicate",
        "next",
        "late",
        "duplicate",
        "next",
        "next",
    ],
    "beyond reorder_frames: dropped and counted missing": [*["next"] * 69, "duplicate"],
}


def numbered(
    frames: list[list[Box]], order: list[int], run_id: str | None
) -> list[DetectionEnvelope]:
    envelopes = []
    for number in order:
        env = envelope(number, frames[number])
        source = env.source.model_copy(update={"run_id": run_id})
        envelopes.append(env.model_copy(update={"source": source}))
    return envelopes


def make_engine(tracking: dict[str, Any]) -> Engine:
    return Engine(
        settings({"lines": [LINE], "events": [rule("cross", "LINE_CROSS")], "tracking": tracking})
    )


@pytest.mark.parametrize("run_id", [None, "run-1"], ids=["seed-format edge", "edge with run_id"])
@pytest.mark.parametrize(
    ("tracking", "frames", "order", "crossings", "missing"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_late_frames(
    request: pytest.FixtureRequest,
    run_id: str | None,
    tracking: dict[str, Any],
    frames: list[list[Box]],
    order: list[int],
    crossings: list[tuple[int, int]],
    missing: int,
) -> None:
    engine = make_engine(tracking)
    outcomes = [engine.process(env) for env in numbered(frames, order, run_id)]
    events = [event for outcome in outcomes for event in outcome.events]
    assert [(e.object.track_id, e.frame_number) for e in events] == crossings
    assert engine.gaps.missing["cam"] == missing
    for name, orders in ORDERS.items():
        if name in request.node.callspec.id:
            assert [str(o.order) for o in outcomes] == orders
    late = [n for n, o in zip(order, outcomes, strict=True) if str(o.order) == "late"]
    assert all(n < max(order[: order.index(n)]) for n in late), "only a frame behind is late"


def test_a_late_frame_is_recognised_after_a_restart_of_the_engine(tmp_path: Path) -> None:
    store = Checkpoint(tmp_path / "state.json")
    envelopes = numbered(MISSED, [0, 1, 2, 3, 4, 6], "run-1")
    first = make_engine({})
    for env in envelopes:
        first.process(env)
    store.save(first.states)
    again = make_engine({})
    again.states.update(store.load())
    late, dup, redelivered, after = numbered(MISSED, [5, 5, 6, 7], "run-1")
    outcomes = [again.process(env) for env in (late, dup, redelivered, after)]
    assert [str(o.order) for o in outcomes] == ["late", "duplicate", "duplicate", "next"]
    events: list[Event] = [e for o in outcomes for e in o.events]
    assert [(e.object.track_id, e.frame_number) for e in events] == [(2, 5)]


def test_a_checkpoint_from_before_late_frames_takes_every_earlier_frame_as_seen(
    tmp_path: Path,
) -> None:
    store = Checkpoint(tmp_path / "state.json")
    first = make_engine({})
    for env in numbered(MISSED, [0, 1, 2, 3, 4, 6], "run-1"):
        first.process(env)
    store.save(first.states)
    saved = json.loads(store.path.read_text())
    run = saved["cam"]["runs"]["current"]
    del run["seen"], run["seen_from"]  # written by an engine that knew no late frames
    store.path.write_text(json.dumps(saved))
    again = make_engine({})
    again.states.update(store.load())
    late, after, late_after = numbered(MISSED, [5, 7, 5], "run-1")
    assert [str(again.process(env).order) for env in (late, after)] == ["duplicate", "next"]
    assert str(again.process(late_after).order) == "duplicate"  # behind the first frame seen
