"""Edge-publisher throughput against the raw ultralytics ``track()`` loop, in one run.

Runs on the bundled video with the bundled model: (a) the raw ``track()`` loop, (b) the full
edge loop publishing to a real local Mosquitto, as the service runs it, (b1) the same with
JPEG frames once a second instead of on every detection-bearing frame (the default) and
``--record`` (for the envelope sizes), (c) the edge with the broker stopped; every run
``--rounds`` times, interleaved (a, b, b1, c, a, b, ...).

The figure to quote is CPU: the process's CPU seconds per frame (every thread: reader,
encoder, MQTT client; ``getrusage``), and per round the ratio (a)/(run) of the same round,
median over the rounds (target >= 0.95 for b and c). On a shared machine wall-clock fps
swings with the other load (kept, as medians, alongside); the CPU a frame costs does far
less. Also prints the load average, peak RSS, envelope sizes (mean, p99) and JPEG sizes.

Then two cameras (the bundled video twice): one edge process with both (one model; also
with ``detector.batch_cameras``) against two edge processes with one each, started together
once loaded: the total fps of both cameras and the processes' peak RSS (summed).

Example:
    .. code-block:: console

        $ YOLO_CONFIG_DIR=var/ultralytics .venv/bin/python bench/edge.py --frames 341
        $ YOLO_CONFIG_DIR=var/ultralytics .venv/bin/python bench/edge.py --skip-single
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

import cv2
import numpy as np
from prometheus_client import CollectorRegistry

from edge_publisher.camera import Camera
from edge_publisher.detector import Detector, RegionOfInterest
from edge_publisher.loop import EdgeLoop
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.record import Recorder
from edge_publisher.settings import EdgePublisherSettings
from edge_publisher.source import FrameReader
from sightline.broker import LocalMosquitto
from sightline.health import Heartbeat
from sightline.mqtt.client import MqttClient

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "yolo11n_int8_openvino_model"
VIDEO = REPO / "samples" / "pedestrians.avi"


@dataclass(frozen=True)
class Figures:
    """One run: frames processed, seconds, and what the edge measured."""

    name: str
    frames: int
    seconds: float
    envelope_sizes: tuple[int, ...] = ()
    jpeg_frames: int = 0
    jpeg_bytes: int = 0
    dropped: str = ""
    inference_s: float = 0.0
    cpu_s: float = 0.0
    """CPU seconds of the whole process (every thread) over the run: steadier than fps on
    a busy machine."""

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.frames / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per frame, every thread of the process."""
        return self.cpu_s / self.frames * 1000


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all its threads (not its children:
    the broker is one).

    Example:
        >>> cpu_seconds() > 0
        True
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm_up(detector: Detector) -> None:
    """Compile the model on a black frame (no tracks come of it)."""
    detector.track(np.zeros((720, 1280, 3), np.uint8), RegionOfInterest.full(1280, 720))


def raw_track_loop(settings: EdgePublisherSettings, frames: int) -> Figures:
    """(a) ``cv2`` decode + ``YOLO.track`` and nothing else."""
    detector = Detector(settings.detector)
    warm_up(detector)
    options: dict[str, Any] = {
        "persist": True,
        "tracker": "bytetrack.yaml",
        "conf": 0.25,
        "verbose": False,
    }
    capture = cv2.VideoCapture(str(VIDEO))
    done = 0
    cpu = cpu_seconds()
    started = time.perf_counter()
    while done < frames:
        ok, image = capture.read()
        if not ok:
            break
        detector.model.track(image, classes=detector.classes, **options)
        done += 1
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    capture.release()
    return Figures("a  raw track() loop", done, seconds, cpu_s=cpu)


def build_loop(
    settings: EdgePublisherSettings, client: MqttClient, frames: int, record: Path | None
) -> tuple[EdgeLoop, Recorder | None, CollectorRegistry]:
    """The edge-publisher's loop for every camera of ``settings``, all through ``client``
    (the bench's cameras share one connection; the service gives each its own)."""
    detector = Detector(settings.detector)
    warm_up(detector)
    registry = CollectorRegistry()
    metrics = EdgeMetrics.from_registry(registry)
    recorder = Recorder(record) if record is not None else None
    ready = threading.Event()
    cameras = [
        Camera(
            plan=plan,
            device_id=settings.device_id,
            client=client,
            reader=FrameReader(plan.camera, ready=ready, name=f"reader-{plan.camera_id}"),
            tracker=detector.tracker(),
            frames_config=settings.frames,
            metrics=metrics,
            max_detections=settings.max_detections,
            recorder=recorder,
            max_frames=frames,
        )
        for plan in settings.camera_plans()
    ]
    loop = EdgeLoop(
        cameras=cameras,
        detector=detector,
        metrics=metrics,
        heartbeat=Heartbeat(30.0),
        stopping=threading.Event(),
        frame_ready=ready,
        batch=settings.detector.batch_cameras,
    )
    return loop, recorder, registry


