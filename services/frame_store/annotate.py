"""Draw an event on its frame: the object's box and label, the line and its direction, the zone.

Example:
    >>> import numpy as np
    >>> from sightline.messages import BBox
    >>> image = np.zeros((720, 1280, 3), dtype=np.uint8)
    >>> crop(image, BBox(x1=100, y1=100, x2=200, y2=300)).shape
    (480, 320, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo

import cv2
import numpy as np
import numpy.typing as npt

from sightline.messages import BBox, Direction, Event, LineRef, ZoneRef
from sightline.timestamps import in_zone

Image = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

OBJECT_COLOUR: Colour = (0, 200, 255)  # BGR: amber
LINE_COLOUR: Colour = (255, 80, 255)  # magenta
ZONE_COLOUR: Colour = (80, 220, 60)  # green
TEXT_COLOUR: Colour = (255, 255, 255)
DARK_TEXT: Colour = (0, 0, 0)
ZONE_OPACITY = 0.25
CROP_MARGIN = 0.5
"""The crop shows the object's box plus this much of its size on each side (its context)."""
CROP_MIN_SIDE = 320
"""A crop's short side is at least this many pixels: more of the frame around a small object,
and only where the frame itself is smaller, scaled up."""
CROP_ASPECT = (3, 2)  # the longer side at most 3/2 of the shorter
"""A crop is never narrower than 2:3 nor wider than 3:2 (a person is not a sliver)."""
FONT = cv2.FONT_HERSHEY_SIMPLEX

_DIRECTION_VECTORS: dict[Direction, tuple[float, float]] = {
    Direction.LEFT_TO_RIGHT: (1.0, 0.0),
    Direction.RIGHT_TO_LEFT: (-1.0, 0.0),
    Direction.TOP_TO_BOTTOM: (0.0, 1.0),
    Direction.BOTTOM_TO_TOP: (0.0, -1.0),
}


def annotate(image: Image, event: Event, zone: tzinfo = UTC) -> Image:
    """A copy of ``image`` with the event drawn on it: zone, line, object, then a caption
    whose time is in ``zone`` (named: ``2025-01-15 15:30:22 CET``).

    Labels are about 3 % of the frame's height, so they stay legible when the picture is
    shown small (a digest's thumbnail zooms on the object)."""
    out = image.copy()
    scale = max(0.6, out.shape[0] / 700)
    thickness = max(2, round(out.shape[0] / 300))
    if event.zone is not None and event.zone.points:
        _draw_zone(out, event.zone, scale, thickness)
    if event.line is not None and event.line.points:
        _draw_line(out, event.line, event.object.center.as_tuple(), scale, thickness)
    label = f"{event.object.class_name} {event.object.confidence:.2f} #{event.object.track_id}"
    box = event.object.bbox
    top_left = (round(box.x1), round(box.y1))
    cv2.rectangle(out, top_left, (round(box.x2), round(box.y2)), OBJECT_COLOUR, thickness)
    _label(out, label, top_left, OBJECT_COLOUR, scale, above=True)
    local = in_zone(event.timestamp, zone)
    caption = f"{event.event_type.value} {event.rule}  {local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    _label(out, caption, (0, 0), (40, 40, 40), scale, above=False)
    return out


def crop(
    image: Image, bbox: BBox, margin: float = CROP_MARGIN, min_side: int = CROP_MIN_SIDE
) -> Image:
    """The object with its context: the box plus ``margin`` of its size on each side, widened
    to an aspect between 2:3 and 3:2 and to ``min_side`` pixels on the short side (as far as
    the frame allows), moved inside the frame rather than cut; scaled up (aspect kept) when
    the frame itself is too small.

    Example:
        >>> import numpy as np
        >>> frame = np.zeros((720, 1280, 3), dtype=np.uint8)
        >>> crop(frame, BBox(x1=600, y1=300, x2=650, y2=400)).shape  # 50x100 px: a person
        (480, 320, 3)
        >>> crop(frame, BBox(x1=0, y1=0, x2=1280, y2=720)).shape  # the whole frame
        (720, 1280, 3)
    """
    height, width = image.shape[:2]
    box_w, box_h = max(1.0, bbox.x2 - bbox.x1), max(1.0, bbox.y2 - bbox.y1)
    want_w, want_h = box_w * (1 + 2 * margin), box_h * (1 + 2 * margin)
    ratio = CROP_ASPECT[0] / CROP_ASPECT[1]
    want_w = max(want_w, want_h / ratio)
    want_h = max(want_h, want_w / ratio)
    short = min(want_w, want_h)
    if short < min_side:
        want_w, want_h = want_w * min_side / short, want_h * min_side / short
    region_w, region_h = min(float(width), want_w), min(float(height), want_h)
    centre_x, centre_y = (bbox.x1 + bbox.x2) / 2, (bbox.y1 + bbox.y2) / 2
    x1 = round(min(max(0.0, centre_x - region_w / 2), width - region_w))
    y1 = round(min(max(0.0, centre_y - region_h / 2), height - region_h))
    x2 = min(width, max(x1 + 1, x1 + round(region_w)))
    y2 = min(height, max(y1 + 1, y1 + round(region_h)))
    out = image[y1:y2, x1:x2].copy()
    short_side = min(out.shape[:2])
    if short_side < min_side:
        factor = min_side / short_side
        size = (round(out.shape[1] * factor), round(out.shape[0] * factor))
        out = np.asarray(cv2.resize(out, size, interpolation=cv2.INTER_CUBIC), np.uint8)
    return out


