"""Every line and zone of a scene tested against one frame's boxes in a few numpy passes.

Per-line and per-zone numpy calls cost more than the arithmetic for ten boxes, so the axis
lines are stacked into one matrix and every zone's edges into one table; polylines (rarer)
go one by one.

Example:
    >>> import numpy as np
    >>> from sightline.config.engine import DeviceConfig
    >>> device = DeviceConfig.model_validate({
    ...     "lines": [{"type": "vertical", "position_pct": 50, "name": "mid"}],
    ...     "zones": [{"name": "left", "x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 100}]})
    >>> batch = SceneBatch.from_scene(Scene.from_config(device, 1280, 720), 1280, 720)
    >>> batch.evaluate(np.array([[100.0, 100.0, 140.0, 200.0], [900.0, 100.0, 940.0, 200.0]]))
    ([[-1, 1]], [[True, False]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from event_engine.crossing import sides_of
from event_engine.geometry import Array, LineGeometry
from event_engine.scene import Scene
from sightline.config.base import Anchor

_ANCHORS = tuple(Anchor)
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class SceneBatch:
    """The stacked geometry of one :class:`Scene` (built once per frame size)."""

    edge: tuple[float, float]
    axis_rows: IntArray  # index into scene.lines of each axis line
    axis_anchor: IntArray  # which anchor (index into Anchor) each axis line tests
    axis_dim: IntArray  # 0 for x (vertical), 1 for y (horizontal)
    axis_position: Array
    axis_margin_negative: Array
    axis_margin_positive: Array
    polylines: tuple[tuple[int, int, LineGeometry], ...]  # (row, anchor index, geometry)
    edge_anchor: IntArray  # per zone edge
    edge_x1: Array
    edge_y1: Array
    edge_y2: Array
    edge_slope: Array
    zone_starts: IntArray  # first edge of each zone
    line_count: int

    @classmethod
    def from_scene(cls, scene: Scene, width: int, height: int) -> SceneBatch:
        """Stack ``scene``'s lines and zones for frames of ``width`` x ``height``."""
        axis = [
            (row, _ANCHORS.index(line.config.anchor), line.geometry)
            for row, line in enumerate(scene.lines)
            if line.geometry.kind != "polyline"
        ]
        polylines = tuple(
            (row, _ANCHORS.index(line.config.anchor), line.geometry)
            for row, line in enumerate(scene.lines)
            if line.geometry.kind == "polyline"
        )
        edges: list[tuple[int, float, float, float, float]] = []
        starts: list[int] = []
        for zone in scene.zones:
            starts.append(len(edges))
            points = zone.geometry.points
            anchor = _ANCHORS.index(zone.config.anchor)
            for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
                slope = (x2 - x1) / (y2 - y1) if y2 != y1 else 0.0
                edges.append((anchor, x1, y1, y2, slope))
        table = np.array(edges, dtype=np.float64).reshape(-1, 5)
        return cls(
            edge=(width - 1e-3, height - 1e-3),
            axis_rows=np.array([row for row, _, _ in axis], dtype=np.intp),
            axis_anchor=np.array([a for _, a, _ in axis], dtype=np.intp),
            axis_dim=np.array(
                [0 if g.kind == "vertical" else 1 for _, _, g in axis], dtype=np.intp
            ),
            axis_position=np.array(
                [g.points[0][0] if g.kind == "vertical" else g.points[0][1] for _, _, g in axis]
            ),
            axis_margin_negative=np.array([g.margin_negative for _, _, g in axis]),
            axis_margin_positive=np.array([g.margin_positive for _, _, g in axis]),
            polylines=polylines,
            edge_anchor=table[:, 0].astype(np.intp),
            edge_x1=table[:, 1],
            edge_y1=table[:, 2],
            edge_y2=table[:, 3],
            edge_slope=table[:, 4],
            zone_starts=np.array(starts, dtype=np.intp),
            line_count=len(scene.lines),
        )

    def evaluate(self, boxes: Array) -> tuple[list[list[int]], list[list[bool]]]:
        """For ``(N, 4)`` boxes: each line's confirmed sides (+1/-1/0) and each zone's insides.

        Anchors are kept inside the frame, so a zone that reaches the frame's edge contains
        the feet of someone walking out of the picture.
        """
        anchors = np.empty((len(_ANCHORS), len(boxes), 2))
        anchors[:, :, 0] = (boxes[:, 0] + boxes[:, 2]) / 2
        for index, anchor in enumerate(_ANCHORS):
            anchors[index, :, 1] = (
                (boxes[:, 1] + boxes[:, 3]) / 2 if anchor is Anchor.CENTER else boxes[:, 3]
            )
        np.clip(anchors, 0.0, self.edge, out=anchors)
        sides: list[list[int]] = [[] for _ in range(self.line_count)]
        if len(self.axis_rows):
            coords = anchors[self.axis_anchor, :, self.axis_dim]  # (L, N)
            distance = coords - self.axis_position[:, None]
            mpos, mneg = self.axis_margin_positive[:, None], self.axis_margin_negative[:, None]
            positive = (distance > mpos) | ((mpos == 0) & (distance >= 0))
            negative = (distance < -mneg) | ((mneg == 0) & (distance <= 0))
            matrix = (positive.astype(np.int8) - negative.astype(np.int8)).tolist()
            for row, values in zip(self.axis_rows.tolist(), matrix, strict=True):
                sides[row] = values
        for row, anchor_index, geometry in self.polylines:
            distance = geometry.signed_distance(anchors[anchor_index])
            sides[row] = sides_of(
                distance, geometry.margin_negative, geometry.margin_positive
            ).tolist()
        insides: list[list[bool]] = []
        if len(self.zone_starts):
            px = anchors[self.edge_anchor, :, 0].T  # (N, E)
            py = anchors[self.edge_anchor, :, 1].T
            straddles = (self.edge_y1 > py) != (self.edge_y2 > py)
            crossing = straddles & (px < self.edge_x1 + (py - self.edge_y1) * self.edge_slope)
            counts = np.add.reduceat(crossing.astype(np.int32), self.zone_starts, axis=1)
            insides = ((counts % 2) == 1).T.tolist()
        return sides, insides
