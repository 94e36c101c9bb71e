"""Every line and zone of a scene tested against one frame's boxes, in plain arithmetic.

For the ten-odd boxes of a frame, numpy's per-call overhead costs more than the arithmetic,
so the scene's lines and zones are laid out once (per frame size) as plain tuples of floats
and each box is tested in Python: the same IEEE operations, in the same order, as the
vectorised tests of :mod:`event_engine.geometry` (which ``tests/event_engine/test_geometry.py``
checks them against). A polyline of more than one segment (rarer) goes through numpy.

Example:
    >>> from sightline.config.engine import DeviceConfig
    >>> device = DeviceConfig.model_validate({
    ...     "lines": [{"type": "vertical", "position_pct": 50, "name": "mid"}],
    ...     "zones": [{"name": "left", "x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 100}]})
    >>> batch = SceneBatch.from_scene(Scene.from_config(device, 1280, 720), 1280, 720)
    >>> batch.evaluate([(100.0, 100.0, 140.0, 200.0), (900.0, 100.0, 940.0, 200.0)])
    ([[-1, 1]], [[True, False]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from event_engine.crossing import UNKNOWN, sides_of
from event_engine.geometry import LineGeometry
from event_engine.scene import Scene
from sightline.config.base import Anchor

Box = Sequence[float]
"""``x1, y1, x2, y2``."""

_X, _CENTER_Y, _BOTTOM_Y = 0, 1, 2
"""Which coordinate of a box's anchors a test reads (see :meth:`SceneBatch.evaluate`)."""


def _y_of(anchor: Anchor) -> int:
    return _CENTER_Y if anchor is Anchor.CENTER else _BOTTOM_Y


_TINY = 5e-324
"""The smallest positive float: ``d >= 0`` is exactly ``d > -_TINY``, ``d <= 0`` exactly
``d < _TINY`` (no float lies strictly between)."""


@dataclass(frozen=True, slots=True)
class _AxisLine:
    row: int
    coordinate: int  # _X (vertical) or the anchor's y (horizontal)
    position: float
    above: float  # the side is +1 where ``value - position > above``
    below: float  # and -1 where ``value - position < below`` (0 where both or neither)

    @classmethod
    def of(cls, row: int, coordinate: int, position: float, geometry: LineGeometry) -> _AxisLine:
        return cls(row, coordinate, position, *_thresholds(geometry))