def edge_loop(
    name: str, settings: EdgePublisherSettings, frames: int, scratch: Path, record: bool = False
) -> Figures:
    """(b)/(c) the edge-publisher's loop with its reader thread, encoder and client, as the
    service runs it; ``record``: also ``--record`` the envelopes, for their sizes."""
    client = MqttClient(settings.effective_mqtt(), service="edge-bench", instance="bench")
    client.start()
    client.wait_connected(3.0)
    path = scratch / f"{name[0]}-{time.monotonic_ns()}.jsonl" if record else None
    loop, recorder, registry = build_loop(settings, client, frames, path)
    cpu = cpu_seconds()
    started = time.perf_counter()
    loop()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    if recorder is not None:
        recorder.close()
    dropped = dict(client.outbox.dropped)
    client.stop(2.0 if client.connected else 0.0)
    sizes = tuple(len(line) for line in path.read_bytes().splitlines()) if path else ()
    camera = loop.cameras[0]
    return Figures(
        name,
        loop.processed,
        seconds,
        envelope_sizes=sizes,
        jpeg_frames=camera.encoder.encoded,
        jpeg_bytes=camera.encoder.jpeg_bytes,
        dropped=f"envelopes {dropped['essential']}, frames {dropped['droppable']}",
        inference_s=registry.get_sample_value("sightline_edge_inference_seconds_sum") or 0.0,
        cpu_s=cpu,
    )


def settings_for(
    url: str, frames: dict[str, Any] | None = None, cameras: int = 0, batch: bool = False
) -> EdgePublisherSettings:
    """The bundled video and model, persons only; default frame publishing unless given;
    ``cameras`` > 0: that many cameras (the bundled video each) under ``cameras:``."""
    config: dict[str, Any] = {
        "device_id": "bench",
        "detector": {
            "model_file": str(MODEL),
            "track_classes": ["person"],
            "batch_cameras": batch,
        },
        "frames": frames or {},
        "mqtt": {"url": url},
    }
    if cameras:
        config["cameras"] = [{"camera_id": f"cam{i}", "url": str(VIDEO)} for i in range(cameras)]
    else:
        config["camera"] = {"url": str(VIDEO)}
    return EdgePublisherSettings.model_validate(config)