def _pixels(points: Sequence[tuple[float, float]]) -> npt.NDArray[np.int32]:
    return np.array([[round(x), round(y)] for x, y in points], dtype=np.int32)


def _draw_zone(image: Image, zone: ZoneRef, scale: float, thickness: int) -> None:
    polygon = _pixels(zone.points or [])
    overlay = image.copy()
    cv2.fillPoly(overlay, [polygon], ZONE_COLOUR)
    cv2.addWeighted(overlay, ZONE_OPACITY, image, 1 - ZONE_OPACITY, 0, dst=image)
    cv2.polylines(image, [polygon], isClosed=True, color=ZONE_COLOUR, thickness=thickness)
    top = polygon[np.argmin(polygon[:, 1])]
    _label(image, zone.name, (int(top[0]), int(top[1])), ZONE_COLOUR, scale, above=True)


def _draw_line(
    image: Image,
    line: LineRef,
    object_center: tuple[float, float],
    scale: float,
    thickness: int,
) -> None:
    polyline = _pixels(line.points or [])
    cv2.polylines(image, [polyline], isClosed=False, color=LINE_COLOUR, thickness=thickness)
    if len(polyline) < 2:
        return
    start, end = polyline[0].astype(float), polyline[-1].astype(float)
    middle = (start + end) / 2
    normal = np.array([-(end - start)[1], (end - start)[0]])
    length = float(np.hypot(*normal)) or 1.0
    normal /= length
    wanted = _DIRECTION_VECTORS.get(line.direction)
    towards = np.array(wanted) if wanted else np.array(object_center) - middle
    if float(normal @ towards) < 0:
        normal = -normal
    arrow_length = max(40.0, image.shape[0] / 8)
    tail = middle  # the arrow leaves the line towards the side the object crossed to
    head = middle + normal * arrow_length
    cv2.arrowedLine(
        image,
        (round(tail[0]), round(tail[1])),
        (round(head[0]), round(head[1])),
        LINE_COLOUR,
        thickness + 1,
        tipLength=0.35,
    )
    name = f"{line.name} ({line.direction.value.replace('_', ' ')})"
    _label(image, name, (round(head[0]) + 8, round(head[1])), LINE_COLOUR, scale, above=False)


def _label(
    image: Image, text: str, anchor: tuple[int, int], colour: Colour, scale: float, above: bool
) -> None:
    """``text`` on a filled box of ``colour`` (black or white, whichever reads), inside the image."""
    weight = max(1, round(scale * 2))
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, weight)
    pad = max(3, round(height / 4))
    box_w, box_h = width + 2 * pad, height + baseline + 2 * pad
    x = min(max(0, anchor[0]), max(0, image.shape[1] - box_w))
    y = anchor[1] - box_h if above else anchor[1]
    y = min(max(0, y), max(0, image.shape[0] - box_h))
    cv2.rectangle(image, (x, y), (x + box_w, y + box_h), colour, thickness=cv2.FILLED)
    blue, green, red = colour
    luminance = 0.114 * blue + 0.587 * green + 0.299 * red
    text_colour = DARK_TEXT if luminance > 128 else TEXT_COLOUR
    origin = (x + pad, y + pad + height)
    cv2.putText(image, text, origin, FONT, scale, text_colour, weight, cv2.LINE_AA)
