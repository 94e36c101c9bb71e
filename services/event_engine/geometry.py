"""Lines and zones in pixels of a frame, and the vectorised tests the hot path runs.

Example:
    >>> import numpy as np
    >>> boxes = np.array([[100.0, 100.0, 200.0, 300.0]])
    >>> anchor_points(boxes, Anchor.BOTTOM_CENTER).tolist()
    [[150.0, 300.0]]
    >>> square = ZoneGeometry("sq", ((0, 0), (200, 0), (200, 400), (0, 400)))
    >>> square.contains(np.array([[150.0, 300.0], [250.0, 10.0]])).tolist()
    [True, False]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString, Polygon

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
    """

    name: str
    kind: str
    points: tuple[PointXY, ...]
    forward: Direction
    backward: Direction
    margin_negative: float
    margin_positive: float

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
            return cls(config.label, "polyline", points, forward, backward, margin, margin)
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
        return _polyline_distance(np.asarray(self.points, dtype=np.float64), anchors)


def _polyline_distance(vertices: Array, anchors: Array) -> Array:
    """Signed distance to the nearest segment, positive on the right of the walking direction
    as seen on screen (image coordinates, y down); NaN past the polyline's two ends."""
    starts = vertices[:-1]
    seg = vertices[1:] - starts  # (S, 2)
    rel = anchors[:, None, :] - starts[None, :, :]  # (N, S, 2)
    t = (rel[..., 0] * seg[:, 0] + rel[..., 1] * seg[:, 1]) / np.maximum(
        seg[:, 0] ** 2 + seg[:, 1] ** 2, 1e-12
    )
    clamped = np.clip(t, 0.0, 1.0)
    dist = np.hypot(rel[..., 0] - clamped * seg[:, 0], rel[..., 1] - clamped * seg[:, 1])
    signed = np.copysign(dist, seg[:, 0] * rel[..., 1] - seg[:, 1] * rel[..., 0])  # (N, S)
    if len(seg) == 1:
        nearest_signed, nearest_t = signed[:, 0], t[:, 0]
        first = last = np.ones(len(anchors), dtype=bool)
    else:
        best = dist.argmin(axis=1)[:, None]
        nearest_signed = np.take_along_axis(signed, best, axis=1)[:, 0]
        nearest_t = np.take_along_axis(t, best, axis=1)[:, 0]
        first, last = best[:, 0] == 0, best[:, 0] == len(seg) - 1
    beyond = (first & (nearest_t < 0)) | (last & (nearest_t > 1))
    result: Array = np.where(beyond, np.nan, nearest_signed)
    return result


@dataclass(frozen=True)
class ZoneGeometry:
    """A polygon zone in pixels with a vectorised even-odd point-in-polygon test."""

    name: str
    points: tuple[PointXY, ...]

    @classmethod
    def from_config(cls, config: ZoneConfig, width: int, height: int) -> ZoneGeometry:
        """The zone of ``config`` in a ``width`` x ``height`` frame (validated by shapely)."""
        points = tuple(config.polygon(width, height))
        polygon = Polygon(points)
        if not polygon.is_valid or polygon.area <= 0:
            raise ValueError(f"zone {config.label!r}: the polygon is not simple or has no area")
        return cls(config.label, points)

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
