"""FFmpeg's options are one variable per process: RTSP cameras of one edge open with
their own transport, those with the same one together (a hung open holds back only the
cameras with another transport)."""

from __future__ import annotations

import os
import threading

from edge_publisher.source import FFMPEG_OPTIONS, TransportGate


def test_cameras_with_the_same_transport_open_together_another_waits() -> None:
    """A camera whose open hangs (up to its timeout_s) holds back only the cameras with
    another transport, not those with its own (most edges: all TCP)."""
    gate = TransportGate()
    hanging = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def open_with(transport: str, name: str, hold: bool = False) -> None:
        with gate.opening(transport):
            order.append(f"{name} in ({os.environ[FFMPEG_OPTIONS]})")
            if hold:
                hanging.set()
                release.wait(10)
        order.append(f"{name} out")

    first = threading.Thread(target=open_with, args=("tcp", "hung", True))
    first.start()
    assert hanging.wait(5)
    same = threading.Thread(target=open_with, args=("tcp", "same"))
    same.start()
    same.join(5)
    assert not same.is_alive(), "a camera with the same transport waited for the hung one"
    other = threading.Thread(target=open_with, args=("udp", "other"))
    other.start()
    other.join(0.3)
    assert other.is_alive()  # another transport waits: it would change the hung one's
    release.set()
    for thread in (first, other):
        thread.join(5)
    assert order == [
        "hung in (rtsp_transport;tcp)",
        "same in (rtsp_transport;tcp)",
        "same out",
        "hung out",
        "other in (rtsp_transport;udp)",
        "other out",
    ]


def test_cameras_reopening_in_a_loop_never_starve_one_with_another_transport() -> None:
    """Two dead TCP cameras whose opens overlap (each hangs, backs off, hangs again) would
    keep the gate held with TCP forever; the UDP camera's open waits behind the opens in
    progress only, and those that come after it wait behind it."""
    gate = TransportGate()
    stop = threading.Event()
    udp_opened = threading.Event()

    def dead_tcp_camera(delay: float) -> None:
        stop.wait(delay)
        while not stop.is_set():
            with gate.opening("tcp"):
                stop.wait(0.2)  # the open hangs
            stop.wait(0.05)  # a short back-off

    cameras = [threading.Thread(target=dead_tcp_camera, args=(d,)) for d in (0.0, 0.1)]
    for camera in cameras:
        camera.start()
    try:
        stop.wait(0.3)  # the two opens overlap by now

        def udp_camera() -> None:
            with gate.opening("udp"):
                assert os.environ[FFMPEG_OPTIONS] == "rtsp_transport;udp"
                udp_opened.set()

        udp = threading.Thread(target=udp_camera)
        udp.start()
        assert udp_opened.wait(5), "the UDP camera never opened"
        udp.join(5)
    finally:
        stop.set()
        for camera in cameras:
            camera.join(5)


def test_first_come_first_served_when_the_opens_in_progress_end() -> None:
    """A TCP open in progress, a UDP open waiting, then another TCP open: when the first
    ends, the UDP open goes first (the later TCP one waits behind it), every time."""
    for _ in range(20):
        assert hand_over() == ["udp", "tcp"]


def hand_over() -> list[str]:
    """The order in which a UDP open and then a TCP open, both waiting behind a TCP open
    in progress, begin once it ends."""
    gate = TransportGate()
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with gate.opening("tcp"):
            holding.set()
            release.wait(5)

    def later(transport: str) -> None:
        with gate.opening(transport):
            order.append(transport)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(5)
    for transport in ("udp", "tcp"):
        threads.append(threading.Thread(target=later, args=(transport,)))
        threads[-1].start()
        while len(gate.waiting) < len(threads) - 1:  # it waits in line now
            threading.Event().wait(0.001)
    release.set()
    for thread in threads:
        thread.join(5)
    return order
