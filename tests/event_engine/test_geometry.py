"""Anchors, axis lines, polylines with an in side, and polygon zones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from event_engine.batch import SceneBatch
from event_engine.crossing import sides_of
from event_engine.geometry import LineGeometry, ZoneGeometry, anchor_points
from event_engine.scene import Scene
from sightline.config.base import Anchor
from sightline.config.engine import DeviceConfig, LineConfig, ZoneConfig
from sightline.messages.event import Direction


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [(Anchor.BOTTOM_CENTER, [150.0, 300.0]), (Anchor.CENTER, [150.0, 200.0])],
)
def test_anchor_point_of_a_box(anchor: Anchor, expected: list[float]) -> None:
    boxes = np.array([[100.0, 100.0, 200.0, 300.0]])
    assert anchor_points(boxes, anchor).tolist() == [expected]


@pytest.mark.parametrize(
    ("config", "points", "forward"),
    [
        (
            {"type": "vertical", "position_pct": 50},
            ((640.0, 0.0), (640.0, 720.0)),
            Direction.LEFT_TO_RIGHT,
        ),
        (
            {"type": "horizontal", "position_pct": 25},
            ((0.0, 180.0), (1280.0, 180.0)),
            Direction.TOP_TO_BOTTOM,
        ),
        (
            {"type": "polyline", "points": [[0, 50], [100, 50]], "in_side": "right"},
            ((0.0, 360.0), (1280.0, 360.0)),
            Direction.IN,
        ),
        (
            {"type": "polyline", "points": [[0, 50], [100, 50]], "in_side": "left"},
            ((0.0, 360.0), (1280.0, 360.0)),
            Direction.OUT,
        ),
    ],
)
def test_line_in_pixels_and_the_direction_of_a_move_to_its_positive_side(
    config: dict[str, object], points: tuple[tuple[float, float], ...], forward: Direction
) -> None:
    line = LineGeometry.from_config(LineConfig.model_validate({"name": "l", **config}), 1280, 720)
    assert line.points == points
    assert line.forward is forward


def test_polyline_signed_distance_is_positive_below_a_rightward_line_and_nan_past_its_ends() -> (
    None
):
    config = LineConfig(type="polyline", name="l", points=[(100, 100), (300, 100)], units="px")
    line = LineGeometry.from_config(config, 1280, 720)
    distances = line.signed_distance(np.array([[200.0, 130.0], [200.0, 90.0], [400.0, 130.0]]))
    assert distances[0] == pytest.approx(30.0)
    assert distances[1] == pytest.approx(-10.0)
    assert math.isnan(distances[2])


def test_line_near_the_frame_edge_narrows_its_margin_so_it_can_be_crossed() -> None:
    config = LineConfig(type="horizontal", name="edge", position_pct=99, min_distance_px=8)
    line = LineGeometry.from_config(config, 1280, 720)
    assert line.margin_negative == 8
    assert line.margin_positive == pytest.approx(3.6)


@pytest.mark.parametrize(
    "zone",
    [
        {"x1_pct": 20, "y1_pct": 30, "x2_pct": 80, "y2_pct": 90},
        {"points": [[100, 100], [600, 80], [700, 600], [350, 300], [80, 650]], "units": "px"},
    ],
)
def test_vectorised_point_in_polygon_agrees_with_shapely(zone: dict[str, object]) -> None:
    config = ZoneConfig.model_validate({"name": "z", **zone})
    geometry = ZoneGeometry.from_config(config, 1280, 720)
    rng = np.random.default_rng(7)
    anchors = rng.uniform((0, 0), (1280, 720), size=(2000, 2))
    polygon = Polygon(geometry.points)
    expected = [polygon.contains(Point(x, y)) for x, y in anchors]
    assert geometry.contains(anchors).tolist() == expected


def test_self_intersecting_zone_is_refused() -> None:
    config = ZoneConfig(name="bow", points=[(0, 0), (100, 100), (100, 0), (0, 100)], units="px")
    with pytest.raises(ValueError, match="bow"):
        ZoneGeometry.from_config(config, 1280, 720)


def test_the_batched_scene_agrees_with_each_line_and_zone_on_its_own() -> None:
    device = DeviceConfig.model_validate(
        {
            "lines": [
                {"type": "vertical", "position_pct": 30, "name": "v"},
                {"type": "horizontal", "position_pct": 100, "name": "bottom", "anchor": "center"},
                {"type": "polyline", "name": "p", "points": [[5, 90], [50, 40], [95, 60]]},
                {"type": "polyline", "name": "s", "points": [[10, 20], [70, 80]]},
                {
                    "type": "polyline",
                    "name": "s0",
                    "points": [[90, 10], [60, 90]],
                    "anchor": "center",
                    "min_distance_px": 0,
                },
            ],
            "zones": [
                {"name": "r", "x1_pct": 10, "y1_pct": 10, "x2_pct": 60, "y2_pct": 100},
                {"name": "tri", "points": [[100, 700], [640, 50], [1200, 700]], "units": "px"},
            ],
        }
    )
    scene = Scene.from_config(device, 1280, 720)
    rng = np.random.default_rng(3)
    corner = rng.uniform((-20, -20), (1260, 700), size=(500, 2))
    boxes = np.hstack([corner, corner + rng.uniform(10, 200, size=(500, 2))])
    sides, insides = SceneBatch.from_scene(scene, 1280, 720).evaluate(boxes)
    for line, got in zip(scene.lines, sides, strict=True):
        anchors = np.clip(anchor_points(boxes, line.config.anchor), 0, (1280 - 1e-3, 720 - 1e-3))
        distance = line.geometry.signed_distance(anchors)
        expected = sides_of(distance, line.geometry.margin_negative, line.geometry.margin_positive)
        assert got == expected.tolist()
    for zone, got_inside in zip(scene.zones, insides, strict=True):
        anchors = np.clip(anchor_points(boxes, zone.config.anchor), 0, (1280 - 1e-3, 720 - 1e-3))
        assert got_inside == zone.geometry.contains(anchors).tolist()
