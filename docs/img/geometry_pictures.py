"""Draw the pictures of docs/geometry.md with the engine's own geometry (so they show what the
code computes, not what we think it computes).

Usage: ``PYTHONPATH=shared:services .venv/bin/python docs/img/geometry_pictures.py``
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from event_engine.crossing import UNKNOWN, sides_of
from event_engine.engine import Engine
from event_engine.geometry import LineGeometry, ZoneGeometry
from sightline.config import EngineSettings
from sightline.config.engine import LineConfig, ZoneConfig
from sightline.messages import DetectionEnvelope

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
Image = npt.NDArray[np.uint8]
# BGR
GREEN, BLUE, YELLOW, GREY = (80, 200, 60), (230, 140, 40), (40, 220, 240), (200, 110, 200)
RED, WHITE, BLACK, ORANGE = (40, 40, 230), (255, 255, 255), (0, 0, 0), (0, 140, 255)
SIDE_COLOURS = {1: GREEN, -1: BLUE, 0: YELLOW, UNKNOWN: GREY}


def tint(
    image: Image, mask: npt.NDArray[np.bool_], colour: tuple[int, int, int], alpha: float
) -> None:
    """Blend ``colour`` into ``image`` where ``mask``."""
    image[mask] = (image[mask] * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)


def text(image: Image, where: tuple[int, int], words: str, scale: float = 0.6) -> None:
    """Black text on a white label."""
    (width, height), base = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = where
    cv2.rectangle(image, (x - 3, y - height - 4), (x + width + 3, y + base), WHITE, -1)
    cv2.putText(image, words, where, cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, 1, cv2.LINE_AA)


def save(path: str, image: Image) -> None:
    """Write a PNG, compressed hard (they live in git)."""
    cv2.imwrite(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def caption(image: Image, lines: list[str]) -> Image:
    """``image`` with a white strip of ``lines`` under it."""
    strip = np.full((12 + 24 * len(lines), image.shape[1], 3), 255, np.uint8)
    for index, words in enumerate(lines):
        cv2.putText(
            strip,
            words,
            (10, 26 + 24 * index),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.55,
            BLACK,
            1,
            cv2.LINE_AA,
        )
    return np.vstack([image, strip])


def grid(
    width: int, height: int, scale: float = 1.0, origin: tuple[float, float] = (0, 0)
) -> npt.NDArray[np.float64]:
    """Pixel centres of a ``width`` x ``height`` picture in frame coordinates, ``(H*W, 2)``."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack(
        [origin[0] + (xs.ravel() + 0.5) / scale, origin[1] + (ys.ravel() + 0.5) / scale], axis=1
    )


def paint_sides(
    image: Image, line: LineGeometry, points: npt.NDArray[np.float64], alpha: float
) -> None:
    """Tint each pixel by its side of ``line``: green +, blue -, yellow band, grey unknown."""
    sides = sides_of(line.signed_distance(points), line.margin_negative, line.margin_positive)
    sides = sides.reshape(image.shape[:2])
    for side, colour in SIDE_COLOURS.items():
        tint(image, sides == side, colour, alpha)


def polyline(
    image: Image,
    points: list[tuple[float, float]],
    to_px: Callable[[float, float], tuple[int, int]],
    colour: tuple[int, int, int],
    thickness: int = 2,
) -> None:
    """Draw a polyline given in frame coordinates."""
    pts = np.array([to_px(x, y) for x, y in points], dtype=np.int32)
    cv2.polylines(image, [pts], False, colour, thickness, cv2.LINE_AA)


def walk_arrows(
    image: Image,
    path: list[tuple[float, float]],
    to_px: Callable[[float, float], tuple[int, int]],
    colour: tuple[int, int, int],
) -> None:
    """A walk as arrows from point to point, each point a dot."""
    for (x1, y1), (x2, y2) in itertools.pairwise(path):
        cv2.arrowedLine(image, to_px(x1, y1), to_px(x2, y2), colour, 2, cv2.LINE_AA, tipLength=0.12)
    for x, y in path:
        cv2.circle(image, to_px(x, y), 4, colour, -1, cv2.LINE_AA)


