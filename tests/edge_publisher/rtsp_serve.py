"""A real RTSP camera for the tests: GStreamer's RTSP server looping a folder of JPEG frames.

Run it with the system Python that has PyGObject and GstRtspServer (Debian's
``python3-gi`` and ``gir1.2-gst-rtsp-server-1.0``), not the project's virtual environment:

.. code-block:: console

    $ /usr/bin/python3 tests/edge_publisher/rtsp_serve.py --port 8554 --frames DIR --fps 25

``DIR`` holds ``frame00000.jpg``, ``frame00001.jpg``, ...; they go out as RTP/JPEG (no
decoding, no encoding), looped, paced at ``--fps``, at ``rtsp://127.0.0.1:PORT/camera``.
The server prints ``ready`` on stdout once it listens and runs until SIGTERM.
``gi`` is imported only in :func:`main`, so the test run can import this module.

Example:
    >>> pipeline_description(25.0)  # doctest: +ELLIPSIS
    '( appsrc name=frames is-live=true format=time caps="image/jpeg,framerate=25/1" ! ...'
"""

from __future__ import annotations

import argparse
import signal
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

MOUNT = "/camera"
REQUIRED_ELEMENTS = ("appsrc", "jpegparse", "rtpjpegpay")


def pipeline_description(fps: float) -> str:
    """The launch line of the media pipeline: JPEG buffers from the script -> RTP/JPEG."""
    rate = Fraction(fps).limit_denominator(1001)
    return (
        "( appsrc name=frames is-live=true format=time "
        f'caps="image/jpeg,framerate={rate.numerator}/{rate.denominator}" '
        "! jpegparse ! rtpjpegpay name=pay0 pt=26 )"
    )


class FrameFeeder:
    """Feeds the JPEG files, in a loop, to one media's ``appsrc``, stamped ``1/fps`` apart."""

    def __init__(self, frames: list[bytes], fps: float, gst: Any) -> None:
        self.frames = frames
        self.step = int(gst.SECOND / fps)
        self.gst = gst
        self.sent = 0

    def need_data(self, appsrc: Any, length: int) -> None:
        """Push the next frame (appsrc asks whenever its queue runs low)."""
        data = self.frames[self.sent % len(self.frames)]
        buffer = self.gst.Buffer.new_wrapped(data)
        buffer.pts = self.sent * self.step
        buffer.duration = self.step
        self.sent += 1
        appsrc.emit("push-buffer", buffer)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM; exit 3 when a GStreamer element is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frames", required=True, help="folder of frameNNNNN.jpg")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--check", action="store_true", help="only check what is installed")
    parser.add_argument("--tcp-only", action="store_true", help="refuse RTP over UDP")
    args = parser.parse_args(argv)

    import gi  # system Python only

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    missing = [name for name in REQUIRED_ELEMENTS if Gst.ElementFactory.find(name) is None]
    if missing:
        print(f"missing GStreamer elements: {', '.join(missing)}", file=sys.stderr)
        return 3
    if args.check:
        print("ok")
        return 0

    frames = [path.read_bytes() for path in sorted(Path(args.frames).glob("frame*.jpg"))]
    if not frames:
        print(f"no frame*.jpg in {args.frames}", file=sys.stderr)
        return 1

    def configure(factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("frames")
        appsrc.connect("need-data", FrameFeeder(frames, args.fps, Gst).need_data)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline_description(args.fps))
    factory.connect("media-configure", configure)
    factory.set_shared(True)
    if args.tcp_only:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
