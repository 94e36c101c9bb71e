"""Tracker id switches: a new track near where a lost one was heading continues it.

ByteTrack drops an id and gives the same object a new one a few frames later; these tables
build exactly that (a walk, a few empty frames, the walk going on under a new id, with
jittered boxes) and pin what the engine makes of it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from event_engine import tracks
from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from sightline.messages.event import Event
from tests.event_engine.walks import Box, rule, run, settings, walk

LINE = {"type": "vertical", "position_pct": 50, "name": "mid"}  # x = 640 px, band 8 px
ZONE = {
    "name": "z",
    "points": [[400, 300], [800, 300], [800, 600], [400, 600]],
    "units": "px",
    "dwell_s": 1.0,
}
RULES = [
    rule("cross", "LINE_CROSS"),
    rule("enter", "ZONE_ENTER"),
    rule("exit", "ZONE_EXIT"),
    rule("stay", "ZONE_DWELL"),
]
ROAD, SKY = 680.0, 250.0  # feet rows outside the zone


def along(xs: list[float], y: float = ROAD) -> list[tuple[float, float]]:
    return [(x, y) for x in xs]


def gap(frames: int) -> list[list[Box]]:
    """Frames in which the tracker reports nothing (the id was dropped)."""
    return [[] for _ in range(frames)]


def together(*walks: list[list[Box]]) -> list[list[Box]]:
    """Several walks in the same frames."""
    return [[box for boxes in frame for box in boxes] for frame in zip(*walks, strict=True)]


def jitter(frames: list[list[Box]], seed: int, pixels: float = 3.0) -> list[list[Box]]:
    """Each box edge moved by up to ``pixels``, as a detector's boxes wobble."""
    rng = random.Random(seed)

    def wobble(box: Box) -> Box:
        x1, y1, x2, y2 = (
            v + rng.uniform(-pixels, pixels) for v in (box.x1, box.y1, box.x2, box.y2)
        )
        return Box(box.track_id, x1, y1, x2, y2, box.class_name, box.confidence)

    return [[wobble(box) for box in boxes] for boxes in frames]


SPLIT = walk(1, along([560, 580, 600, 620])) + gap(3) + walk(2, along([670, 690, 710]))

CASES: list[tuple[str, dict[str, Any], list[list[Box]], list[tuple[str, int, str, int | None]]]] = [
    (
        "a crossing split across the switch counts once, by the new id",
        {},
        SPLIT,
        [("LINE_CROSS", 2, "left_to_right", 1)],
    ),
    (
        "the same with jittered boxes",
        {},
        jitter(SPLIT, seed=15),
        [("LINE_CROSS", 2, "left_to_right", 1)],
    ),
    (
        "a switch after the crossing counts nothing more",
        {},
        walk(1, along([600, 640, 680, 700])) + gap(2) + walk(2, along([740, 760])),
        [("LINE_CROSS", 1, "left_to_right", None)],
    ),
    (
        "a dwell goes on across the switch: no exit and enter",
        {},
        walk(1, [(500, 500)] * 15) + gap(3) + walk(2, [(505, 502)] * 15),
        [("ZONE_ENTER", 1, "", None), ("ZONE_DWELL", 2, "", 1)],
    ),
    (
        "a newcomer far from where the lost one was heading is someone else",
        {},
        walk(1, along([560, 580, 600, 620])) + gap(3) + walk(2, along([900, 920, 940])),
        [],
    ),
    (
        "a newcomer behind the lost one is someone else",
        {},
        walk(1, along([700, 680, 660, 640, 620])) + gap(3) + walk(2, along([760, 780])),
        [("LINE_CROSS", 1, "right_to_left", None)],
    ),
    (
        "a fast walker re-acquired far ahead on its heading continues it",
        {},
        walk(1, along([560, 580, 600, 620])) + gap(20) + walk(2, along([900, 920])),
        [("LINE_CROSS", 2, "left_to_right", 1)],
    ),
    (
        "a newcomer after continue_within_s is someone else",
        {},
        walk(1, along([560, 580, 600, 620])) + gap(40) + walk(2, along([670, 690])),
        [],
    ),
    (
        "a newcomer of another class is another object",
        {},
        walk(1, along([560, 580, 600, 620]))
        + gap(3)
        + walk(2, along([670, 690]), class_name="car"),
        [],
    ),
    (
        "a live track is never continued",
        {},
        walk(1, along([560, 580, 600, 610]))
        + together(walk(1, along([610, 610, 610])), walk(2, along([670, 690, 710]))),
        [],
    ),
    (
        "a newcomer in the very next frame is not how ByteTrack switches (lost_frames 2)",
        {},
        walk(1, along([560, 580, 600, 620])) + walk(2, along([640, 660, 680])),
        [],
    ),
    (
        "... unless lost_frames is 1",
        {"tracking": {"lost_frames": 1}},
        walk(1, along([560, 580, 600, 620])) + walk(2, along([640, 660, 680])),
        [("LINE_CROSS", 2, "left_to_right", 1)],
    ),
    (
        "one lost track, two newcomers: only the nearest continues it",
        {},
        walk(1, along([560, 580, 600, 620]))
        + gap(2)
        + together(walk(3, along([700, 720])), walk(2, along([680, 700]))),
        [("LINE_CROSS", 2, "left_to_right", 1)],
    ),
    (
        "two lost tracks, two newcomers: each continues its own",
        {},
        together(walk(1, along([560, 580, 600, 620])), walk(3, along([560, 580, 600, 620], SKY)))
        + gap(2)
        + together(walk(7, along([680, 700], SKY)), walk(8, along([680, 700]))),
        [("LINE_CROSS", 7, "left_to_right", 3), ("LINE_CROSS", 8, "left_to_right", 1)],
    ),
    (
        "a chain of switches names the first id",
        {},
        walk(1, along([540, 560, 580]))
        + gap(2)
        + walk(2, along([620, 620]))
        + gap(2)
        + walk(3, along([660, 680, 700])),
        [("LINE_CROSS", 3, "left_to_right", 1)],
    ),
    (
        "rule cool-downs carry over to the new id",
        {
            "lines": [{**LINE, "cooldown_s": 0}],
            "events": [rule("in", "LINE_CROSS", direction="left_to_right", cooldown_s=30)],
        },
        walk(1, along([600, 680, 700, 640, 600, 590])) + gap(2) + walk(2, along([620, 680, 700])),
        [("LINE_CROSS", 1, "left_to_right", None)],
    ),
    (
        "continue_within_s 0 turns the mending off",
        {"tracking": {"continue_within_s": 0}},
        SPLIT,
        [],
    ),
]


