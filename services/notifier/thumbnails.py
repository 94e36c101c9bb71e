"""Small JPEG copies of snapshots for the digest grid (Pillow), zoomed on the object.

A digest shows its pictures two to a row at about 330 pixels, where the labels drawn on a
full 1280-pixel frame would be four times too small to read. So each thumbnail shows the
part of the frame around the object (:func:`focus_region`: the object with generous
context, at least 40 % of the frame's width, the frame's aspect kept), scaled to ``width``
pixels; immediate e-mails keep the full frame.

The object's box is in the pixels of the camera's frame; when the frame-store re-encoded
the picture smaller for its announcement it says so in a JPEG comment
(``sightline:frame=<width>x<height>``, see ``frame_store.pictures``) and the box is scaled.

Example:
    >>> import io
    >>> from PIL import Image
    >>> frame = io.BytesIO(); Image.new("RGB", (1280, 720)).save(frame, "JPEG")
    >>> small = thumbnail(SnapshotImage(frame.getvalue(), "frame.jpg"), 480)
    >>> Image.open(io.BytesIO(small.data or b"")).size, small.filename
    ((480, 270), 'frame-thumb.jpg')
    >>> focus_region((1280, 720), (600, 300, 660, 420))
    (310, 180, 950, 540)
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePath

from PIL import Image, UnidentifiedImageError

from notifier.snapshots import SnapshotImage

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 480
JPEG_QUALITY = 75
FOCUS_CONTEXT = 1.0
"""The region is the object's box plus this much of its size on each side (at least)."""
FOCUS_MIN_FRACTION = 0.4
"""The region is at least this fraction of the frame's width (the scene stays recognisable)."""
_FRAME_COMMENT = re.compile(rb"sightline:frame=(\d+)x(\d+)")

Box = tuple[float, float, float, float]


def focus_region(size: tuple[int, int], box: Box) -> tuple[int, int, int, int]:
    """The part of a ``size`` (width, height) picture to show for an object in ``box``
    (x1, y1, x2, y2): the box and its context, the picture's aspect, inside the picture.

    Example:
        >>> focus_region((1280, 720), (0, 0, 1280, 720))
        (0, 0, 1280, 720)
    """
    width, height = size
    aspect = width / height
    box_w, box_h = max(1.0, box[2] - box[0]), max(1.0, box[3] - box[1])
    region_w = max(
        box_w * (1 + 2 * FOCUS_CONTEXT),
        box_h * (1 + 2 * FOCUS_CONTEXT) * aspect,
        width * FOCUS_MIN_FRACTION,
    )
    region_w = min(float(width), region_w)
    region_h = min(float(height), region_w / aspect)
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1 = min(max(0.0, centre_x - region_w / 2), width - region_w)
    y1 = min(max(0.0, centre_y - region_h / 2), height - region_h)
    return round(x1), round(y1), round(x1 + region_w), round(y1 + region_h)


def frame_size(picture: Image.Image) -> tuple[int, int]:
    """The camera frame's size the picture was made from (its comment), else its own."""
    comment = picture.info.get("comment", b"")
    match = _FRAME_COMMENT.search(comment if isinstance(comment, bytes) else comment.encode())
    if match:
        return int(match.group(1)), int(match.group(2))
    return picture.size


def thumbnail(
    image: SnapshotImage, width: int = THUMBNAIL_WIDTH, focus: Box | None = None
) -> SnapshotImage:
    """``image`` scaled down to ``width`` pixels wide, as a JPEG; with ``focus`` (the object's
    box in frame pixels) only the region around it (:func:`focus_region`).

    An image already narrow enough (and not zoomed), or one Pillow cannot read, is returned
    as it is (a picture a mail client may show beats none).
    """
    if image.data is None:
        return image
    try:
        with Image.open(io.BytesIO(image.data)) as picture:
            region = (0, 0, picture.width, picture.height)
            if focus is not None:
                frame_w, frame_h = frame_size(picture)
                sx, sy = picture.width / frame_w, picture.height / frame_h
                box = (focus[0] * sx, focus[1] * sy, focus[2] * sx, focus[3] * sy)
                if 0 <= box[0] < box[2] <= picture.width and 0 <= box[1] < box[3] <= picture.height:
                    region = focus_region(picture.size, box)
            region_w, region_h = region[2] - region[0], region[3] - region[1]
            if region_w <= width and region == (0, 0, picture.width, picture.height):
                return image
            height = max(1, round(region_h * width / region_w))
            small = (
                picture.convert("RGB")
                .crop(region)
                .resize((width, height), Image.Resampling.LANCZOS)
            )
    # ImportError: with ultralytics in the process, PIL's open is patched to try HEIF via
    # an optional package on anything it cannot read.
    except (UnidentifiedImageError, OSError, ImportError) as exc:
        log.warning("cannot shrink snapshot %s, sending it whole: %s", image.filename, exc)
        return image
    output = io.BytesIO()
    small.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    name = f"{PurePath(image.filename).stem}-thumb.jpg"
    return SnapshotImage(output.getvalue(), name, "jpeg")
