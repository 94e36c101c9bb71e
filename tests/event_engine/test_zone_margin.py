"""Zone edges: a spatial margin (hysteresis) so a box jittering on an edge enters once and
exits once; the time debounce (min_frames, exit_frames) still applies on top of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from event_engine.engine import Engine
from event_engine.geometry import ZoneGeometry
from event_engine.zones import edge_evidence
from sightline.config.engine import ZoneConfig
from tests.event_engine.walks import Box, rule, run, settings, summary, walk

# A zone x 400..800, y 300..600 in pixels; its right edge is x = 800.
PORCH = {"name": "porch", "points": [[400, 300], [800, 300], [800, 600], [400, 600]], "units": "px"}
RULES = [rule("enter", "ZONE_ENTER"), rule("exit", "ZONE_EXIT")]
ENTER, EXIT = ("ZONE_ENTER", 1, "None"), ("ZONE_EXIT", 1, "left")


def engine_with(**zone: Any) -> Engine:
    return Engine(settings({"zones": [{**PORCH, **zone}], "events": RULES}))


def feet_x(xs: list[float], y: float = 500) -> list[list[Box]]:
    """A 40x100 box (margin 8 px by default) whose foot walks along ``xs`` at height ``y``."""
    return walk(1, [(x, y) for x in xs])


# ByteTrack-like jitter of +-6 px around the right edge (x = 800), then away for good.
JITTER_IN = [760, 797, 803, 795, 806, 798, 804, 796, 802, 760]
JITTER_OUT = [840, 803, 797, 805, 794, 802, 796, 804, 798, 760]


@pytest.mark.parametrize(
    ("zone", "xs", "expected"),
    [
        # The default margin (max(8 px, 5 % of 100 px)) absorbs the jitter: once each way.
        ({"exit_frames": 1}, [*JITTER_IN, 840, 840], [ENTER, EXIT]),
        ({"exit_frames": 1}, JITTER_OUT[:-1], []),
        ({"exit_frames": 1}, JITTER_OUT, [ENTER]),
        ({"exit_frames": 1}, [*JITTER_OUT, *JITTER_OUT[::-1]], [ENTER, EXIT]),
        # Without a margin the same walk flaps at every jitter (what the margin prevents).
        (
            {"exit_frames": 1, "margin_px": 0, "margin_box": 0},
            JITTER_IN,
            [ENTER] + [EXIT, ENTER] * 4,
        ),
        # Inside by less than the margin is not inside yet; by the margin it is.
        ({}, [840, 795, 793, 795], []),
        ({}, [840, 795, 792], [ENTER]),
        # Outside by less than the margin is not outside: exit_frames never runs out.
        ({"exit_frames": 1}, [760, 805, 807, 805, 807], [ENTER]),
        ({"exit_frames": 1}, [760, 805, 808.5], [ENTER, EXIT]),
        # The time debounce stays: 3 frames margin-out, frames in the band do not reset it.
        ({"exit_frames": 3}, [760, 820, 820], [ENTER]),
        ({"exit_frames": 3}, [760, 820, 804, 820, 820], [ENTER, EXIT]),
        ({"exit_frames": 3}, [760, 820, 820, 760, 820, 820], [ENTER]),
        ({"min_frames": 2}, [840, 790, 797, 790], [ENTER]),
        ({"min_frames": 2}, [840, 790, 820, 790], []),
        # A larger margin in pixels, or as a fraction of the box.
        ({"margin_px": 20}, [840, 785], []),
        ({"margin_px": 20}, [840, 779], [ENTER]),
    ],
)
def test_a_box_on_a_zone_edge(
    zone: dict[str, Any], xs: list[float], expected: list[tuple[str, int, str]]
) -> None:
    assert summary(run(engine_with(**zone), feet_x(xs))) == expected


@pytest.mark.parametrize(
    ("height", "depth", "entered"),
    [
        (100, 9, True),  # margin max(8, 0.05 * 100) = 8
        (300, 9, False),  # margin 0.05 * 300 = 15: a near object needs more
        (300, 16, True),
    ],
)
def test_the_margin_grows_with_the_box(height: float, depth: float, entered: bool) -> None:
    x = 800 - depth
    frames = [[Box(1, x - 30, 500 - height, x + 30, 500)] for _ in range(2)]
    assert bool(run(engine_with(), frames)) is entered


@pytest.mark.parametrize(
    ("inside", "occupied", "depth", "expected"),
    [
        (True, True, 0.5, True),  # agrees with the visit: evidence at any depth
        (False, False, 0.5, False),
        (True, False, 7.9, None),  # in the band
        (True, False, 8.0, True),
        (False, True, 7.9, None),
        (False, True, 8.0, False),
    ],
)
def test_edge_evidence(inside: bool, occupied: bool, depth: float, expected: bool | None) -> None:
    assert edge_evidence(inside, occupied, depth=depth, margin=8.0) is expected


def test_edges_on_the_frame_border_have_no_band() -> None:
    # A corner zone on the bottom-left of the frame: the feet of someone standing at the
    # bottom of the picture are kept at y = 719.999, on the border edge, yet inside.
    corner = {"name": "corner", "points": [[0, 620], [260, 620], [260, 720], [0, 720]]}
    engine = Engine(settings({"zones": [{**corner, "units": "px"}], "events": RULES}))
    events = run(engine, walk(1, [(100, 760), (100, 730), (100, 700)]))
    assert summary(events) == [ENTER]
    assert events[0].frame_number == 0


def test_a_zone_narrower_than_two_margins_can_still_be_entered() -> None:
    strip = [[400, 300], [800, 300], [800, 310], [400, 310]]  # 10 px tall
    frames = [[Box(1, 580, 5, 620, 305)]]  # a 300 px box: its margin would be 15 px
    events = run(engine_with(points=strip), frames)
    assert summary(events) == [ENTER]


@pytest.mark.parametrize(
    "points",
    [
        [[400, 300], [800, 300], [800, 600], [400, 600]],
        [[100, 100], [600, 80], [700, 600], [350, 300], [80, 650]],
    ],
)
def test_depth_is_the_distance_to_the_nearest_edge(points: list[list[float]]) -> None:
    config = ZoneConfig.model_validate({"name": "z", "points": points, "units": "px"})
    geometry = ZoneGeometry.from_config(config, 1280, 720)
    polygon = Polygon(geometry.points)
    rng = np.random.default_rng(5)
    for x, y in rng.uniform((0, 0), (1279, 719), size=(300, 2)):
        assert geometry.depth(x, y) == pytest.approx(polygon.exterior.distance(Point(x, y)))


def test_the_margin_is_capped_by_half_the_zone_inscribed_radius() -> None:
    config = ZoneConfig(name="strip", points=[(0, 0), (400, 0), (400, 10), (0, 10)], units="px")
    geometry = ZoneGeometry.from_config(config, 1280, 720)
    assert geometry.margin(100) == pytest.approx(2.5, abs=0.3)
    wide = ZoneGeometry.from_config(ZoneConfig.model_validate(PORCH), 1280, 720)
    assert [wide.margin(size) for size in (40, 100, 400)] == [8.0, 8.0, 20.0]
