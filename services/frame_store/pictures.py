"""Turn an event and its frame into stored pictures: annotated, clean and (optionally) crop.

Example:
    .. code-block:: python

        stored = store_pictures(FileStore(Path("var/snapshots")), event, frame, with_crop=True)
        stored.annotated.key  # 'driveway/2025-01-15/<event_id>.jpg'

    Any :class:`~frame_store.storage.PictureStore` will do (``S3Store`` too).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo

import cv2
import numpy as np

from frame_store.annotate import Image, annotate, crop
from frame_store.jpeg import check_size
from frame_store.ring import RecentFrame
from frame_store.storage import PictureKind, PictureStore, SnapshotKeys
from sightline.config.frames import AnnouncedImage
from sightline.errors import MessageError
from sightline.messages import DetectionEnvelope, Event, FrameData, FrameRef, SnapshotFiles

JPEG_QUALITY = 85
DEFAULT_MAX_PIXELS = 40_000_000
SMALLEST_WIDTH = 160
_JPEG_MAGIC = b"\xff\xd8"


@dataclass(frozen=True)
class StoredPictures:
    """The references of one event's pictures, and the annotated JPEG (for Home Assistant)."""

    files: SnapshotFiles
    annotated_jpeg: bytes

    @property
    def annotated(self) -> FrameRef:
        """The annotated picture's reference."""
        assert self.files.annotated is not None
        return self.files.annotated


def frame_of(envelope: DetectionEnvelope, max_pixels: int = DEFAULT_MAX_PIXELS) -> RecentFrame:
    """The JPEG an envelope carries, as a ring entry, its size checked before any decoding.

    Raises:
        MessageError: no ``frame_data``, bad base64, bytes that are not a JPEG, or a JPEG
            whose header states more pixels than the frame's ``width``x``height`` or than
            ``max_pixels``.
    """
    if envelope.frame_data is None:
        raise MessageError("frame_data: missing; a frame message must carry the JPEG")
    try:
        jpeg = base64.b64decode(envelope.frame_data.base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(f"frame_data.base64: not valid base64 ({exc})") from None
    if not jpeg.startswith(_JPEG_MAGIC):
        raise MessageError("frame_data.base64: the decoded bytes are not a JPEG")
    try:
        check_size(jpeg, envelope.frame.width, envelope.frame.height, max_pixels)
    except ValueError as exc:
        raise MessageError(f"frame_data: {exc}") from None
    boxes = {d.track_id: d.bbox for d in envelope.detections if d.track_id is not None}
    return RecentFrame(number=envelope.frame.number, jpeg=jpeg, boxes=boxes)


def as_seen_in(event: Event, frame: RecentFrame) -> Event:
    """``event`` with its object's box as it was in ``frame``, when that is another frame
    of the same track (the edge rate-limits frames, so the event's own may be missing)."""
    box = frame.boxes.get(event.object.track_id)
    if frame.number == event.frame_number or box is None:
        return event
    return event.model_copy(update={"object": event.object.model_copy(update={"bbox": box})})


def store_pictures(
    store: PictureStore,
    event: Event,
    frame: RecentFrame,
    with_crop: bool,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    zone: tzinfo = UTC,
) -> StoredPictures:
    """Store the clean JPEG as received, the annotated one (its caption's time in ``zone``)
    and the crop (:func:`~frame_store.annotate.crop`: the object with its context, at least
    320 px on the short side); skip any already stored (a redelivery after a crash writes
    nothing twice).

    Raises:
        ValueError: the frame's bytes do not decode as an image.
    """
    keys = SnapshotKeys.for_event(event.camera_id, event.timestamp, event.event_id)
    drawn = as_seen_in(event, frame)
    annotated_key = keys.key(PictureKind.ANNOTATED)
    image: Image | None = None
    if not store.exists(annotated_key) or (
        with_crop and not store.exists(keys.key(PictureKind.CROP))
    ):
        image = _decode(frame.jpeg, max_pixels)

    clean = _put_once(store, keys.key(PictureKind.CLEAN), lambda: frame.jpeg)
    annotated = _put_once(
        store, annotated_key, lambda: _encode(annotate(_need(image), drawn, zone))
    )
    cropped = None
    if with_crop:
        cropped = _put_once(
            store,
            keys.key(PictureKind.CROP),
            lambda: _encode(crop(_need(image), drawn.object.bbox)),
        )
    files = SnapshotFiles(annotated=annotated, clean=clean, crop=cropped)
    return StoredPictures(files, store.get(annotated_key))


def _put_once(store: PictureStore, key: str, render: Callable[[], bytes]) -> FrameRef:
    if store.exists(key):
        return store.ref(key)
    return store.put(key, render())


def _need(image: Image | None) -> Image:
    if image is None:  # pragma: no cover - decoded above whenever a picture is missing
        raise ValueError("the frame was not decoded")
    return image


def announced_image(
    jpeg: bytes, config: AnnouncedImage, max_pixels: int = DEFAULT_MAX_PIXELS
) -> FrameData | None:
    """The annotated snapshot as an announcement carries it: as stored when it is at most
    ``max_bytes``, else re-encoded at ``max_width`` and ``quality`` (halving the width until it
    fits) with the frame's own size in a JPEG comment (:func:`with_frame_size`, so a reader
    can place the event's box on it); None when it is disabled or nothing fits.

    Raises:
        ValueError: the stored JPEG does not decode.
    """
    if not config.enabled:
        return None
    if len(jpeg) <= config.max_bytes:
        return FrameData(quality=JPEG_QUALITY, base64=base64.b64encode(jpeg).decode("ascii"))
    image = _decode(jpeg, max_pixels)
    width = min(config.max_width, image.shape[1])
    while width >= SMALLEST_WIDTH:
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        smaller = with_frame_size(
            _encode(np.asarray(resized, np.uint8), config.quality), image.shape[1], image.shape[0]
        )
        if len(smaller) <= config.max_bytes:
            return FrameData(quality=config.quality, base64=base64.b64encode(smaller).decode())
        width //= 2
    return None


def with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with a comment (COM segment) ``sightline:frame=<width>x<height>`` after its
    start-of-image marker: the size of the frame a smaller copy was made from, in which the
    event's box is given.

    Example:
        >>> with_frame_size(bytes([0xFF, 0xD8]) + b"rest", 1920, 1080)[6:]
        b'sightline:frame=1920x1080rest'
    """
    comment = f"sightline:frame={width}x{height}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + segment + jpeg[2:]


def _decode(jpeg: bytes, max_pixels: int) -> Image:
    check_size(jpeg, 1 << 16, 1 << 16, max_pixels)  # never decode a bomb, whatever its path
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the frame's JPEG does not decode")
    return image.astype(np.uint8, copy=False)


def _encode(image: Image, quality: int = JPEG_QUALITY) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise ValueError("OpenCV could not encode the picture")
    return buffer.tobytes()