def _thresholds(geometry: LineGeometry) -> tuple[float, float]:
    """``(above, below)``: the side test's thresholds, folded: with a margin of 0,
    ``distance >= 0`` as ``> -_TINY`` and ``<= 0`` as ``< _TINY``; else ``> margin`` and
    ``< -margin``."""
    positive, negative = geometry.margin_positive, geometry.margin_negative
    return (-_TINY if positive == 0 else positive), (_TINY if negative == 0 else -negative)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A polyline of one segment (the common case): its perpendicular, within reach."""

    row: int
    y: int
    x1: float
    y1: float
    dx: float
    dy: float
    span: float
    reach: float
    above: float  # as _AxisLine's
    below: float


@dataclass(frozen=True, slots=True)
class _Zone:
    y: int
    edges: tuple[tuple[float, float, float, float], ...]  # x1, y1, y2, dx/dy of each edge
    box: tuple[float, float, float, float] | None = None
    """An axis-aligned rectangle's ``left, right, top, bottom``: the even-odd rule over its
    edges is then exactly ``left <= x < right and top <= y < bottom`` (its flat edges never
    straddle, its upright ones have a slope of 0)."""
    reach: tuple[float, float, float, float] = (-math.inf, math.inf, -math.inf, math.inf)
    """Any other polygon's ``left, right, top, bottom``, the sides widened by a pixel: a
    point outside it is outside the polygon, by the even-odd rule itself (see
    :func:`_reach`), so most points skip the loop over the edges."""


def _rectangle(
    edges: tuple[tuple[float, float, float, float], ...], points: list[tuple[float, float]]
) -> tuple[float, float, float, float] | None:
    """``left, right, top, bottom`` if ``points`` are an axis-aligned rectangle, else None."""
    if len(points) != 4:
        return None
    ends = points[1:] + points[:1]
    flat = sum(y1 == y2 for (_, y1), (_, y2) in zip(points, ends, strict=True))
    upright = sum(x1 == x2 for (x1, _), (x2, _) in zip(points, ends, strict=True))
    if flat != 2 or upright != 2 or any(slope != 0.0 for *_, slope in edges):
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), max(xs), min(ys), max(ys)


def _reach(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """``left, right, top, bottom`` outside which :func:`_inside` is False, exactly.

    Above the top or at or below the bottom no edge straddles the point's row. Right of
    every edge, no crossing lies right of the point. Left of every edge, every straddling
    edge is crossed, and a closed ring straddles any row an even number of times. The
    crossings are computed in floating point, so the sides are widened by a pixel (and
    more for coordinates so large that a pixel is below their rounding).

    >>> _reach([(0.0, 0.0), (10.0, 5.0), (0.0, 10.0)])
    (-1.00000001, 11.00000001, 0.0, 10.0)
    """
    xs, ys = [x for x, _ in points], [y for _, y in points]
    slack = 1.0 + 1e-9 * max(abs(x) for x in xs)
    return min(xs) - slack, max(xs) + slack, min(ys), max(ys)


def _inside(px: float, py: float, edges: tuple[tuple[float, float, float, float], ...]) -> bool:
    """:meth:`~event_engine.geometry.ZoneGeometry.contains` of one point (even-odd rule)."""
    inside = False
    for x1, y1, y2, slope in edges:
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * slope:
            inside = not inside
    return inside


@dataclass(frozen=True, slots=True)
class SceneBatch:
    """The geometry of one :class:`Scene` as plain floats (built once per frame size)."""

    edge: tuple[float, float]
    axis: tuple[_AxisLine, ...]
    segments: tuple[_Segment, ...]
    polylines: tuple[tuple[int, Anchor, LineGeometry], ...]  # more than one segment
    zones: tuple[_Zone, ...]
    line_count: int

    @classmethod
    def from_scene(cls, scene: Scene, width: int, height: int) -> SceneBatch:
        """Lay ``scene``'s lines and zones out for frames of ``width`` x ``height``."""
        axis: list[_AxisLine] = []
        segments: list[_Segment] = []
        polylines: list[tuple[int, Anchor, LineGeometry]] = []
        for row, line in enumerate(scene.lines):
            g, anchor = line.geometry, line.config.anchor
            if g.kind == "vertical":
                axis.append(_AxisLine.of(row, _X, g.points[0][0], g))
            elif g.kind == "horizontal":
                axis.append(_AxisLine.of(row, _y_of(anchor), g.points[0][1], g))
            elif len(g.points) == 2:
                (x1, y1), (x2, y2) = (
                    (float(x), float(y)) for x, y in g.points
                )  # as _polyline_distance reads them
                dx, dy = x2 - x1, y2 - y1
                span = max(math.hypot(dx, dy), 1e-9)
                segments.append(
                    _Segment(
                        row,
                        _y_of(anchor),
                        x1,
                        y1,
                        dx,
                        dy,
                        span,
                        g.reach,
                        *_thresholds(g),
                    )
                )
            else:
                polylines.append((row, anchor, g))
        zones: list[_Zone] = []
        for zone in scene.zones:
            points = [(float(x), float(y)) for x, y in zone.geometry.points]
            edges = tuple(
                (x1, y1, y2, (x2 - x1) / (y2 - y1) if y2 != y1 else 0.0)
                for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True)
            )
            zones.append(
                _Zone(_y_of(zone.config.anchor), edges, _rectangle(edges, points), _reach(points))
            )
        return cls(
            edge=(width - 1e-3, height - 1e-3),
            axis=tuple(axis),
            segments=tuple(segments),
            polylines=tuple(polylines),
            zones=tuple(zones),
            line_count=len(scene.lines),
        )

    def evaluate(
        self, boxes: Sequence[Box] | npt.NDArray[np.float64]
    ) -> tuple[list[list[int]], list[list[bool]]]:
        """For boxes (``x1, y1, x2, y2`` each, or an ``(N, 4)`` array): each line's confirmed sides (+1/-1/0, or
        :data:`~event_engine.crossing.UNKNOWN` past a polyline's end) and each zone's
        insides.

        Anchors are kept inside the frame, so a zone that reaches the frame's edge contains
        the feet of someone walking out of the picture.
        """
        if isinstance(boxes, np.ndarray):
            boxes = boxes.tolist()  # plain floats: numpy scalars are slow one by one
        right, bottom = self.edge
        xs: list[float] = []
        centers: list[float] = []
        bottoms: list[float] = []
        for x1, y1, x2, y2 in boxes:  # min(max(v, 0.0), edge), without the calls
            x, center, foot = (x1 + x2) / 2, (y1 + y2) / 2, y2
            xs.append(0.0 if x < 0.0 else right if x > right else x)
            centers.append(0.0 if center < 0.0 else bottom if center > bottom else center)
            bottoms.append(0.0 if foot < 0.0 else bottom if foot > bottom else foot)
        coordinates = (xs, centers, bottoms)
        sides: list[list[int]] = [[] for _ in range(self.line_count)]
        for line in self.axis:
            position, above, below = line.position, line.above, line.below
            sides[line.row] = [
                (value - position > above) - (value - position < below)
                for value in coordinates[line.coordinate]
            ]
        for segment in self.segments:
            sides[segment.row] = _segment_sides(segment, xs, coordinates[segment.y])
        for row, anchor, geometry in self.polylines:
            points = np.array([xs, coordinates[_y_of(anchor)]], dtype=np.float64).T
            distance = geometry.signed_distance(points.reshape(-1, 2))
            sides[row] = sides_of(
                distance, geometry.margin_negative, geometry.margin_positive
            ).tolist()
        insides: list[list[bool]] = []
        for zone in self.zones:
            ys = coordinates[zone.y]
            if zone.box is not None:
                left, right_, top, bottom_ = zone.box
                insides.append(
                    [left <= x < right_ and top <= y < bottom_ for x, y in zip(xs, ys, strict=True)]
                )
            else:
                left, right_, top, bottom_ = zone.reach
                edges = zone.edges
                insides.append(
                    [
                        top <= y < bottom_ and left < x < right_ and _inside(x, y, edges)
                        for x, y in zip(xs, ys, strict=True)
                    ]
                )
        return sides, insides


def _segment_sides(segment: _Segment, xs: list[float], ys: list[float]) -> list[int]:
    """The side of each ``(x, y)`` of a one-segment polyline, as ``_polyline_distance`` and
    ``sides_of`` decide it (the segment's fields read once, not once per box)."""
    x1, y1, dx, dy, span = segment.x1, segment.y1, segment.dx, segment.dy, segment.span
    before, beyond = -segment.reach, span + segment.reach
    above, below = segment.above, segment.below
    sides: list[int] = []
    for x, y in zip(xs, ys, strict=True):
        rx, ry = x - x1, y - y1
        along = (rx * dx + ry * dy) / span
        if along < before or along > beyond:
            sides.append(UNKNOWN)
        else:
            distance = (dx * ry - dy * rx) / span
            sides.append((distance > above) - (distance < below))
    return sides
