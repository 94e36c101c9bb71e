"""Small generated videos: OpenCV-drawn moving shapes, written into a test's temp dir."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def moving_square_video(path: Path, frames: int, width: int = 320, height: int = 240) -> Path:
    """An MJPG AVI of a white square moving right; frame ``i`` carries ``i`` as a marker (see :func:`marker`).

    Example:
        >>> import tempfile
        >>> video = moving_square_video(Path(tempfile.mkdtemp()) / "v.avi", 3)
        >>> video.stat().st_size > 0
        True
    """
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (width, height))
    for i in range(frames):
        image = np.zeros((height, width, 3), np.uint8)
        image[:16, :16, 2] = i * 8 % 256
        x = 10 + i * 4 % (width - 60)
        cv2.rectangle(image, (x, 90), (x + 40, 150), (255, 255, 255), thickness=-1)
        writer.write(image)
    writer.release()
    return path


def marker(image: np.ndarray) -> int:
    """The frame index drawn by :func:`moving_square_video` (modulo 32), despite JPEG noise."""
    return round(float(image[2:14, 2:14, 2].mean()) / 8) % 32