def video_frame(number: int) -> Image:
    """Frame ``number`` of samples/pedestrians.avi."""
    capture = cv2.VideoCapture(str(ROOT / "samples" / "pedestrians.avi"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, number)
    ok, frame = capture.read()
    capture.release()
    assert ok, "samples/pedestrians.avi: frame not read"
    return np.asarray(frame, dtype=np.uint8)


def recorded(number: int) -> DetectionEnvelope:
    """The recorded detections of frame ``number`` (tests/fixtures/engine/pedestrians.jsonl)."""
    path = ROOT / "tests" / "fixtures" / "engine" / "pedestrians.jsonl"
    with path.open() as lines:
        for line in lines:
            envelope = DetectionEnvelope.model_validate(json.loads(line))
            if envelope.frame.number == number:
                return envelope
    raise LookupError(number)


def kerb_and_corner() -> None:
    """The replay fixture's kerb (a segment) and corner (a zone), on a real frame, 2x."""
    number, scale, origin = 141, 2.0, (0.0, 440.0)
    crop = video_frame(number)[440:720, 0:560]
    image = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    height, width = image.shape[:2]

    def to_px(x: float, y: float) -> tuple[int, int]:
        return round((x - origin[0]) * scale), round((y - origin[1]) * scale)

    points = grid(width, height, scale, origin)
    kerb = LineGeometry.from_config(
        LineConfig(
            type="polyline", name="kerb", points=[(0, 600), (280, 600)], units="px", in_side="right"
        ),
        1280,
        720,
    )
    paint_sides(image, kerb, points, 0.28)
    polyline(image, list(kerb.points), to_px, WHITE, 2)
    corner = ZoneGeometry.from_config(
        ZoneConfig(name="corner", points=[(0, 620), (260, 620), (260, 720), (0, 720)], units="px"),
        1280,
        720,
    )
    margin = corner.margin(100)  # a person here is ~100 px tall
    inside = (corner.contains(np.clip(points, 0, (1279.999, 719.999)))).reshape(height, width)
    depth = corner.depths(points).reshape(height, width)
    band = depth < margin
    edge = np.zeros((height, width), np.uint8)
    edge[band & inside] = 255
    contours, _ = cv2.findContours(edge, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(image, contours, -1, ORANGE, 1, cv2.LINE_AA)
    edge[:] = 0
    edge[band & ~inside] = 255
    contours, _ = cv2.findContours(edge, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(image, contours, -1, ORANGE, 1, cv2.LINE_AA)
    cv2.polylines(
        image,
        [np.array([to_px(x, y) for x, y in corner.points], np.int32)],
        True,
        RED,
        2,
        cv2.LINE_AA,
    )
    for detection in recorded(number).detections:
        box = detection.bbox
        if box.x1 > 560 or box.y2 < 440:
            continue
        cv2.rectangle(image, to_px(box.x1, box.y1), to_px(box.x2, box.y2), WHITE, 1, cv2.LINE_AA)
        foot = to_px((box.x1 + box.x2) / 2, box.y2)
        cv2.circle(image, foot, 6, RED, -1, cv2.LINE_AA)
        text(image, (foot[0] + 8, foot[1] - 8), f"track {detection.track_id}", 0.5)
    lines = [
        f"Frame {number} of samples/pedestrians.avi (x 0..560, y 440..720, drawn 2x), recorded detections.",
        "Kerb (white, (0,600)-(280,600)): blue above, green below ('in'), yellow the 8 px band,",
        "purple: more than 8 px past its end, where the side is unknown.",
        f"Corner zone (red): orange lines {margin:.0f} px inside and outside its edges (a 100 px box);",
        "no band along the frame's border. Red dots: the anchors (bottom centre) the engine tests.",
    ]
    save(str(OUT / "kerb-and-corner.png"), caption(image, lines))


def old_polyline_distance(
    vertices: npt.NDArray[np.float64], anchors: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The rule before: the nearest segment's own sign (ties to the first), NaN past the ends."""
    starts = vertices[:-1]
    seg = vertices[1:] - starts
    rel = anchors[:, None, :] - starts[None, :, :]
    t = (rel[..., 0] * seg[:, 0] + rel[..., 1] * seg[:, 1]) / (seg**2).sum(axis=1)
    clamped = np.clip(t, 0.0, 1.0)
    dist = np.hypot(rel[..., 0] - clamped * seg[:, 0], rel[..., 1] - clamped * seg[:, 1])
    signed = np.copysign(dist, seg[:, 0] * rel[..., 1] - seg[:, 1] * rel[..., 0])
    best = dist.argmin(axis=1)
    rows = np.arange(len(anchors))
    near_t = t[rows, best]
    beyond = ((best == 0) & (near_t < 0)) | ((best == len(seg) - 1) & (near_t > 1))
    result: npt.NDArray[np.float64] = np.where(beyond, np.nan, signed[rows, best])
    return result


def corners_and_ends() -> None:
    """Three panels: a segment's free end; a sharp vertex before and now."""
    size = 420
    panels: list[Image] = []

    def to_px(x: float, y: float) -> tuple[int, int]:
        return round(x), round(y)

    points = grid(size, size)
    # (a) a finite segment: its end, the reach, a walk round the end and a lost track.
    image = np.full((size, size, 3), 255, np.uint8)
    segment = LineGeometry.from_config(
        LineConfig(type="polyline", name="s", points=[(40, 210), (260, 210)], units="px"), 1280, 720
    )
    paint_sides(image, segment, points, 0.45)
    polyline(image, list(segment.points), to_px, BLACK, 3)
    walk_arrows(image, [(230, 150), (300, 150), (330, 210), (300, 270), (230, 270)], to_px, RED)
    text(image, (250, 135), "round the end: 0", 0.5)
    cv2.circle(image, (120, 140), 5, ORANGE, -1, cv2.LINE_AA)
    cv2.circle(image, (150, 290), 5, ORANGE, -1, cv2.LINE_AA)
    cv2.line(image, (120, 140), (150, 290), ORANGE, 1, cv2.LINE_AA)
    text(image, (20, 125), "lost here ...", 0.5)
    text(image, (60, 320), "... re-acquired: 1", 0.5)
    text(image, (10, 24), "(a) past a segment's ends: unknown", 0.55)
    panels.append(image)
    # (b), (c): a 30-degree vertex, the old sign and the new one, with a walk round it.
    heading, interior = math.radians(70), math.radians(30)
    vertex = (210.0, 300.0)
    start = (vertex[0] - 260 * math.cos(heading), vertex[1] - 260 * math.sin(heading))
    out = heading - (math.pi - interior)
    end = (vertex[0] + 260 * math.cos(out), vertex[1] + 260 * math.sin(out))
    vee = [start, vertex, end]
    line = LineGeometry.from_config(
        LineConfig(type="polyline", name="v", points=vee, units="px"), 1280, 720
    )
    around = [(150, 330), (190, 345), (235, 345), (265, 325)]
    for title, distance in (
        ("(b) before: nearest segment's sign", old_polyline_distance(np.array(vee), points)),
        ("(c) now: the vertex's pseudo-normal", line.signed_distance(points)),
    ):
        image = np.full((size, size, 3), 255, np.uint8)
        sides = sides_of(distance, 8, 8).reshape(size, size)
        for side, colour in SIDE_COLOURS.items():
            tint(image, sides == side, colour, 0.45)
        polyline(image, vee, to_px, BLACK, 3)
        walk_arrows(image, around, to_px, RED)
        walked = sides_of(
            (
                old_polyline_distance(np.array(vee), np.array(around))
                if "before" in title
                else line.signed_distance(np.array(around))
            ),
            8,
            8,
        )
        changes = sum(
            1 for a, b in itertools.pairwise(walked) if a != b and a in (1, -1) and b in (1, -1)
        )
        text(image, (10, 24), title, 0.55)
        text(
            image,
            (120, 390),
            f"walk round the corner: {changes} crossing{'s' if changes != 1 else ''}",
            0.5,
        )
        panels.append(image)
    strip = np.hstack([np.pad(p, ((2, 2), (2, 2), (0, 0))) for p in panels])
    lines = [
        "Green: right of the walking direction (first to last point); blue: left; yellow: the 8 px band;",
        "purple: unknown (more than end_tolerance_px = 8 px past a free end). Red: a walk; its crossings.",
        "(b) and (c): a 30-degree vertex; outside it the nearest segment's own sign was wrong in a wedge.",
    ]
    save(str(OUT / "polyline-ends-and-corners.png"), caption(strip, lines))


def zone_edge() -> None:
    """A foot jittering on a zone's right edge, through the engine with and without margin."""
    width, height, x0, scale = 520, 360, 680.0, 2.6

    def to_px(x: float, y: float) -> tuple[int, int]:
        return round((x - x0) * scale), round(y)

    xs = [700, 760, 797, 803, 795, 806, 798, 804, 796, 802, 797, 805, 840, 860]
    panels: list[Image] = []
    for title, zone_extra in (
        ("margin 0: it flaps", {"margin_px": 0, "margin_box": 0}),
        ("default margin (8 px here): once each way", {}),
    ):
        zone = {
            "name": "porch",
            "points": [[400, 300], [800, 300], [800, 600], [400, 600]],
            "units": "px",
            "exit_frames": 1,
            **zone_extra,
        }
        rules = [
            {"name": "enter", "match": {"event_type": "ZONE_ENTER"}},
            {"name": "exit", "match": {"event_type": "ZONE_EXIT"}},
        ]
        engine = Engine(
            EngineSettings.model_validate(
                {"devices": {"pi": {"camera_id": "cam", "zones": [zone], "events": rules}}}
            )
        )
        image = np.full((height, width, 3), 255, np.uint8)
        cv2.rectangle(image, to_px(680, 0), to_px(800, height), (230, 220, 250), -1)
        if not zone_extra:
            cv2.rectangle(image, to_px(792, 0), to_px(808, height), (200, 240, 250), -1)
            cv2.line(image, to_px(792, 0), to_px(792, height), ORANGE, 1, cv2.LINE_AA)
            cv2.line(image, to_px(808, 0), to_px(808, height), ORANGE, 1, cv2.LINE_AA)
        cv2.line(image, to_px(800, 0), to_px(800, height), RED, 2, cv2.LINE_AA)
        events: list[tuple[int, str]] = []
        for frame, x in enumerate(xs):
            envelope = DetectionEnvelope.model_validate(
                {
                    "version": 1,
                    "source": {
                        "device_id": "pi",
                        "camera_id": "cam",
                        "timestamp": f"2025-01-15T14:30:{frame:02d}.000Z",
                    },
                    "frame": {"number": frame, "width": 1280, "height": 720},
                    "detections": [
                        {
                            "track_id": 1,
                            "class_id": 0,
                            "class_name": "person",
                            "confidence": 0.9,
                            "bbox": {"x1": x - 20, "y1": 400, "x2": x + 20, "y2": 500},
                            "center": {"x": x, "y": 450},
                        }
                    ],
                }
            )
            events += [
                (frame, str(e.event_type).split("_")[1]) for e in engine.process(envelope).events
            ]
        rows = [40 + 22 * frame for frame in range(len(xs))]
        for frame, x in enumerate(xs):
            cv2.circle(image, to_px(x, rows[frame]), 4, BLACK, -1, cv2.LINE_AA)
            if frame:
                cv2.line(
                    image,
                    to_px(xs[frame - 1], rows[frame - 1]),
                    to_px(x, rows[frame]),
                    BLACK,
                    1,
                    cv2.LINE_AA,
                )
        for frame, kind in events:
            colour = GREEN if kind == "ENTER" else RED
            cv2.circle(image, to_px(xs[frame], rows[frame]), 9, colour, 2, cv2.LINE_AA)
            cv2.putText(
                image,
                kind.lower(),
                (to_px(xs[frame], rows[frame])[0] + 12, rows[frame] + 5),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                colour,
                1,
                cv2.LINE_AA,
            )
        cv2.putText(image, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, BLACK, 1, cv2.LINE_AA)
        cv2.putText(
            image, "inside", (8, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK, 1, cv2.LINE_AA
        )
        cv2.putText(
            image,
            "outside",
            (width - 75, height - 10),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            BLACK,
            1,
            cv2.LINE_AA,
        )
        panels.append(image)
    strip = np.hstack([np.pad(p, ((2, 2), (2, 2), (0, 0))) for p in panels])
    lines = [
        "A foot (one dot per frame, time going down) jittering +-6 px on a zone's right edge (red),",
        "exit_frames 1. Orange: the margin, max(margin_px 8, margin_box 0.05 x 100 px box).",
    ]
    save(str(OUT / "zone-edge-margin.png"), caption(strip, lines))


if __name__ == "__main__":
    kerb_and_corner()
    corners_and_ends()
    zone_edge()
