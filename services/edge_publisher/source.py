"""Frames from a camera URL, a video file or a USB device, read in their own thread.

A live source (stream or device) keeps only the newest frame: inference never works on a
stale picture, and every frame overwritten before it was taken is counted. A file hands
over every frame (the reader waits for the loop) and ends, or starts again with ``loop``.

Example:
    >>> SourceKind.of("rtsp://camera:8554/stream"), SourceKind.of(0), SourceKind.of("a.mp4")
    (<SourceKind.STREAM: 'stream'>, <SourceKind.DEVICE: 'device'>, <SourceKind.FILE: 'file'>)
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
from numpy.typing import NDArray

from sightline.backoff import Backoff
from sightline.config.edge import CameraConfig
from sightline.threads import start_critical

log = logging.getLogger(__name__)

Image = NDArray[np.uint8]


class SourceError(Exception):
    """A file source that cannot be opened or read: the process cannot do its job."""


class SourceKind(StrEnum):
    """How a camera URL is read."""

    FILE = "file"
    STREAM = "stream"
    DEVICE = "device"

    @classmethod
    def of(cls, url: str | int) -> SourceKind:
        """The kind of ``url``: an int or digits is a device, ``scheme://`` a stream."""
        if isinstance(url, int) or url.isdigit():
            return cls.DEVICE
        return cls.STREAM if "://" in url else cls.FILE

    @property
    def live(self) -> bool:
        """Whether frames keep coming whether or not anyone takes them."""
        return self is not SourceKind.FILE


@dataclass(frozen=True)
class CapturedFrame:
    """One decoded frame and when it was captured."""

    image: Image
    source_index: int
    timestamp: datetime

    @property
    def width(self) -> int:
        """Pixels across."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Pixels down."""
        return int(self.image.shape[0])


def redacted(url: str | int) -> str:
    """``url`` without a password, for logs.

    Example:
        >>> redacted("rtsp://admin:secret@cam:554/s")
        'rtsp://admin:***@cam:554/s'
    """
    parts = urlsplit(str(url))
    if parts.password is None:
        return str(url)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
STOP_WAIT_S = 5.0
"""How long stopping waits for the readers, all cameras together."""


def stream_options(config: CameraConfig) -> list[int]:
    """OpenCV open parameters for a stream: give up opening or reading after ``timeout_s``.

    Example:
        >>> stream_options(CameraConfig(url="rtsp://cam/s", timeout_s=5)) == [
        ...     cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        True
    """
    milliseconds = round(config.timeout_s * 1000)
    return [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        milliseconds,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        milliseconds,
    ]


_SET_OUTSIDE = FFMPEG_OPTIONS in os.environ
"""Whether the deployer set FFmpeg's options for the process: then they win for every
camera."""


class TransportGate:
    """FFmpeg's options are one variable for the whole process, read at each open: RTSP
    opens with the same transport run together; one with another transport waits until
    they are done (at most their ``timeout_s``), then sets its own. First come, first
    served: an open that comes while one with another transport waits begins after it
    (cameras reopening in a loop with one transport never starve a camera with the other).

    >>> gate = TransportGate()
    >>> with gate.opening("tcp"), gate.opening("tcp"):  # the same transport: together
    ...     os.environ[FFMPEG_OPTIONS], gate.transport, gate.open
    ('rtsp_transport;tcp', 'tcp', 2)
    >>> with gate.opening("udp"):
    ...     os.environ[FFMPEG_OPTIONS]
    'rtsp_transport;udp'
    """

    def __init__(self) -> None:
        self.transport: str | None = None
        self.open = 0
        """Opens in progress, all with :attr:`transport`."""
        self.waiting: deque[tuple[int, str]] = deque()
        """``(ticket, transport)`` of the opens waiting to begin, in the order they came."""
        self._tickets = itertools.count()
        self._cond = threading.Condition()

    def _may_begin(self, ticket: int, transport: str) -> bool:
        """First come, first served: an open begins once no open that came before it waits
        with another transport, and the opens in progress (if any) share its transport."""
        for earlier, other in self.waiting:
            if earlier == ticket:
                break
            if other != transport:
                return False
        return not self.open or self.transport == transport

    @contextmanager
    def opening(self, transport: str) -> Iterator[None]:
        """Held while a camera opens with ``transport`` in FFmpeg's options."""
        ticket = next(self._tickets)
        with self._cond:
            self.waiting.append((ticket, transport))
            try:
                while not self._may_begin(ticket, transport):
                    self._cond.wait()
            finally:
                self.waiting.remove((ticket, transport))
                self._cond.notify_all()  # the next in line may begin along with this one
            if not self.open:
                os.environ[FFMPEG_OPTIONS] = f"rtsp_transport;{transport}"
                self.transport = transport
            self.open += 1
        try:
            yield
        finally:
            with self._cond:
                self.open -= 1
                self._cond.notify_all()


