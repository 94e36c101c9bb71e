"""A real RTSP camera on localhost for the tests: GStreamer's RTSP server (``rtsp_serve.py``)
run by the system Python, serving frames cut from the bundled video.

Debian/Ubuntu packages it needs (``tools/setup.sh`` installs them)::

    apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 \\
        gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad

Example:
    >>> RtspServer(Path("/tmp/frames"), port=8554).url
    'rtsp://127.0.0.1:8554/camera'
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import cv2

from tests.edge_publisher.rtsp_serve import MOUNT
from tests.support.paths import REPO

SERVE = Path(__file__).with_name("rtsp_serve.py")
SYSTEM_PYTHON = os.environ.get("SIGHTLINE_RTSP_PYTHON", "/usr/bin/python3")
"""The Python that has PyGObject and GstRtspServer (Debian's), not the project's venv."""
VIDEO = REPO / "samples" / "pedestrians.avi"
INSTALL = (
    "apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)


def missing_server() -> str | None:
    """Why no RTSP server can run here (a reason for ``pytest.skip``), or None when it can."""
    if not Path(SYSTEM_PYTHON).is_file():
        return f"no {SYSTEM_PYTHON} to run GStreamer's RTSP server; install: {INSTALL}"
    check = subprocess.run(
        [SYSTEM_PYTHON, str(SERVE), "--check", "--port", "0", "--frames", "."],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        problem = (check.stderr.strip().splitlines() or ["no output"])[-1]
        return f"GStreamer's RTSP server cannot run ({problem}); install: {INSTALL}"
    return None


def cut_clip(directory: Path, frames: int, width: int = 640, quality: int = 80) -> Path:
    """The first ``frames`` frames of the bundled video as ``frameNNNNN.jpg``, ``width`` wide.

    Raises:
        RuntimeError: the bundled video has fewer frames.
    """
    directory.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(VIDEO))
    try:
        for index in range(frames):
            ok, image = capture.read()
            if not ok:
                raise RuntimeError(f"{VIDEO} ended after {index} frames")
            height = round(image.shape[0] * width / image.shape[1])
            small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            path = directory / f"frame{index:05d}.jpg"
            cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    finally:
        capture.release()
    return directory


class RtspServer:
    """``rtsp://127.0.0.1:<port>/camera`` looping the JPEG frames in ``frames_dir`` at ``fps``.

    Stopped and started again, it listens on the same port: a camera that went away and
    came back.
    """

    def __init__(
        self, frames_dir: Path, port: int, fps: float = 25.0, tcp_only: bool = False
    ) -> None:
        self.frames_dir = frames_dir
        self.port = port
        self.fps = fps
        self.tcp_only = tcp_only
        self.log_path = frames_dir.parent / f"rtsp-server-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where the camera is."""
        return f"rtsp://127.0.0.1:{self.port}{MOUNT}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it listens.

        Raises:
            RuntimeError: it exited or did not say ``ready`` within ``timeout`` seconds.
        """
        args = ["--port", str(self.port), "--frames", str(self.frames_dir), "--fps", str(self.fps)]
        args += ["--tcp-only"] if self.tcp_only else []
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [SYSTEM_PYTHON, str(SERVE), *args], stdout=subprocess.PIPE, stderr=log
            )
        self.process = process
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([process.stdout], [], [], 0.2)
            if readable:
                line = process.stdout.readline()
                if line.strip() == b"ready":
                    return
                if not line:  # it exited
                    break
        self.stop()
        errors = self.log_path.read_text(errors="replace")
        raise RuntimeError(f"the RTSP server on port {self.port} did not start: {errors}")

    def pause(self) -> None:
        """SIGSTOP: the camera hangs, its connections stay open and silent."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL if it does not go)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the camera vanishes without a word."""
        self._end(signal.SIGKILL)

    def _end(self, signum: int) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused server could not act on SIGTERM
        process.send_signal(signum)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
