"""Small JPEG copies of snapshots for the digest grid (Pillow).

A digest shows up to ``max_photos`` pictures side by side at a few hundred pixels, so it
carries thumbnails instead of full frames; immediate e-mails keep the full frame.

Example:
    >>> import io
    >>> from PIL import Image
    >>> frame = io.BytesIO(); Image.new("RGB", (1280, 720)).save(frame, "JPEG")
    >>> small = thumbnail(SnapshotImage(frame.getvalue(), "frame.jpg"), 480)
    >>> Image.open(io.BytesIO(small.data or b"")).size, small.filename
    ((480, 270), 'frame-thumb.jpg')
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath

from PIL import Image, UnidentifiedImageError

from notifier.snapshots import SnapshotImage

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 480
JPEG_QUALITY = 80


def thumbnail(image: SnapshotImage, width: int = THUMBNAIL_WIDTH) -> SnapshotImage:
    """``image`` scaled down to ``width`` pixels wide, as a JPEG.

    An image already narrow enough, or one Pillow cannot read, is returned as it is
    (a picture a mail client may show beats none).
    """
    if image.data is None:
        return image
    try:
        with Image.open(io.BytesIO(image.data)) as picture:
            if picture.width <= width:
                return image
            height = max(1, round(picture.height * width / picture.width))
            small = picture.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    # ImportError: with ultralytics in the process, PIL's open is patched to try HEIF via
    # an optional package on anything it cannot read.
    except (UnidentifiedImageError, OSError, ImportError) as exc:
        log.warning("cannot shrink snapshot %s, sending it whole: %s", image.filename, exc)
        return image
    output = io.BytesIO()
    small.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    name = f"{PurePath(image.filename).stem}-thumb.jpg"
    return SnapshotImage(output.getvalue(), name, "jpeg")
