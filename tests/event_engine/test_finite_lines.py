"""Finite lines: past a polyline's free end the side is unknown, so walking around the end is
not a crossing, while a track lost on one side and re-acquired on the other (within the
line's reach) still counts once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from event_engine.crossing import UNKNOWN, sides_of
from event_engine.engine import Engine
from event_engine.geometry import LineGeometry
from sightline.config.engine import LineConfig
from tests.event_engine.walks import Box, rule, run, settings, summary, walk

# A segment from x 400 to x 900 at y 400; below it is "in". Reach: 8 px past each end.
GATE = {
    "type": "polyline",
    "name": "gate",
    "points": [[400, 400], [900, 400]],
    "units": "px",
    "in_side": "right",
    "cooldown_s": 0,
}
IN, OUT = ("LINE_CROSS", 1, "in"), ("LINE_CROSS", 1, "out")
GAP: list[list[Box]] = [[]] * 10  # 0.4 s without the track (track_timeout_s is 5 s)


def engine_with(**line: Any) -> Engine:
    return Engine(settings({"lines": [{**GATE, **line}], "events": [rule("r", "LINE_CROSS")]}))


def frames_of(*parts: list[tuple[float, float]] | list[list[Box]]) -> list[list[Box]]:
    """Foot positions of track 1 (lists of points) and gaps (lists of frames), in order."""
    frames: list[list[Box]] = []
    for part in parts:
        if part and isinstance(part[0], tuple):
            frames += walk(1, part)  # type: ignore[arg-type]
        else:
            frames += part  # type: ignore[arg-type]
    return frames


@pytest.mark.parametrize(
    ("name", "frames", "expected"),
    [
        # Around the free right end (50 px past it), from above to below and back: nothing.
        ("around the right end", frames_of([(850, 350), (950, 350), (950, 450), (850, 450)]), []),
        ("around it, wider", frames_of([(880, 300), (1000, 300), (1000, 500), (880, 500)]), []),
        ("around the left end", frames_of([(450, 350), (350, 350), (350, 450), (450, 450)]), []),
        (
            "round and back",
            frames_of([(850, 350), (950, 400), (850, 450), (950, 400), (850, 350)]),
            [],
        ),
        # Through the segment, near its end or past it within the reach: counted.
        ("through the middle", frames_of([(650, 350), (650, 450)]), [IN]),
        ("5 px past the end", frames_of([(905, 380), (905, 420)]), [IN]),
        ("diagonally off the end", frames_of([(890, 380), (904, 420)]), [IN]),
        ("20 px past the end", frames_of([(920, 380), (920, 420)]), []),
        # Lost on one side and re-acquired on the other within the reach: once.
        ("lost and re-acquired", frames_of([(600, 350)], GAP, [(650, 450), (660, 470)]), [IN]),
        ("re-acquired near the end", frames_of([(880, 350)], GAP, [(906, 450)]), [IN]),
        ("lost, back the same side", frames_of([(600, 350)], GAP, [(650, 350)]), []),
        # Seen past the end in between: where it went round is unknown, nothing counts.
        ("lost, seen past the end", frames_of([(850, 350)], GAP, [(950, 450), (850, 450)]), []),
        # Past the end first, then through the segment: one crossing.
        ("past the end, then through", frames_of([(950, 350), (850, 350), (850, 450)]), [IN]),
        ("and back", frames_of([(950, 350), (850, 350), (850, 450), (850, 350)]), [IN, OUT]),
    ],
)
def test_a_walk_near_a_finite_line(
    name: str, frames: list[list[Box]], expected: list[tuple[str, int, str]]
) -> None:
    assert summary(run(engine_with(), frames)) == expected, name


@pytest.mark.parametrize(("tolerance", "crossings"), [(8, 0), (25, 1)])
def test_the_reach_past_the_ends_is_configurable(tolerance: float, crossings: int) -> None:
    frames = walk(1, [(920, 380), (920, 420)])  # 20 px past the end
    assert len(run(engine_with(end_tolerance_px=tolerance), frames)) == crossings


def test_the_side_is_forgotten_past_the_end_and_kept_while_lost() -> None:
    engine = engine_with()
    run(engine, walk(1, [(850, 350)]))
    track = engine.states["cam"].tracks[1]
    assert track.sides == {"gate": -1}
    run(engine, GAP, start=1)
    assert track.sides == {"gate": -1}  # unseen: the last known side stays
    run(engine, walk(1, [(850, 402)]), start=11)
    assert track.sides == {"gate": -1}  # in the band: stays too
    run(engine, walk(1, [(950, 350)]), start=12)
    assert track.sides == {}  # past the end: unknown


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((650, 430), 30.0),  # under the middle
        ((650, 390), -10.0),
        ((905, 430), 30.0),  # 5 px past the right end: the end segment's perpendicular
        ((396, 370), -30.0),  # 4 px before the left end
        ((907.5, 430), 30.0),  # just within the reach
        ((909, 430), math.nan),  # further: unknown
        ((380, 400), math.nan),
        ((900, 700), 300.0),  # right under the end: within reach, far below
        ((960, 700), math.nan),
    ],
)
def test_signed_distance_near_the_ends(point: tuple[float, float], expected: float) -> None:
    line = LineGeometry.from_config(LineConfig.model_validate(GATE), 1280, 720)
    (distance,) = line.signed_distance(np.array([point], dtype=np.float64))
    if math.isnan(expected):
        assert math.isnan(distance)
    else:
        assert distance == pytest.approx(expected)


def test_an_undefined_distance_is_the_unknown_side() -> None:
    sides = sides_of(np.array([math.nan, 20.0, -20.0, 3.0]), 8, 8)
    assert sides.tolist() == [UNKNOWN, 1, -1, 0]


def test_a_segment_and_the_same_segment_with_a_straight_vertex_agree() -> None:
    two = LineGeometry.from_config(LineConfig.model_validate(GATE), 1280, 720)
    three = LineGeometry.from_config(
        LineConfig.model_validate({**GATE, "points": [[400, 400], [650, 400], [900, 400]]}),
        1280,
        720,
    )
    anchors = np.random.default_rng(11).uniform((300, 200), (1000, 600), size=(2000, 2))
    assert np.allclose(two.signed_distance(anchors), three.signed_distance(anchors), equal_nan=True)
