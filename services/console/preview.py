"""``sightline preview``: a camera's configured lines and zones drawn on a picture, to a PNG.

The same overlay as the console's page (lines with their direction arrow and in/out sides,
zones with their names), for headless set-ups and for docs:

.. code-block:: console

    $ sightline-preview --config engine.yaml --camera street --video samples/pedestrians.avi \\
          --out overlay.png

The arrow of a polyline points to its ``in_side`` (seen walking from the first point to the
last, on screen):

Example:
    >>> arrow = side_arrow([(0.0, 100.0), (200.0, 100.0)], "polyline", "right", arm=10)
    >>> arrow.start, arrow.end   # walking right, the right hand side is down (y grows down)
    ((100.0, 90.0), (100.0, 110.0))
    >>> arrow.in_label, arrow.out_label
    ('IN', 'OUT')
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sightline.config.engine import DeviceConfig, LineConfig
from sightline.config.loader import read_yaml
from sightline.errors import ConfigError
from sightline.validation import describe_errors

PointXY = tuple[float, float]
EXIT_USAGE = 2

LINE_BGR = (78, 211, 255)
ZONE_BGR = (255, 200, 0)
IN_BGR = (178, 255, 125)
OUT_BGR = (157, 157, 255)


@dataclass(frozen=True)
class SideArrow:
    """The direction arrow of a line: from ``start`` to ``end``, across its middle segment."""

    start: PointXY
    end: PointXY
    in_label: str
    out_label: str


def line_points(line: LineConfig, width: int, height: int) -> list[PointXY]:
    """The line's vertices in pixels.

    Example:
        >>> line = LineConfig(type="vertical", name="gate", position_pct=25)
        >>> line_points(line, 400, 200)
        [(100.0, 0.0), (100.0, 200.0)]
    """
    if line.type == "vertical":
        x = (line.position_pct or 0.0) * width / 100
        return [(x, 0.0), (x, float(height))]
    if line.type == "horizontal":
        y = (line.position_pct or 0.0) * height / 100
        return [(0.0, y), (float(width), y)]
    points = line.points or []
    if line.units == "pct":
        return [(x * width / 100, y * height / 100) for x, y in points]
    return [(float(x), float(y)) for x, y in points]


def side_arrow(points: Sequence[PointXY], kind: str, in_side: str, arm: float) -> SideArrow:
    """The arrow across the middle segment of a line, pointing to its "in" side (polyline) or
    to the right / down (vertical / horizontal: ``left_to_right`` / ``top_to_bottom``)."""
    segment = (len(points) - 1) // 2
    (px, py), (qx, qy) = points[segment], points[segment + 1]
    mid = ((px + qx) / 2, (py + qy) / 2)
    length = math.hypot(qx - px, qy - py) or 1.0
    dx, dy = (qx - px) / length, (qy - py) / length
    if kind == "polyline":
        normal = (-dy, dx) if in_side == "right" else (dy, -dx)  # y grows downwards
        labels = ("IN", "OUT")
    elif kind == "vertical":
        normal, labels = (1.0, 0.0), ("left_to_right", "")
    else:
        normal, labels = (0.0, 1.0), ("top_to_bottom", "")
    start = (round(mid[0] - normal[0] * arm, 3), round(mid[1] - normal[1] * arm, 3))
    end = (round(mid[0] + normal[0] * arm, 3), round(mid[1] + normal[1] * arm, 3))
    return SideArrow(start, end, *labels)


def find_device(data: dict[str, Any], camera: str) -> tuple[str, DeviceConfig]:
    """The device section of an engine (or ``mode: local``) config that watches ``camera``.

    Raises:
        ConfigError: no device watches it, or its section is invalid (naming the key path).
    """
    devices = data.get("devices") or {}
    if not isinstance(devices, dict):
        raise ConfigError(["devices: expected a mapping of device id to its config"])
    candidates: list[tuple[str, str, Any]] = [
        (str(device_id), f"devices.{device_id}", section) for device_id, section in devices.items()
    ]
    own = data.get("device_id") or data.get("camera_id")
    if own is not None and any(k in data for k in ("lines", "zones", "events")):
        section: dict[str, Any] = {k: data[k] for k in ("lines", "zones", "events") if k in data}
        section["camera_id"] = data.get("camera_id") or own
        candidates.append((str(own), "", section))
    for device_id, path, section in candidates:
        if not isinstance(section, dict):
            continue
        if (section.get("camera_id") or device_id) != camera:
            continue
        try:
            return device_id, DeviceConfig.model_validate(section)
        except ValidationError as exc:
            prefix = f"{path}." if path else ""
            raise ConfigError([prefix + line for line in describe_errors(exc)]) from None
    known = sorted(str(s.get("camera_id") or d) for d, _, s in candidates if isinstance(s, dict))
    raise ConfigError(
        [f"--camera: no device watches camera {camera!r} (cameras: {', '.join(known) or 'none'})"]
    )


def draw_overlay(image: Any, config: DeviceConfig) -> Any:
    """``image`` (BGR, numpy) with the config's zones and lines drawn on a copy."""
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    scale = max(1.0, width / 1280)
    thick = max(2, round(2 * scale))
    font, font_scale = cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale
    out = image.copy()
    shade = image.copy()
    for zone in config.zones:
        polygon = np.array(zone.polygon(width, height), dtype=np.int32)
        cv2.fillPoly(shade, [polygon], ZONE_BGR)
    out = cv2.addWeighted(shade, 0.22, out, 0.78, 0)

    def text(label: str, at: PointXY, colour: tuple[int, int, int]) -> None:
        origin = (int(at[0]), int(at[1]))
        cv2.putText(out, label, origin, font, font_scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(out, label, origin, font, font_scale, colour, thick - 1 or 1, cv2.LINE_AA)

    for zone in config.zones:
        pts = zone.polygon(width, height)
        polygon = np.array(pts, dtype=np.int32)
        cv2.polylines(out, [polygon], True, ZONE_BGR, thick, cv2.LINE_AA)
        cx, cy = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        text(zone.label, (cx - 5 * len(zone.label) * scale, cy), (255, 232, 158))
    arm = width / 28
    for line in config.lines:
        pts = line_points(line, width, height)
        cv2.polylines(out, [np.array(pts, dtype=np.int32)], False, LINE_BGR, thick + 1, cv2.LINE_AA)
        arrow = side_arrow(pts, line.type, line.in_side, arm)
        start = (int(arrow.start[0]), int(arrow.start[1]))
        end = (int(arrow.end[0]), int(arrow.end[1]))
        cv2.arrowedLine(out, start, end, LINE_BGR, thick, cv2.LINE_AA, tipLength=0.3)
        nx, ny = (end[0] - start[0]) / (2 * arm), (end[1] - start[1]) / (2 * arm)
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        text(arrow.in_label, (mid[0] + nx * arm * 1.4, mid[1] + ny * arm * 1.4 + 6), IN_BGR)
        if arrow.out_label:
            text(
                arrow.out_label,
                (mid[0] - nx * arm * 1.6 - 12, mid[1] - ny * arm * 1.4 + 6),
                OUT_BGR,
            )
        text(line.label, (pts[0][0] + 6, max(20.0, pts[0][1] - 10)), LINE_BGR)
    return out


def read_picture(image: Path | None, video: Path | None, size: tuple[int, int]) -> Any:
    """The picture to draw on: an image, a video's first frame, or a grey canvas."""
    import cv2
    import numpy as np

    if image is not None:
        picture = cv2.imread(str(image))
        if picture is None:
            raise ConfigError([f"--image: cannot read {str(image)!r} as an image"])
        return picture
    if video is not None:
        capture = cv2.VideoCapture(str(video))
        try:
            ok, frame = capture.read()
        finally:
            capture.release()
        if not ok or frame is None:
            raise ConfigError([f"--video: cannot read a frame of {str(video)!r}"])
        return frame
    return np.full((size[1], size[0], 3), 64, dtype=np.uint8)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected WIDTHxHEIGHT, like 1280x720"
        ) from None
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise argparse.ArgumentTypeError(f"{text!r}: each side must lie in 16..16384")
    return width, height