def report(runs: dict[str, list[Figures]]) -> None:
    """Every round, then per run the medians: fps and its ratio to (a), CPU ms per frame and
    the median over rounds of (a)/(run) CPU per frame (the figure to quote); then what the
    edge measured of itself in its median round."""
    baseline = runs["a"]
    print("every round, fps / CPU ms per frame:")
    for kind, kind_runs in runs.items():
        every = "  ".join(f"{run.fps:5.1f}/{run.cpu_ms:5.1f}" for run in kind_runs)
        print(f"  {kind:<3}{every}")
    fps_a = statistics.median(run.fps for run in baseline)
    for kind_runs in runs.values():
        fps = statistics.median(run.fps for run in kind_runs)
        cpu = statistics.median(run.cpu_ms for run in kind_runs)
        cpu_ratio = statistics.median(
            a.cpu_ms / run.cpu_ms for a, run in zip(baseline, kind_runs, strict=True)
        )
        print(
            f"{kind_runs[0].name:<34} median {fps:6.1f} fps (ratio/a {fps / fps_a:5.3f})  "
            f"CPU {cpu:5.1f} ms/frame (a/this, median of rounds {cpu_ratio:5.3f})"
        )
        run = sorted(kind_runs, key=lambda r: r.cpu_ms)[len(kind_runs) // 2]
        if run.inference_s:
            jpeg = run.jpeg_bytes / run.jpeg_frames if run.jpeg_frames else 0
            outside = (run.seconds - run.inference_s) / run.frames * 1000
            print(
                f"    {run.inference_s / run.frames * 1000:.1f} ms/frame in track(), "
                f"{outside:.2f} ms/frame outside it; JPEG frames {run.jpeg_frames} "
                f"mean {jpeg / 1024:.1f} KiB; dropped {run.dropped}"
            )
        if run.envelope_sizes:
            sizes = sorted(run.envelope_sizes)
            p99 = sizes[min(len(sizes) - 1, int(len(sizes) * 0.99))]
            print(f"    envelope bytes mean {statistics.fmean(sizes):.0f} p99 {p99}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the record."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def child(args: argparse.Namespace) -> None:
    """``--child N``: an edge with N cameras in this process; it loads, says ``BENCH ready``,
    runs when a line comes on stdin, then prints its figures as ``BENCH {json}``."""
    settings = settings_for(args.url, cameras=args.child, batch=args.batch)
    client = MqttClient(
        settings.effective_mqtt(), service="edge-bench", instance=f"bench-{os.getpid()}"
    )
    client.start()
    client.wait_connected(3.0)
    loop, _, _ = build_loop(settings, client, args.frames, None)
    print("BENCH ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    loop()
    seconds = time.perf_counter() - started
    client.stop(5.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"frames": loop.processed, "seconds": seconds, "rss_mib": rss}
    print("BENCH " + json.dumps(figures), flush=True)


def _bench_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("BENCH "):
            return line[len("BENCH ") :].strip()
    raise RuntimeError(f"bench child {process.pid} ended without figures")


def processes(url: str, layout: list[int], frames: int, batch: bool = False) -> tuple[float, float]:
    """Edge processes with ``layout`` cameras each, started together once all are loaded:
    (total fps of all cameras, sum of the processes' peak RSS in MiB)."""
    command = [sys.executable, __file__, "--url", url, "--frames", str(frames)]
    started = [
        subprocess.Popen(
            [*command, "--child", str(n), *(["--batch"] if batch else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in layout
    ]
    for process in started:
        assert _bench_line(process) == "ready"
    for process in started:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [json.loads(_bench_line(process)) for process in started]
    for process in started:
        process.wait(60)
    fps = sum(r["frames"] for r in results) / max(r["seconds"] for r in results)
    return fps, sum(r["rss_mib"] for r in results)


def several_cameras(url: str, frames: int, rounds: int) -> None:
    """Two cameras (the bundled video twice): one process (one model, with and without
    batching) against two processes; every round printed, then the best."""
    runs: dict[str, list[tuple[float, float]]] = {
        "one process, 2 cameras": [],
        "one process, 2 cameras, batch": [],
        "two processes, 1 camera each": [],
    }
    for _ in range(rounds):
        runs["one process, 2 cameras"].append(processes(url, [2], frames))
        runs["one process, 2 cameras, batch"].append(processes(url, [2], frames, batch=True))
        runs["two processes, 1 camera each"].append(processes(url, [1, 1], frames))
    for name, figures in runs.items():
        fps, rss = max(figures)
        every = " ".join(f"{f:.1f}" for f, _ in figures)
        print(f"{name:<32} total {fps:6.1f} fps (every round: {every}), peak RSS {rss:5.0f} MiB")


def main() -> None:
    """Run (a), (b), (b1), (c) ``--rounds`` times, interleaved, and print the medians; then
    two cameras in one process against two processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=341, help="frames per run (per camera)")
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of a, b, b1, c")
    parser.add_argument("--skip-single", action="store_true", help="only the two-camera runs")
    parser.add_argument("--skip-cameras", action="store_true", help="no two-camera runs")
    parser.add_argument(
        "--runs", default="a,b,b1,c", help="which single-camera runs (a always runs)"
    )
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    wanted = {"a", *args.runs.split(",")}
    runs: dict[str, list[Figures]] = {k: [] for k in ("a", "b", "b1", "c") if k in wanted}
    print(f"load average at start: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        broker = LocalMosquitto(scratch / "broker")
        settings = settings_for(broker.url)
        once_a_second = settings_for(broker.url, {"interval_s": 1.0, "on_detection": False})
        for _ in range(0 if args.skip_single else args.rounds):
            broker.start()
            runs["a"].append(raw_track_loop(settings, args.frames))
            if "b" in runs:
                runs["b"].append(edge_loop("b  edge, broker up", settings, args.frames, scratch))
            if "b1" in runs:
                runs["b1"].append(
                    edge_loop(
                        "b1 edge, broker up, JPEG 1/s, --record",
                        once_a_second,
                        args.frames,
                        scratch,
                        record=True,
                    )
                )
            broker.stop()
            if "c" in runs:
                runs["c"].append(
                    edge_loop("c  edge, broker stopped", settings, args.frames, scratch)
                )
        if not args.skip_single:
            report(runs)
            print(f"load average at end: {load_average()}")
        if not args.skip_cameras:
            broker.start()
            several_cameras(broker.url, args.frames, args.rounds)
            broker.stop()
            print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