def device(extra: dict[str, Any]) -> dict[str, Any]:
    return {"lines": [LINE], "zones": [ZONE], "events": RULES, **extra}


def described(events: list[Event]) -> list[tuple[str, int, str, int | None]]:
    return [
        (
            str(e.event_type),
            e.object.track_id,
            str(e.line.direction) if e.line else "",
            e.object.continued_from,
        )
        for e in events
    ]


@pytest.mark.parametrize(
    ("extra", "frames", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_an_id_switch(
    extra: dict[str, Any],
    frames: list[list[Box]],
    expected: list[tuple[str, int, str, int | None]],
) -> None:
    events = run(Engine(settings(device(extra))), frames)
    assert described(events) == expected


def test_a_switched_track_keeps_its_voted_class_and_its_counts_follow() -> None:
    engine = Engine(settings(device({})))
    cars = walk(1, along([560, 580, 600, 620]), class_name="car")
    events = run(engine, cars + gap(2) + walk(2, along([660, 680]), class_name="car"))
    assert [(e.object.class_name, e.object.continued_from) for e in events] == [("car", 1)]
    assert engine.states["cam"].class_crossings == {"mid|left_to_right|car": 1}
    assert engine.states["cam"].crossings == {"mid|left_to_right": 1}


RESTARTED = [0, 3, 15]  # a split crossing, a dwell, a cool-down carried over


@pytest.mark.parametrize("case", RESTARTED, ids=[CASES[i][0] for i in RESTARTED])
def test_a_restart_at_any_frame_mid_switch_gives_the_same_events(tmp_path: Path, case: int) -> None:
    _, extra, frames, expected = CASES[case]
    assert expected, "a case where the switch matters"
    config = settings(device(extra))
    uninterrupted = run(Engine(config), frames)
    for split in range(1, len(frames)):
        store = Checkpoint(tmp_path / f"state-{split}.json")
        first = Engine(config)
        events = run(first, frames[:split])
        store.save(first.states)
        events += run(Engine(config, store.load()), frames[split:], start=split)
        assert events == uninterrupted, f"restarted after frame {split - 1}"


def test_a_crowd_renumbered_every_frame_weighs_a_bounded_number_of_pairs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """999 standing people renumbered at once (a tracker at its worst, or a hostile edge)
    would be 1,000,000 pairs to weigh in one frame; at most MAX_SWITCH_PAIRS are, the latest
    lost tracks first, so a real switch among them is still found; said once per camera."""
    weighed = 0
    real = tracks.heading_distance

    def counted(*args: Any) -> float:
        nonlocal weighed
        weighed += 1
        return real(*args)

    monkeypatch.setattr(tracks, "heading_distance", counted)

    def crowd(first_id: int) -> list[Box]:
        return [
            Box.at_foot(first_id + i, 10 + (i % 50) * 25, 150 + (i // 50) * 5) for i in range(999)
        ]

    walker = walk(5000, along([560, 580, 600, 620])) + gap(2) + walk(1500, along([660, 680]))
    crowds = [crowd(1), crowd(1), [], [], [], [], crowd(2001), crowd(2001), [], [], crowd(4001)]
    walker += gap(len(crowds) - len(walker))
    engine = Engine(settings(device({})))
    with caplog.at_level("WARNING", logger="event_engine.camera"):
        events = run(engine, together(walker, [[*boxes] for boxes in crowds]))

    assert described(events) == [("LINE_CROSS", 1500, "left_to_right", 5000)]
    assert 0 < weighed <= 2 * tracks.MAX_SWITCH_PAIRS  # two renumbered frames
    said = [r.getMessage() for r in caplog.records if "new track ids" in r.getMessage()]
    assert len(said) == 1, said
    assert "1000 new track ids and 1000 lost tracks in frame 6" in said[0]
