"""Polylines with sharp corners: the side is right everywhere around a vertex, including on
the outside of a vertex sharper than 90 degrees (where the nearest segment's own side is
wrong for part of the points nearest the vertex)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from event_engine.engine import Engine
from event_engine.geometry import LineGeometry
from sightline.config.engine import LineConfig
from tests.event_engine.walks import rule, run, settings, summary, walk

Point = tuple[float, float]


def corner(interior_deg: float, turn: int, heading_deg: float) -> tuple[Point, Point, Point]:
    """A 3-point polyline whose middle vertex (640, 360) has the given interior angle, turning
    left (+1) or right (-1), the first arm coming in along ``heading_deg``; arms 300 px."""
    heading = math.radians(heading_deg)
    vertex = (640.0, 360.0)
    start = (vertex[0] - 300 * math.cos(heading), vertex[1] - 300 * math.sin(heading))
    out = heading + turn * (math.pi - math.radians(interior_deg))
    end = (vertex[0] + 300 * math.cos(out), vertex[1] + 300 * math.sin(out))
    return start, vertex, end


def true_sign(points: tuple[Point, Point, Point], p: Point) -> int:
    """+1 right of the walking direction, -1 left, by the angular sector of ``p`` between the
    two arms -- independent of distances: the side a person sees."""
    a, v, b = (np.asarray(q) for q in points)
    seg = v - a
    normal = np.array([-seg[1], seg[0]]) / np.hypot(*seg)  # right of the first arm, on screen
    reference = (a + v) / 2 + normal  # 1 px right of the first arm's middle

    def angle(q: np.ndarray) -> float:
        return math.atan2(q[1] - v[1], q[0] - v[0]) % math.tau

    to_a, to_b = angle(a), angle(b)

    def in_arc(q: np.ndarray) -> bool:
        return (angle(q) - to_b) % math.tau < (to_a - to_b) % math.tau

    return 1 if in_arc(np.asarray(p)) == in_arc(reference) else -1


@pytest.mark.parametrize("interior", [5, 20, 45, 60, 89, 90, 91, 120, 150, 178])
@pytest.mark.parametrize("turn", [1, -1])
@pytest.mark.parametrize("heading", [0, 37, 200])
def test_the_side_around_a_vertex_is_the_side_a_person_sees(
    interior: float, turn: int, heading: float
) -> None:
    points = corner(interior, turn, heading)
    config = LineConfig(type="polyline", name="l", points=list(points), units="px")
    line = LineGeometry.from_config(config, 1280, 720)
    angles = np.linspace(0, math.tau, 240, endpoint=False)
    for radius in (10.0, 40.0, 120.0):
        ring = np.stack([640 + radius * np.cos(angles), 360 + radius * np.sin(angles)], axis=1)
        distances = line.signed_distance(ring)
        for point, distance in zip(ring, distances, strict=True):
            if abs(distance) < 1e-6:
                continue  # on the line itself
            expected = true_sign(points, (point[0], point[1]))
            assert np.sign(distance) == expected, (interior, turn, heading, point.tolist())


def test_the_distance_at_a_vertex_is_to_the_vertex() -> None:
    points = corner(30, 1, 0)
    config = LineConfig(type="polyline", name="l", points=list(points), units="px")
    line = LineGeometry.from_config(config, 1280, 720)
    # Straight out of the corner along its outer bisector, 50 px from the vertex.
    a, v, b = (np.asarray(q) for q in points)
    bisector = -((a - v) / np.linalg.norm(a - v) + (b - v) / np.linalg.norm(b - v))
    outside = v + 50 * bisector / np.linalg.norm(bisector)
    (distance,) = line.signed_distance(outside[None, :])
    assert abs(distance) == pytest.approx(50.0)
    assert np.sign(distance) == true_sign(points, (outside[0], outside[1]))


# A V whose bottom vertex (400, 400) is 37 degrees sharp; "in" is inside the V (above).
VEE = {"type": "polyline", "name": "vee", "points": [[300, 100], [400, 400], [500, 100]]}
IN, OUT = ("LINE_CROSS", 1, "in"), ("LINE_CROSS", 1, "out")


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        # Round the outside of the sharp vertex, never through the line: nothing.
        ("under the vertex", [(330, 420), (370, 425), (430, 420), (470, 420)], []),
        ("close under it", [(385, 410), (400, 415), (415, 410)], []),
        ("wide under it", [(250, 450), (400, 500), (550, 450), (560, 300)], []),
        ("back and forth under it", [(330, 420), (430, 420), (370, 425), (470, 420)], []),
        # Into the V through an arm: one crossing each way.
        ("in through the left arm", [(330, 300), (380, 300)], [IN]),
        ("in near the vertex", [(385, 410), (400, 360)], [IN]),
        ("in and out the other arm", [(330, 300), (400, 300), (470, 300)], [IN, OUT]),
    ],
)
def test_walks_round_a_sharp_vertex(
    name: str, path: list[tuple[float, float]], expected: list[tuple[str, int, str]]
) -> None:
    line: dict[str, Any] = {**VEE, "units": "px", "in_side": "left", "cooldown_s": 0}
    engine = Engine(settings({"lines": [line], "events": [rule("r", "LINE_CROSS")]}))
    assert summary(run(engine, walk(1, path))) == expected, name