def parser() -> argparse.ArgumentParser:
    """``sightline preview``'s options."""
    result = argparse.ArgumentParser(
        prog="sightline preview",
        description="Draw a camera's lines and zones on a picture and write it as a PNG.",
    )
    result.add_argument("--config", "-c", type=Path, required=True, help="engine config (YAML)")
    result.add_argument("--camera", required=True, help="camera id")
    source = result.add_mutually_exclusive_group()
    source.add_argument("--image", type=Path, help="draw on this image")
    source.add_argument("--video", type=Path, help="draw on this video's first frame")
    result.add_argument(
        "--size", type=_size, default=(1280, 720), help="canvas without --image/--video"
    )
    result.add_argument("--out", "-o", type=Path, default=Path("overlay.png"), help="PNG file")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Write the overlay; 0 on success, 2 with one line per problem otherwise."""
    args = parser().parse_args(argv)
    try:
        import cv2
    except ImportError:
        print(
            "sightline preview: needs OpenCV: pip install 'sightline[frames]' (or [edge])",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        _, config = find_device(read_yaml(args.config), args.camera)
        picture = read_picture(args.image, args.video, args.size)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"sightline preview: {problem}", file=sys.stderr)
        return EXIT_USAGE
    overlay = draw_overlay(picture, config)
    if not cv2.imwrite(str(args.out), overlay) or not args.out.exists():
        print(f"sightline preview: --out: cannot write {str(args.out)!r}", file=sys.stderr)
        return EXIT_USAGE
    height, width = overlay.shape[:2]
    print(
        f"sightline preview: {args.out} ({width}x{height}, {len(config.lines)} lines, "
        f"{len(config.zones)} zones)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
