"""Line crossings from hand-written tracks: directions, jitter, cool-down, lost/re-acquired."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from event_engine.engine import Engine
from sightline.messages.event import Direction
from tests.event_engine.walks import Box, rule, run, settings, summary, walk

VERTICAL = {"type": "vertical", "position_pct": 50, "name": "mid"}  # x = 640
HORIZONTAL = {"type": "horizontal", "position_pct": 50, "name": "mid"}  # y = 360
GATE = {"type": "polyline", "name": "mid", "points": [[400, 400], [900, 400]], "units": "px"}


def engine_with(line: dict[str, Any], **match: Any) -> Engine:
    return Engine(settings({"lines": [line], "events": [rule("cross", "LINE_CROSS", **match)]}))


@pytest.mark.parametrize(
    ("line", "path", "direction"),
    [
        (VERTICAL, [(600, 500), (630, 500), (650, 500), (680, 500)], "left_to_right"),
        (VERTICAL, [(680, 500), (650, 500), (630, 500), (600, 500)], "right_to_left"),
        (HORIZONTAL, [(300, 320), (300, 350), (300, 370), (300, 400)], "top_to_bottom"),
        (HORIZONTAL, [(300, 400), (300, 370), (300, 350), (300, 320)], "bottom_to_top"),
        ({**GATE, "in_side": "right"}, [(600, 350), (600, 390), (600, 420)], "in"),
        ({**GATE, "in_side": "right"}, [(600, 420), (600, 390), (600, 350)], "out"),
        ({**GATE, "in_side": "left"}, [(600, 350), (600, 390), (600, 420)], "out"),
    ],
)
def test_each_direction_is_named(
    line: dict[str, Any], path: list[tuple[float, float]], direction: str
) -> None:
    events = run(engine_with(line), walk(1, path))
    assert summary(events) == [("LINE_CROSS", 1, direction)]


def test_a_track_jittering_on_the_line_counts_once() -> None:
    xs = [600, 636, 644, 637, 646, 635, 643, 660, 645, 639, 700]
    events = run(engine_with(VERTICAL), walk(1, [(x, 500) for x in xs]))
    assert summary(events) == [("LINE_CROSS", 1, "left_to_right")]


def test_the_same_direction_again_within_the_cooldown_counts_once() -> None:
    line = {**VERTICAL, "cooldown_s": 2.0}
    back_and_forth = [(600, 500), (680, 500), (600, 500), (680, 500)]  # 40 ms apart
    events = run(engine_with(line), walk(1, back_and_forth))
    assert summary(events) == [
        ("LINE_CROSS", 1, "left_to_right"),
        ("LINE_CROSS", 1, "right_to_left"),
    ]


def test_the_same_direction_after_the_cooldown_counts_again() -> None:
    line = {**VERTICAL, "cooldown_s": 0.05}
    events = run(engine_with(line), walk(1, [(600, 500), (680, 500), (600, 500), (680, 500)]))
    assert [s[2] for s in summary(events)] == ["left_to_right", "right_to_left", "left_to_right"]


def test_lost_on_one_side_and_reacquired_on_the_other_counts_once() -> None:
    frames = walk(1, [(560, 500), (600, 500)]) + [[]] * 10 + walk(1, [(700, 500), (720, 500)])
    events = run(engine_with(VERTICAL), frames)
    assert summary(events) == [("LINE_CROSS", 1, "left_to_right")]


def test_untracked_detections_never_cross() -> None:
    frames = [[Box.at_foot(None, x, 500), Box.at_foot(None, 1300 - x, 500)] for x in (600, 700)]
    assert run(engine_with(VERTICAL), frames) == []


@pytest.mark.parametrize(
    ("anchor", "crossings"),
    [("bottom_center", 1), ("center", 0)],
)
def test_the_anchor_decides_which_point_of_the_box_crosses(anchor: str, crossings: int) -> None:
    # Feet go from y=340 to y=380 across y=360; the box centre stays above (290 -> 330).
    line = {**HORIZONTAL, "anchor": anchor}
    events = run(engine_with(line), walk(1, [(300, 340), (300, 380)]))
    assert len(events) == crossings


@pytest.mark.parametrize(
    ("line_filter", "box", "crossings"),
    [
        ({"classes": ["car"]}, {"class_name": "person"}, 0),
        ({"classes": ["car"]}, {"class_name": "car"}, 1),
        ({"min_confidence": 0.5}, {"confidence": 0.4}, 0),
    ],
)
def test_line_class_and_confidence_filters(
    line_filter: dict[str, Any], box: dict[str, Any], crossings: int
) -> None:
    events = run(engine_with({**VERTICAL, **line_filter}), walk(1, [(600, 500), (680, 500)], **box))
    assert len(events) == crossings


def test_polyline_is_not_crossed_around_its_end() -> None:
    events = run(engine_with(GATE), walk(1, [(950, 350), (1000, 400), (950, 450)]))
    assert events == []


def test_crossing_event_carries_the_line_in_pixels_and_a_deterministic_id() -> None:
    first = run(engine_with(VERTICAL), walk(1, [(600, 500), (680, 500)]))
    again = run(engine_with(VERTICAL), walk(1, [(600, 500), (680, 500)]))
    assert first[0].line is not None
    assert first[0].line.points == [(640.0, 0.0), (640.0, 720.0)]
    assert first[0].event_id == again[0].event_id
    assert first[0].frame_number == 1


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=560, max_value=720), min_size=1, max_size=40))
def test_any_walk_from_left_to_right_nets_exactly_one_crossing(middle: list[float]) -> None:
    path = [(600.0, 500.0), *((x, 500.0) for x in middle), (700.0, 500.0)]
    events = run(engine_with({**VERTICAL, "cooldown_s": 0}), walk(1, path))
    directions = [e.line.direction for e in events if e.line is not None]
    assert (
        directions.count(Direction.LEFT_TO_RIGHT) - directions.count(Direction.RIGHT_TO_LEFT) == 1
    )
    assert all(a != b for a, b in itertools.pairwise(directions))
