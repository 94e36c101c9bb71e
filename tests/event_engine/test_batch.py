"""The plain-arithmetic scene batch decides exactly as the vectorised geometry does, on the
boundaries too (anchors exactly on lines, margins of 0, rectangle edges and corners)."""

from __future__ import annotations

import itertools

import numpy as np

from event_engine.batch import SceneBatch
from event_engine.crossing import sides_of
from event_engine.geometry import anchor_points
from event_engine.scene import Scene
from sightline.config.engine import DeviceConfig

WIDTH, HEIGHT = 1280, 720
EDGE = (WIDTH - 1e-3, HEIGHT - 1e-3)


def _device() -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "lines": [
                {"type": "vertical", "position_pct": 25, "name": "v"},
                {"type": "vertical", "position_pct": 0, "name": "left-edge"},  # margin 0
                {"type": "horizontal", "position_pct": 100, "name": "floor", "anchor": "center"},
                {"type": "horizontal", "position_pct": 50, "name": "h", "min_distance_px": 0},
                {"type": "polyline", "name": "seg", "points": [[10, 80], [90, 20]]},
                {"type": "polyline", "name": "bent", "points": [[5, 90], [50, 40], [95, 60]]},
            ],
            "zones": [
                {"name": "r", "x1_pct": 25, "y1_pct": 25, "x2_pct": 75, "y2_pct": 75},
                {"name": "whole", "x1_pct": 0, "y1_pct": 0, "x2_pct": 100, "y2_pct": 100},
                {
                    "name": "rect-px",
                    "points": [[320, 540], [320, 180], [960, 180], [960, 540]],
                    "units": "px",
                    "anchor": "center",
                },
                {"name": "tri", "points": [[100, 700], [640, 50], [1200, 700]], "units": "px"},
            ],
        }
    )


def _boxes() -> np.ndarray:
    """Boxes whose anchors fall on every line and every rectangle edge and corner, exactly,
    and a hair either side of them."""
    xs = [0.0, 5e-324, 320.0, 640.0, 960.0, WIDTH - 1e-3, float(WIDTH), 1500.0, -3.0]
    ys = [0.0, 180.0, 360.0, 540.0, HEIGHT - 1e-3, float(HEIGHT), 800.0, -2.0]
    xs += [np.nextafter(x, np.inf) for x in xs] + [np.nextafter(x, -np.inf) for x in xs]
    ys += [np.nextafter(y, np.inf) for y in ys] + [np.nextafter(y, -np.inf) for y in ys]
    rows = []
    for x, y in itertools.product(xs, ys):
        rows.append((x - 20.0, y - 100.0, x + 20.0, y))  # bottom centre on (x, y)
        rows.append((x - 20.0, y - 50.0, x + 20.0, y + 50.0))  # centre on (x, y)
    return np.array(rows, dtype=np.float64)


def test_boundaries_are_decided_as_the_geometry_decides_them() -> None:
    scene = Scene.from_config(_device(), WIDTH, HEIGHT)
    boxes = _boxes()
    batch = SceneBatch.from_scene(scene, WIDTH, HEIGHT)
    assert sum(zone.box is not None for zone in batch.zones) == 3  # the fast rectangle test
    sides, insides = batch.evaluate([tuple(row) for row in boxes.tolist()])
    for line, got in zip(scene.lines, sides, strict=True):
        anchors = np.clip(anchor_points(boxes, line.config.anchor), 0, EDGE)
        distance = line.geometry.signed_distance(anchors)
        expected = sides_of(distance, line.geometry.margin_negative, line.geometry.margin_positive)
        assert got == expected.tolist(), line.config.label
    for zone, got_inside in zip(scene.zones, insides, strict=True):
        anchors = np.clip(anchor_points(boxes, zone.config.anchor), 0, EDGE)
        assert got_inside == zone.geometry.contains(anchors).tolist(), zone.config.label
    assert any(any(row) for row in insides)
    assert not all(all(row) for row in insides)
    assert {1, -1, 0} <= {side for row in sides for side in row}


def test_no_boxes_no_sides() -> None:
    scene = Scene.from_config(_device(), WIDTH, HEIGHT)
    sides, insides = SceneBatch.from_scene(scene, WIDTH, HEIGHT).evaluate([])
    assert sides == [[] for _ in scene.lines]
    assert insides == [[] for _ in scene.zones]


def test_polygons_skip_their_edges_only_for_points_outside_them() -> None:
    """A polygon's points outside its widened bounds skip the edge loop: the answers stay
    the geometry's, for points all around and exactly on the bounds and the vertices."""
    polygons = {
        "tri": [[100, 700], [640, 50], [1200, 700]],
        "concave": [[100, 100], [600, 400], [1100, 100], [1100, 650], [100, 650]],
        "diamond": [[640, 100], [1000, 360], [640, 620], [280, 360]],
        "sliver": [[0, 0], [1279.999, 719.999], [1279.999, 719.9991]],
    }
    device = DeviceConfig.model_validate(
        {"zones": [{"name": n, "points": p, "units": "px"} for n, p in polygons.items()]}
    )
    scene = Scene.from_config(device, WIDTH, HEIGHT)
    batch = SceneBatch.from_scene(scene, WIDTH, HEIGHT)
    assert all(zone.box is None for zone in batch.zones)
    rng = np.random.default_rng(19)
    xs = [float(x) for p in polygons.values() for x, _ in p] + rng.uniform(-50, 1350, 60).tolist()
    ys = [float(y) for p in polygons.values() for _, y in p] + rng.uniform(-50, 770, 60).tolist()
    xs += [np.nextafter(x, d) for x in xs[:16] for d in (np.inf, -np.inf)]
    ys += [np.nextafter(y, d) for y in ys[:16] for d in (np.inf, -np.inf)]
    boxes = np.array(
        [(x - 20.0, y - 100.0, x + 20.0, y) for x, y in itertools.product(xs, ys)],
        dtype=np.float64,
    )
    _, insides = batch.evaluate([tuple(row) for row in boxes.tolist()])
    for zone, got_inside in zip(scene.zones, insides, strict=True):
        anchors = np.clip(anchor_points(boxes, zone.config.anchor), 0, EDGE)
        assert got_inside == zone.geometry.contains(anchors).tolist(), zone.config.label
        assert 0 < sum(got_inside) < len(got_inside), zone.config.label
