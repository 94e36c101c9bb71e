"""Native libraries' lines (FFmpeg, OpenCV, OpenVINO) in the edge's JSON log, never between its lines.

FFmpeg (inside OpenCV: to stdout, as ``[OPENCV:FFMPEG:16] ...``), OpenCV and OpenVINO write
straight to file descriptors 1 and 2. :func:`capture_native_output` points both at a pipe and
logs each line it reads as a record of the ``native`` logger, while the log handlers (and
``sys.stdout`` / ``sys.stderr``) keep writing to the real ones. :func:`quiet_native_logs`
lowers the native libraries' own chatter before they load; :func:`native_level` decides how
loud each captured line is: OpenVINO's telemetry notice is DEBUG, FFmpeg's errors WARNING.

Example:
    >>> native_level("[OPENCV:FFMPEG:16] Connection to tcp://cam:554 failed: Connection refused")
    30
    >>> native_level("[OPENCV:FFMPEG:48] Probing rtsp score:100")
    10
    >>> native_level("[ WARN:0@7.458] global cap.cpp:212 open VIDEOIO(FFMPEG): can't capture")
    30
    >>> native_level("OpenVINO collects anonymous usage data (telemetry) to improve the tool")
    10
    >>> native_level("[rtsp @ 0x55d0c8a4e2c0] method DESCRIBE failed: 404 Not Found")
    30
    >>> native_level("[h264 @ 0x5600] no frame!")
    20
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import IO

from sightline.threads import start_critical

log = logging.getLogger("native")

NATIVE_ENV = {
    # OpenCV's own logging: warnings and errors only (its INFO lines are plugin probing).
    "OPENCV_LOG_LEVEL": "WARNING",
    # FFmpeg's av_log level inside OpenCV: 16 = AV_LOG_ERROR (no per-packet warnings).
    "OPENCV_FFMPEG_LOGLEVEL": "16",
}

_ERROR = re.compile(r"error|fail|refused|timed? ?out|unauthori[sz]ed|not found|cannot", re.I)
_FFMPEG = re.compile(r"^\[OPENCV:FFMPEG:(\d+)\]")
_OPENCV = {"[ WARN": logging.WARNING, "[ERROR": logging.ERROR, "[ INFO": logging.INFO}


def quiet_native_logs() -> None:
    """Set the native libraries' log levels (before OpenCV and OpenVINO load) unless the
    environment already sets them."""
    for key, value in NATIVE_ENV.items():
        os.environ.setdefault(key, value)


def native_level(line: str) -> int:
    """How loud a captured native line is: telemetry notices DEBUG, errors WARNING, else INFO."""
    if "telemetry" in line.lower():
        return logging.DEBUG
    if match := _FFMPEG.match(line):
        # av_log: 8 fatal, 16 error, 24 warning, 32 info, 40 verbose, 48 debug
        level = int(match.group(1))
        return logging.WARNING if level <= 24 else logging.INFO if level <= 32 else logging.DEBUG
    for prefix, known in _OPENCV.items():
        if line.startswith(prefix):
            return known
    if line.startswith("[DEBUG") or line.startswith("[VERBOSE"):
        return logging.DEBUG
    return logging.WARNING if _ERROR.search(line) else logging.INFO


class TelemetryToDebug(logging.Filter):
    """Logs OpenVINO's telemetry package writes on the root logger (``logging.info(...)``)
    become DEBUG records: shown only when the edge logs at debug.

    Example:
        >>> record = logging.LogRecord("root", logging.INFO,
        ...     "/venv/openvino_telemetry/backend/backend_ga4.py", 72, "Incorrect backend URL.",
        ...     None, None)
        >>> TelemetryToDebug().filter(record), record.levelname
        (False, 'DEBUG')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "openvino_telemetry" not in record.pathname:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def demote_telemetry() -> None:
    """Install :class:`TelemetryToDebug` on the root logger (once)."""
    root = logging.getLogger()
    if not any(isinstance(f, TelemetryToDebug) for f in root.filters):
        root.addFilter(TelemetryToDebug())


def _pump(reader: IO[bytes]) -> None:
    for raw in reader:
        line = raw.decode(errors="replace").rstrip()
        if line:
            log.log(native_level(line), "%s", line, extra={"native": True})


def capture_native_output() -> bool:
    """Route what native code writes to fds 1 and 2 through the ``native`` logger.

    The log handlers that wrote to ``sys.stdout`` / ``sys.stderr`` (and those two objects)
    move to copies of the real descriptors first, so nothing loops and Python's own output
    is untouched. Returns False (and changes nothing) where the descriptors cannot be copied.
    """
    try:
        read_end, write_end = os.pipe()
        real = {fd: os.dup(fd) for fd in (1, 2)}
    except OSError:
        return False
    streams = {
        fd: os.fdopen(copy, "w", buffering=1, encoding="utf-8", errors="replace")
        for fd, copy in real.items()
    }
    old = {1: sys.stdout, 2: sys.stderr}
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            for fd, stream in streams.items():
                if handler.stream is old[fd]:
                    handler.setStream(stream)
    for fd in (1, 2):
        old[fd].flush()
        os.dup2(write_end, fd)
    os.close(write_end)
    sys.stdout, sys.stderr = streams[1], streams[2]
    start_critical(lambda: _pump(os.fdopen(read_end, "rb")), "native-output")
    return True
