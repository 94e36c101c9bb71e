"""A track's class is decided over its life (a confidence-weighted vote), not by the frames
at the line: the rules, the event's ``object.class_name`` and the per-class counts agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.tracks import MAX_CLASSES
from tests.event_engine.walks import Box, rule, run, settings

LINE = {"type": "vertical", "position_pct": 50, "name": "mid"}  # x = 640 px, band 8 px
XS = [460 + 20 * i for i in range(16)]  # confirmed right of the line at frame 10 (x = 660)
RULES = [
    rule("cars", "LINE_CROSS", classes=["car"]),
    rule("trucks", "LINE_CROSS", classes=["truck"]),
]


def labelled(*spans: tuple[int, str, float]) -> list[list[Box]]:
    """Track 1 along ``XS``; each ``(frames, class, confidence)`` span labels that many."""
    labels = [(name, confidence) for count, name, confidence in spans for _ in range(count)]
    assert len(labels) == len(XS)
    return [
        [Box.at_foot(1, x, 680, class_name=name, confidence=confidence)]
        for x, (name, confidence) in zip(XS, labels, strict=True)
    ]


AT_THE_LINE = labelled((9, "car", 0.8), (3, "truck", 0.7), (4, "car", 0.8))
WEAK_MANY = labelled((4, "car", 0.9), (12, "truck", 0.3))
MIND_CHANGE = labelled((7, "car", 0.9), (9, "truck", 0.9))

CASES: list[tuple[str, dict[str, Any], list[list[Box]], list[tuple[str, str, int]], str]] = [
    # name, device settings, frames, (rule, class, frame) per event, class of the count
    (
        "a car labelled truck on the three frames at the line is a car",
        {},
        AT_THE_LINE,
        [("cars", "car", 10)],
        "car",
    ),
    (
        "a few confident labels outweigh many weak ones",
        {},
        WEAK_MANY,
        [("cars", "car", 10)],
        "car",
    ),
    (
        "a truck throughout is a truck",
        {},
        labelled((16, "truck", 0.6)),
        [("trucks", "truck", 10)],
        "truck",
    ),
    (
        "a long life outvotes four frames of another label",
        {},
        MIND_CHANGE,
        [("cars", "car", 10)],
        "car",
    ),
    (
        "with a short class_memory the track changes its mind sooner",
        {"tracking": {"class_memory": 2.0}},
        MIND_CHANGE,
        [("trucks", "truck", 10)],
        "truck",
    ),
    (
        "the line's class filter sees the voted class",
        {"lines": [{**LINE, "classes": ["car"]}]},
        AT_THE_LINE,
        [("cars", "car", 10)],
        "car",
    ),
]


def device(extra: dict[str, Any]) -> dict[str, Any]:
    return {"lines": [LINE], "events": RULES, **extra}


@pytest.mark.parametrize(
    ("extra", "frames", "expected", "counted"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_class_of_a_track(
    extra: dict[str, Any],
    frames: list[list[Box]],
    expected: list[tuple[str, str, int]],
    counted: str,
) -> None:
    engine = Engine(settings(device(extra)))
    events = run(engine, frames)
    assert [(e.rule, e.object.class_name, e.frame_number) for e in events] == expected
    assert engine.states["cam"].class_crossings == {f"mid|left_to_right|{counted}": 1}


def test_a_track_remembers_a_bounded_vote() -> None:
    engine = Engine(settings(device({})))
    frames = [[Box.at_foot(1, 500, 680, class_name=f"class{n}")] for n in range(3 * MAX_CLASSES)]
    frames += [[Box.at_foot(1, 500, 680, class_name="car")]] * 100
    run(engine, frames)
    track = engine.states["cam"].tracks[1]
    assert len(track.class_votes) <= MAX_CLASSES
    assert sum(track.class_votes.values()) <= 30.0 + 1e-6  # tracking.class_memory
    assert track.object_class == "car"


def test_a_restart_at_any_frame_mid_vote_gives_the_same_events_and_counts(tmp_path: Path) -> None:
    config = settings(device({}))
    whole = Engine(config)
    uninterrupted = run(whole, AT_THE_LINE)
    for split in range(1, len(AT_THE_LINE)):
        store = Checkpoint(tmp_path / f"state-{split}.json")
        first = Engine(config)
        events = run(first, AT_THE_LINE[:split])
        store.save(first.states)
        second = Engine(config, store.load())
        events += run(second, AT_THE_LINE[split:], start=split)
        assert events == uninterrupted, f"restarted after frame {split - 1}"
        assert second.states["cam"].class_crossings == whole.states["cam"].class_crossings
