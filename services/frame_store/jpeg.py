"""A JPEG's size read from its header (the SOF marker), before anything is decoded.

A few hundred bytes can claim 12000x12000 pixels; decoding them would take gigabytes. The
frame-store reads the claimed size first and refuses what is over its limits.

Example:
    >>> header = bytes.fromhex("ffd8" "ffc0 0011 08 2ee0 2ee0 03 012200 021101 031101")
    >>> jpeg_size(header)
    (12000, 12000)
    >>> jpeg_size(b"\\xff\\xd8\\xff\\xd9")
    Traceback (most recent call last):
    ...
    ValueError: no SOF marker (the JPEG's size) before the end of the image
"""

from __future__ import annotations

_SOI = b"\xff\xd8"
_SOF_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF}
)
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length follows
_SOS = 0xDA
_EOI = 0xD9


def jpeg_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` as the JPEG's frame header (SOF) states them.

    Raises:
        ValueError: not a JPEG, a truncated header, or no SOF before the image data.
    """
    if not data.startswith(_SOI):
        raise ValueError("not a JPEG (no SOI marker)")
    position = len(_SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError(f"bad JPEG marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        if marker in (_SOS, _EOI):
            break
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            raise ValueError(f"bad JPEG segment length {length} at byte {position}")
        if marker in _SOF_MARKERS:
            segment = data[position + 4 : position + 2 + length]
            if len(segment) < 5:
                raise ValueError("truncated SOF segment")
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
            if width == 0 or height == 0:
                raise ValueError(f"the JPEG states a size of {width}x{height}")
            return width, height
        position += 2 + length
    raise ValueError("no SOF marker (the JPEG's size) before the end of the image")


def check_size(data: bytes, max_width: int, max_height: int, max_pixels: int) -> tuple[int, int]:
    """The JPEG's ``(width, height)`` if within the frame's stated size and ``max_pixels``.

    >>> header = bytes.fromhex("ffd8" "ffc0 0011 08 2ee0 2ee0 03 012200 021101 031101")
    >>> check_size(header, 16384, 16384, 40_000_000)
    Traceback (most recent call last):
    ...
    ValueError: the JPEG states 12000x12000 = 144000000 pixels; at most 40000000 are decoded

    Raises:
        ValueError: what is wrong, with the numbers.
    """
    width, height = jpeg_size(data)
    if width > max_width or height > max_height:
        raise ValueError(
            f"the JPEG states {width}x{height} pixels, larger than the frame's "
            f"{max_width}x{max_height}"
        )
    if width * height > max_pixels:
        raise ValueError(
            f"the JPEG states {width}x{height} = {width * height} pixels; "
            f"at most {max_pixels} are decoded"
        )
    return width, height