_OPENING = TransportGate()


def open_capture(url: str | int, config: CameraConfig | None = None) -> cv2.VideoCapture:
    """Open ``url`` with OpenCV (a digit string is a device index).

    A stream is opened with FFmpeg, the camera's timeouts and, for ``rtsp://``, its
    transport. FFmpeg reads the transport from ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` at each
    open, one variable for the whole process: each RTSP camera opens through
    :class:`TransportGate`, so two cameras of one edge never open with each other's
    transport, and cameras with the same one (the usual case) open together. A variable set
    before the edge started wins for every camera.
    """
    if isinstance(url, str) and url.isdigit():
        url = int(url)
    if config is None or SourceKind.of(url) is not SourceKind.STREAM:
        return cv2.VideoCapture(url)
    assert isinstance(url, str)
    if _SET_OUTSIDE or not url.lower().startswith(("rtsp://", "rtsps://")):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, stream_options(config))
    with _OPENING.opening(config.rtsp_transport):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, stream_options(config))


def check_file(url: str) -> int:
    """Make sure a file source exists and decodes; return the frame count its container claims.

    Raises:
        SourceError: the file is missing or OpenCV cannot decode a frame of it.
    """
    path = Path(url)
    if not path.is_file():
        raise SourceError(f"camera.url: video file {str(path)!r} does not exist")
    capture = open_capture(url)
    try:
        if not capture.isOpened() or not capture.read()[0]:
            raise SourceError(f"camera.url: cannot decode video file {str(path)!r}")
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


