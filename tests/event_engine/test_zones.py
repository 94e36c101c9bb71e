"""Zones from hand-written tracks: min_frames, exit hysteresis, dwell once, lost."""

from __future__ import annotations

from typing import Any

import pytest

from event_engine.engine import Engine
from tests.event_engine.walks import Box, rule, run, settings, summary, walk

# A zone x 400..800, y 300..600 in pixels.
PORCH = {"name": "porch", "points": [[400, 300], [800, 300], [800, 600], [400, 600]], "units": "px"}
IN, OUT = (600, 500), (1000, 500)
ALL_RULES = [
    rule("enter", "ZONE_ENTER"),
    rule("exit", "ZONE_EXIT"),
]


def engine_with(
    zone: dict[str, Any], rules: list[dict[str, Any]] | None = None, **device: Any
) -> Engine:
    events = rules if rules is not None else ALL_RULES
    return Engine(settings({"zones": [{**PORCH, **zone}], "events": events, **device}))


@pytest.mark.parametrize(
    ("min_frames", "path", "entered"),
    [
        (1, [OUT, IN], True),
        (3, [OUT, IN, IN], False),
        (3, [OUT, IN, IN, IN], True),
        (3, [OUT, IN, IN, OUT, IN, IN], False),
    ],
)
def test_enter_after_min_frames_inside(
    min_frames: int, path: list[tuple[float, float]], entered: bool
) -> None:
    events = run(engine_with({"min_frames": min_frames}), walk(1, path))
    assert (("ZONE_ENTER", 1, "None") in summary(events)) is entered


def test_a_flickering_box_does_not_flap_the_zone() -> None:
    path = [IN, OUT, IN, OUT, OUT, IN, OUT, OUT, OUT]
    events = run(engine_with({"exit_frames": 3}), walk(1, path))
    assert summary(events) == [("ZONE_ENTER", 1, "None"), ("ZONE_EXIT", 1, "left")]
    assert events[-1].frame_number == 8


def test_dwell_fires_once_per_visit_with_the_time_inside() -> None:
    zone = {"dwell_s": 0.1, "exit_frames": 1}
    rules = [*ALL_RULES, rule("stay", "ZONE_DWELL")]
    path = [IN] * 6 + [OUT] + [IN] * 4
    events = run(engine_with(zone, rules), walk(1, path))
    kinds = [e.event_type.value for e in events]
    assert kinds == ["ZONE_ENTER", "ZONE_DWELL", "ZONE_EXIT", "ZONE_ENTER", "ZONE_DWELL"]
    assert events[1].zone is not None
    assert events[1].zone.dwell_s == pytest.approx(0.12)


def test_a_track_lost_inside_exits_with_reason_lost_after_the_timeout() -> None:
    frames = walk(1, [IN, IN]) + [[Box.at_foot(2, *OUT)]] * 30  # 1.2 s later
    events = run(engine_with({}, track_timeout_s=1.0), frames)
    assert summary(events) == [("ZONE_ENTER", 1, "None"), ("ZONE_EXIT", 1, "lost")]
    assert events[1].frame_number == 27  # the first frame more than 1 s after frame 1
    assert events[1].zone is not None
    assert events[1].zone.dwell_s == pytest.approx(0.04)


def test_ended_tracks_are_evicted_so_memory_stays_flat() -> None:
    engine = engine_with({}, track_timeout_s=0.2)
    frames = [[Box.at_foot(n, *IN)] for n in range(200)]  # a new track every frame
    run(engine, frames)
    assert len(engine.states["cam"].tracks) <= 7


def test_zone_event_carries_its_polygon_in_pixels() -> None:
    events = run(engine_with({}), walk(1, [IN]))
    assert events[0].zone is not None
    assert events[0].zone.points == [(400, 300), (800, 300), (800, 600), (400, 600)]


@pytest.mark.parametrize(
    ("zone_filter", "box", "entered"),
    [
        ({"classes": ["dog"]}, {"class_name": "person"}, False),
        ({"classes": ["dog"]}, {"class_name": "dog"}, True),
        ({"min_confidence": 0.8}, {"confidence": 0.5}, False),
    ],
)
def test_zone_class_and_confidence_filters(
    zone_filter: dict[str, Any], box: dict[str, Any], entered: bool
) -> None:
    events = run(engine_with(zone_filter), walk(1, [IN], **box))
    assert bool(events) is entered


@pytest.mark.parametrize(("anchor", "entered"), [("bottom_center", True), ("center", False)])
def test_bottom_center_vs_center(anchor: str, entered: bool) -> None:
    # Feet at y=320 inside (zone starts at 300); the box centre at y=270 is above it.
    events = run(engine_with({"anchor": anchor}), walk(1, [(600, 320)]))
    assert bool(events) is entered


def test_untracked_boxes_never_enter() -> None:
    events = run(engine_with({}), [[Box.at_foot(None, *IN), Box.at_foot(None, 500, 400)]] * 3)
    assert events == []
