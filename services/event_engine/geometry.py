"""Lines and zones in pixels of a frame, and the vectorised tests the hot path runs.

A polyline's side is that of its nearest point: the perpendicular side of a segment, or at
a vertex the side of the vertex's pseudo-normal (the sum of its two segments' normals), so
the outside of a corner sharper than 90 degrees is on the right side. Past a free end by
more than the line's ``reach`` the side is unknown (NaN). A zone's depth is a point's
distance to its nearest edge that does not lie on the frame's border (see docs/geometry.md).

Example:
    >>> import numpy as np
    >>> boxes = np.array([[100.0, 100.0, 200.0, 300.0]])
    >>> anchor_points(boxes, Anchor.BOTTOM_CENTER).tolist()
    [[150.0, 300.0]]
    >>> square = ZoneGeometry("sq", ((0, 0), (200, 0), (200, 400), (0, 400)))
    >>> square.contains(np.array([[150.0, 300.0], [250.0, 10.0]])).tolist()
    [True, False]
    >>> vee = ((0.0, 0.0), (100.0, 100.0), (200.0, 0.0))  # a 90-degree corner at (100, 100)
    >>> _polyline_distance(np.array(vee), np.array([[100.0, 130.0], [300.0, 0.0]]), 8.0).tolist()
    [30.0, nan]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString, Polygon
from shapely.ops import polylabel

from sightline.config.base import Anchor
from sightline.config.engine import LineConfig, ZoneConfig
from sightline.messages.event import Direction

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
PointXY = tuple[float, float]


def anchor_points(boxes: Array, anchor: Anchor) -> Array:
    """The anchor of each box of an ``(N, 4)`` array of ``x1, y1, x2, y2``, as ``(N, 2)``."""
    x = (boxes[:, 0] + boxes[:, 2]) / 2
    y = (boxes[:, 1] + boxes[:, 3]) / 2 if anchor is Anchor.CENTER else boxes[:, 3]
    return np.stack([x, y], axis=1)


@dataclass(frozen=True)
class LineGeometry:
    """A line in pixels with a signed distance: negative on one side, positive on the other.

    ``forward`` names a move from the negative to the positive side, ``backward`` the
    reverse. ``margin_negative`` / ``margin_positive`` are how far past the line an anchor
    must be to count as on that side (``min_distance_px``, narrowed near the frame edge).
    ``reach`` is how far past a polyline's free ends its side is still known
    (``end_tolerance_px``); the axis lines span the frame and have no free end.
    """

    name: str
    kind: str
    points: tuple[PointXY, ...]
    forward: Direction
    backward: Direction
    margin_negative: float
    margin_positive: float
    reach: float = 0.0

    @classmethod
    def from_config(cls, config: LineConfig, width: int, height: int) -> LineGeometry:
        """The line of ``config`` in a ``width`` x ``height`` frame."""
        margin = config.min_distance_px
        if config.type == "polyline":
            assert config.points is not None
            scale = (width / 100, height / 100) if config.units == "pct" else (1.0, 1.0)
            points = tuple((x * scale[0], y * scale[1]) for x, y in config.points)
            if not LineString(points).is_simple:
                raise ValueError(f"line {config.label!r}: a polyline must not cross itself")
            # Positive distances lie right of the walking direction (see _polyline_distance).
            forward, backward = Direction.IN, Direction.OUT
            if config.in_side == "left":
                forward, backward = backward, forward
            reach = config.end_tolerance_px
            return cls(config.label, "polyline", points, forward, backward, margin, margin, reach)
        position = (config.position_pct or 0.0) / 100
        if config.type == "vertical":
            x = position * width
            points = ((x, 0.0), (x, float(height)))
            before, after = x, width - x
            forward, backward = Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT
        else:
            y = position * height
            points = ((0.0, y), (float(width), y))
            before, after = y, height - y
            forward, backward = Direction.TOP_TO_BOTTOM, Direction.BOTTOM_TO_TOP
        return cls(
            config.label,
            config.type,
            points,
            forward,
            backward,
            min(margin, before / 2),
            min(margin, after / 2),
        )

    def signed_distance(self, anchors: Array) -> Array:
        """Signed distance of each anchor; NaN where a polyline does not reach (past its ends)."""
        if self.kind == "vertical":
            return anchors[:, 0] - self.points[0][0]
        if self.kind == "horizontal":
            return anchors[:, 1] - self.points[0][1]
        return _polyline_distance(np.asarray(self.points, dtype=np.float64), anchors, self.reach)


def _polyline_distance(vertices: Array, anchors: Array, reach: float) -> Array:
    """Signed distance to the nearest point of the polyline, positive on the right of the
    walking direction as seen on screen (image coordinates, y down).

    * nearest point inside a segment: the perpendicular distance, signed by that segment;
    * nearest point a shared vertex: the distance to it, signed by the vertex's
      pseudo-normal (sum of its two segments' unit normals) -- right on the outside of a
      sharp corner, where the nearest segment's own sign can be wrong;
    * past a free end: the perpendicular distance to the end segment's line while less
      than ``reach`` past the end, NaN (unknown) further out.
    """
    if len(vertices) == 2:  # a segment (the common case): its perpendicular, within reach
        (x1, y1), (x2, y2) = vertices.tolist()
        dx, dy = x2 - x1, y2 - y1
        span = max(math.hypot(dx, dy), 1e-9)
        rx, ry = anchors[:, 0] - x1, anchors[:, 1] - y1
        along = (rx * dx + ry * dy) / span  # distance from the start along the segment
        outside = (along < -reach) | (along > span + reach)
        segment: Array = np.where(outside, np.nan, (dx * ry - dy * rx) / span)
        return segment
    starts = vertices[:-1]
    seg = vertices[1:] - starts  # (S, 2)
    length = np.maximum(np.hypot(seg[:, 0], seg[:, 1]), 1e-9)
    rel = anchors[:, None, :] - starts[None, :, :]  # (N, S, 2)
    t = (rel[..., 0] * seg[:, 0] + rel[..., 1] * seg[:, 1]) / length**2
    clamped = np.clip(t, 0.0, 1.0)
    dist = np.hypot(rel[..., 0] - clamped * seg[:, 0], rel[..., 1] - clamped * seg[:, 1])
    perpendicular = (seg[:, 0] * rel[..., 1] - seg[:, 1] * rel[..., 0]) / length  # (N, S)
    count = len(seg)
    best = dist.argmin(axis=1)
    rows = np.arange(len(anchors))
    near_t, near_dist = t[rows, best], dist[rows, best]
    near_perp = perpendicular[rows, best]
    result: Array = np.copysign(near_dist, near_perp)
    if count > 1:
        # Clamped at a shared vertex: the vertex after the segment (t > 1) or before (t < 0).
        vertex = np.where(near_t > 1, best + 1, best)
        shared = ((near_t > 1) | (near_t < 0)) & (vertex > 0) & (vertex < count)
        if shared.any():
            normals = np.stack([-seg[:, 1], seg[:, 0]], axis=1) / length[:, None]  # (S, 2)
            pseudo = normals[:-1] + normals[1:]  # vertex k (1..S-1) -> row k - 1
            at = vertex[shared]
            offset = anchors[shared] - vertices[at]
            along = offset[:, 0] * pseudo[at - 1, 0] + offset[:, 1] * pseudo[at - 1, 1]
            result[shared] = np.copysign(near_dist[shared], along)
    start_end = (best == 0) & (near_t < 0)
    finish_end = (best == count - 1) & (near_t > 1)
    free = start_end | finish_end
    if free.any():
        past = np.where(start_end, -near_t, near_t - 1) * length[best]
        result = np.where(free, np.where(past > reach, np.nan, near_perp), result)
    return result


BORDER_PX = 2.0
"""A zone edge within this of the frame's border (both ends, same side) lies on the border:
anchors are kept inside the frame, so nothing can be outside it by a margin."""


@dataclass(frozen=True)
class ZoneGeometry:
    """A polygon zone in pixels with a vectorised even-odd point-in-polygon test, and the
    depth of a point (distance to the nearest edge off the frame's border) for the margin.

    ``margin_px`` / ``margin_box``: the edge hysteresis, the larger of pixels and a fraction
    of the box's longer side, capped at half the zone's inscribed radius so that a small
    zone can still be entered.
    """

    name: str
    points: tuple[PointXY, ...]
    frame: tuple[float, float] = (0.0, 0.0)
    margin_px: float = 0.0
    margin_box: float = 0.0

    @classmethod
    def from_config(cls, config: ZoneConfig, width: int, height: int) -> ZoneGeometry:
        """The zone of ``config`` in a ``width`` x ``height`` frame (validated by shapely)."""
        points = tuple(config.polygon(width, height))
        polygon = Polygon(points)
        if not polygon.is_valid or polygon.area <= 0:
            raise ValueError(f"zone {config.label!r}: the polygon is not simple or has no area")
        return cls(
            config.label,
            points,
            (float(width), float(height)),
            config.margin_px,
            config.margin_box,
        )

    @cached_property
    def _inner_edges(self) -> tuple[Array, Array, Array]:
        """Start, vector and squared length of each edge that is not on the frame's border."""
        vertices = np.asarray(self.points, dtype=np.float64)
        ends = np.roll(vertices, -1, axis=0)
        width, height = self.frame
        both = np.stack([vertices, ends])  # (2, E, 2)
        on_border: Mask = np.zeros(len(vertices), dtype=bool)
        if width > 0 and height > 0:
            on_border = np.asarray(
                (both[..., 0] <= BORDER_PX).all(axis=0)
                | (both[..., 1] <= BORDER_PX).all(axis=0)
                | (both[..., 0] >= width - BORDER_PX).all(axis=0)
                | (both[..., 1] >= height - BORDER_PX).all(axis=0)
            )
        starts, vectors = vertices[~on_border], (ends - vertices)[~on_border]
        return starts, vectors, np.maximum((vectors**2).sum(axis=1), 1e-12)

    @cached_property
    def max_margin(self) -> float:
        """Half the radius of the largest circle inside the zone: the most a margin can be."""
        polygon = Polygon(self.points)
        return float(polygon.exterior.distance(polylabel(polygon, tolerance=0.5))) / 2

    def margin(self, box_size: float) -> float:
        """The edge hysteresis for a box whose longer side is ``box_size`` pixels."""
        return min(max(self.margin_px, self.margin_box * box_size), self.max_margin)

    @cached_property
    def _inner_edge_tuples(self) -> list[tuple[float, float, float, float, float]]:
        """:attr:`_inner_edges` as plain floats (one point: Python beats numpy's overhead)."""
        starts, vectors, length2 = self._inner_edges
        return [
            (float(s[0]), float(s[1]), float(v[0]), float(v[1]), float(n))
            for s, v, n in zip(starts, vectors, length2, strict=True)
        ]

    def depth(self, x: float, y: float) -> float:
        """Distance of the anchor ``(x, y)`` (kept inside the frame) to the nearest edge that
        is not on the frame's border; infinite when every edge is on the border."""
        width, height = self.frame
        if width > 0 and height > 0:
            x, y = min(max(x, 0.0), width - 1e-3), min(max(y, 0.0), height - 1e-3)
        best = math.inf
        for sx, sy, vx, vy, length2 in self._inner_edge_tuples:
            rx, ry = x - sx, y - sy
            t = min(max((rx * vx + ry * vy) / length2, 0.0), 1.0)
            best = min(best, math.hypot(rx - t * vx, ry - t * vy))
        return best

    def depths(self, anchors: Array) -> Array:
        """:meth:`depth` of each ``(N, 2)`` anchor."""
        starts, vectors, length2 = self._inner_edges
        if not len(starts):
            return np.full(len(anchors), np.inf)
        width, height = self.frame
        points = anchors
        if width > 0 and height > 0:
            points = np.clip(anchors, 0.0, (width - 1e-3, height - 1e-3))
        rel_x = points[:, 0:1] - starts[:, 0]  # (N, E)
        rel_y = points[:, 1:2] - starts[:, 1]
        t = np.clip((rel_x * vectors[:, 0] + rel_y * vectors[:, 1]) / length2, 0.0, 1.0)
        result: Array = np.hypot(rel_x - t * vectors[:, 0], rel_y - t * vectors[:, 1]).min(axis=1)
        return result

    @cached_property
    def _edges(self) -> tuple[Array, Array, Array, Array]:
        """Each edge's ``x1, y1, y2`` and ``dx/dy`` (computed once)."""
        vertices = np.asarray(self.points, dtype=np.float64)
        x1, y1 = vertices[:, 0], vertices[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        flat = y2 == y1
        slope = np.where(flat, 0.0, (x2 - x1) / np.where(flat, 1.0, y2 - y1))
        return x1, y1, y2, slope

    def contains(self, anchors: Array) -> Mask:
        """Whether each ``(N, 2)`` anchor lies inside (even-odd rule)."""
        x1, y1, y2, slope = self._edges
        px, py = anchors[:, 0:1], anchors[:, 1:2]
        straddles = (y1 > py) != (y2 > py)
        crossings = straddles & (px < x1 + (py - y1) * slope)
        result: Mask = (crossings.sum(axis=1) % 2) == 1
        return result