class FrameReader:
    """Reads a source in a daemon thread; :meth:`next` hands frames to the loop.

    Args:
        config: the camera section.
        file_buffer: frames a file source may read ahead of the loop.
        ready: set whenever a frame arrives or the source ends (one event may serve the
            readers of several cameras).
        name: the reader thread's name.
    """

    def __init__(
        self,
        config: CameraConfig,
        file_buffer: int = 4,
        ready: threading.Event | None = None,
        name: str = "camera-reader",
    ) -> None:
        self.config = config
        self.ready = ready or threading.Event()
        self.name = name
        self.kind = SourceKind.of(config.url)
        self.stale_dropped = 0
        self.reconnects = 0
        self.total_frames = check_file(str(config.url)) if self.kind is SourceKind.FILE else 0
        self._capacity = 1 if self.kind.live else file_buffer
        self._frames: deque[CapturedFrame] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._finished = False
        self._error: SourceError | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reading; the thread is critical (its death ends the process)."""
        self._thread = start_critical(self._run, self.name)

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop reading and wait for the thread, ``timeout`` seconds at most (a read or an
        open may hang that long and more; the daemon thread is then left behind)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def request_stop(self) -> None:
        """Ask the thread to stop, without waiting (so that several cameras stop together)."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def healthy(self) -> bool:
        """For /healthz: not started yet, reading, or ended cleanly (a file's last frame, a
        stop); False once the thread is gone without that, or the source failed."""
        with self._cond:
            if self._error is not None:
                return False
            ended = self._finished
        return self._thread is None or self._thread.is_alive() or ended

    @property
    def finished(self) -> bool:
        """A file source has handed over its last frame. A source that failed is not
        finished: :meth:`next` raises its error, which ends the process."""
        with self._cond:
            return self._finished and not self._frames and self._error is None

    def next(self, timeout: float) -> CapturedFrame | None:
        """The next frame (for a live source, the newest), or None after ``timeout`` seconds.

        Raises:
            SourceError: the file became unreadable.
        """
        with self._cond:
            if not self._frames and not self._finished:
                self._cond.wait(timeout)
            if self._error is not None:
                raise self._error
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._cond.notify_all()
            return frame

    def _offer(self, frame: CapturedFrame) -> bool:
        """Hand a frame over; a live source replaces a waiting one, a file waits for room."""
        with self._cond:
            if self.kind.live:
                if self._frames:
                    self._frames.popleft()
                    self.stale_dropped += 1
            else:
                while len(self._frames) >= self._capacity and not self._stopping.is_set():
                    self._cond.wait(0.2)
            self._frames.append(frame)
            self._cond.notify_all()
        self.ready.set()
        return not self._stopping.is_set()

    def _finish(self, error: SourceError | None = None) -> None:
        with self._cond:
            self._finished = True
            self._error = error
            self._cond.notify_all()
        self.ready.set()

    def _run(self) -> None:
        if self.kind is SourceKind.FILE:
            self._read_file()
        else:
            self._read_live()

    def _read_file(self) -> None:
        started = datetime.now(UTC)
        offset_ms = 0.0
        index = 0
        while not self._stopping.is_set():
            capture = open_capture(self.config.url)
            if not capture.isOpened():
                self._finish(SourceError(f"camera.url: cannot open {self.config.url!r}"))
                return
            step_ms = 1000.0 / (capture.get(cv2.CAP_PROP_FPS) or 25.0)
            media_ms = -step_ms
            while not self._stopping.is_set():
                ok, image = capture.read()
                if not ok:
                    break
                # Containers disagree on what the position means: keep it increasing.
                media_ms = max(float(capture.get(cv2.CAP_PROP_POS_MSEC)), media_ms + 1.0)
                stamp = started + timedelta(milliseconds=offset_ms + media_ms)
                if not self._offer(CapturedFrame(np.asarray(image, np.uint8), index, stamp)):
                    break
                index += 1
            capture.release()
            if not self.config.loop:
                break
            offset_ms += media_ms + step_ms
            log.info("video file ended: starting again", extra={"url": redacted(self.config.url)})
        self._finish()

    def _read_live(self) -> None:
        backoff = Backoff(
            self.config.reconnect_min_s,
            max(self.config.reconnect_min_s, self.config.reconnect_max_s),
        )
        index = 0
        failed = 0  # reopen attempts since frames last came
        url = redacted(self.config.url)
        while not self._stopping.is_set():
            capture = open_capture(self.config.url, self.config)
            got_frame = False
            while capture.isOpened() and not self._stopping.is_set():
                ok, image = capture.read()
                if not ok:
                    break
                if not got_frame and failed:
                    log.info(
                        "camera %s is back after %d reconnect attempts",
                        url,
                        failed,
                        extra={"url": url, "reconnects": self.reconnects},
                    )
                got_frame = True
                failed = 0
                self._offer(CapturedFrame(np.asarray(image, np.uint8), index, datetime.now(UTC)))
                index += 1
            capture.release()
            if self._stopping.is_set():
                break
            if got_frame:
                backoff.reset()
            delay = backoff.next_delay()
            self.reconnects += 1
            failed += 1
            log.warning(
                "camera %s unavailable: reconnecting in %.1f s",
                redacted(self.config.url),
                delay,
                extra={"url": redacted(self.config.url), "reconnects": self.reconnects},
            )
            self._stopping.wait(delay)
        self._finish()
