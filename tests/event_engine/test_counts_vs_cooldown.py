"""Counts follow reality; cool-downs only quiet notifications: every real crossing updates
``CameraState.crossings`` and ``class_crossings`` whatever the line's and the rule's
cool-downs, which only suppress events."""

from __future__ import annotations

import pytest

from event_engine.engine import Engine
from tests.event_engine.walks import Box, rule, run, settings, summary, walk

VERTICAL = {"type": "vertical", "position_pct": 50, "name": "mid"}  # x = 640
L, R = (600, 500), (680, 500)
L2R, R2L = ("LINE_CROSS", 1, "left_to_right"), ("LINE_CROSS", 1, "right_to_left")


def engine_with(line_cooldown: float, rule_cooldown: float) -> Engine:
    line = {**VERTICAL, "cooldown_s": line_cooldown}
    cross = rule("cross", "LINE_CROSS", cooldown_s=rule_cooldown)
    return Engine(settings({"lines": [line], "events": [cross]}))


@pytest.mark.parametrize(
    ("line_cooldown", "rule_cooldown", "path", "counts", "events"),
    [
        # Stop-and-go on the line, 40 ms a frame: 3 real crossings each time.
        (2.0, 0.0, [L, R, L, R], (2, 1), [L2R, R2L]),  # the line's cool-down quiets the 3rd
        (0.0, 0.0, [L, R, L, R], (2, 1), [L2R, R2L, L2R]),
        (0.0, 10.0, [L, R, L, R], (2, 1), [L2R]),  # the rule's cool-down quiets 2nd and 3rd
        (2.0, 10.0, [L, R, L, R], (2, 1), [L2R]),
        # Pacing: 7 crossings, the default line cool-down lets one event each way through.
        (2.0, 0.0, [L, R, L, R, L, R, L, R], (4, 3), [L2R, R2L]),
        # After the cool-down the next crossing is an event again (frames 0..2 then 60..61).
        (2.0, 0.0, [L, R, L, R] + [R] * 56 + [L, R], (3, 2), [L2R, R2L, R2L, L2R]),
        # Jitter in the band is no crossing at all: nothing to count.
        (2.0, 0.0, [L, (636, 500), (645, 500), (637, 500), R], (1, 0), [L2R]),
    ],
)
def test_counts_are_every_crossing_events_are_what_the_cooldowns_let_through(
    line_cooldown: float,
    rule_cooldown: float,
    path: list[tuple[float, float]],
    counts: tuple[int, int],
    events: list[tuple[str, int, str]],
) -> None:
    engine = engine_with(line_cooldown, rule_cooldown)
    got = run(engine, walk(1, path))
    state = engine.states["cam"]
    assert (
        state.crossings.get("mid|left_to_right", 0),
        state.crossings.get("mid|right_to_left", 0),
    ) == counts
    assert (
        state.class_crossings.get("mid|left_to_right|person", 0),
        state.class_crossings.get("mid|right_to_left|person", 0),
    ) == counts
    assert summary(got) == events


def test_the_count_matches_where_the_objects_are() -> None:
    """However the cool-downs quiet the events, rightward minus leftward crossings is how
    many more objects are right of the line than were at the start."""
    engine = engine_with(2.0, 5.0)
    pacing = [
        [Box.at_foot(track, *(R if (step + track) % 2 else L)) for track in (1, 2, 3)]
        for step in range(8)
    ]
    ends = {1: R, 2: L, 3: R}
    last = [Box.at_foot(track, *where) for track, where in ends.items()]
    events = run(engine, [*pacing, last])
    state = engine.states["cam"]
    net = state.crossings["mid|left_to_right"] - state.crossings["mid|right_to_left"]
    started_right = {track: track % 2 == 1 for track in ends}
    assert net == sum((ends[t] == R) - started_right[t] for t in ends)
    assert sum(state.crossings.values()) == 24  # 7 side changes each pacing, 1 to the end
    assert len(events) == 3  # one per track: the rule's 5 s cool-down quiets the rest


def test_a_quiet_crossing_still_tells_the_handler_the_counts_changed() -> None:
    """The handler republishes Home Assistant's counts for a frame with occurrences: a
    crossing quieted by the line's cool-down is one (quiet), and no rule fires for it."""
    from tests.event_engine.walks import envelope

    engine = engine_with(2.0, 0.0)
    outcomes = [engine.process(envelope(n, boxes)) for n, boxes in enumerate(walk(1, [L, R, L, R]))]
    third = outcomes[3]
    assert [(o.quiet, o.line.direction if o.line else None) for o in third.occurrences] == [
        (True, "left_to_right")
    ]
    assert third.events == []
