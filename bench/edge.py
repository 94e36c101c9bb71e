"""Edge-publisher throughput against the raw ultralytics ``track()`` loop, in one run.

Runs on the bundled video with the bundled model: (a) the raw ``track()`` loop, (b) the full
edge loop publishing to a real local Mosquitto, (b1) the same with JPEG frames once a second
instead of on every detection-bearing frame (the default), (c) the edge with the broker
stopped; every run ``--rounds`` times, interleaved, best of each kept. Prints fps, the
ratios to (a) (target >= 0.95 for b and c), peak RSS, envelope sizes (mean, p99) and JPEG
frame sizes.

Example:
    .. code-block:: console

        $ YOLO_CONFIG_DIR=var/ultralytics .venv/bin/python bench/edge.py --frames 341
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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

from edge_publisher.detector import Detector, RegionOfInterest
from edge_publisher.loop import EdgeLoop
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.record import Recorder
from edge_publisher.source import FrameReader
from sightline.broker import LocalMosquitto
from sightline.config.settings import EdgeSettings
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

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.frames / self.seconds


def warm_up(detector: Detector) -> None:
    """Compile the model on a black frame (no tracks come of it)."""
    detector.track(np.zeros((720, 1280, 3), np.uint8), RegionOfInterest.full(1280, 720))


def raw_track_loop(settings: EdgeSettings, frames: int) -> Figures:
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
    started = time.perf_counter()
    while done < frames:
        ok, image = capture.read()
        if not ok:
            break
        detector.model.track(image, classes=detector.classes, **options)
        done += 1
    seconds = time.perf_counter() - started
    capture.release()
    return Figures("a  raw track() loop", done, seconds)


def edge_loop(name: str, settings: EdgeSettings, frames: int, scratch: Path) -> Figures:
    """(b)/(c) the edge-publisher's loop with its reader thread, encoder and client."""
    client = MqttClient(settings.effective_mqtt(), service="edge-bench", instance="bench")
    client.start()
    client.wait_connected(3.0)
    detector = Detector(settings.detector)
    warm_up(detector)
    record = scratch / f"{name[0]}-{time.monotonic_ns()}.jsonl"
    registry = CollectorRegistry()
    loop = EdgeLoop(
        settings=settings,
        client=client,
        reader=FrameReader(settings.camera),
        detector=detector,
        metrics=EdgeMetrics.from_registry(registry),
        heartbeat=Heartbeat(30.0),
        stopping=threading.Event(),
        recorder=Recorder(record),
        max_frames=frames,
    )
    started = time.perf_counter()
    loop()
    seconds = time.perf_counter() - started
    dropped = dict(client.outbox.dropped)
    client.stop(2.0 if client.connected else 0.0)
    sizes = tuple(len(line) for line in record.read_bytes().splitlines())
    return Figures(
        name,
        loop.processed,
        seconds,
        envelope_sizes=sizes,
        jpeg_frames=loop.encoder.encoded,
        jpeg_bytes=loop.encoder.jpeg_bytes,
        dropped=f"envelopes {dropped['essential']}, frames {dropped['droppable']}",
        inference_s=registry.get_sample_value("sightline_edge_inference_seconds_sum") or 0.0,
    )


def settings_for(url: str, frames: dict[str, Any] | None = None) -> EdgeSettings:
    """The bundled video and model, persons only; default frame publishing unless given."""
    return EdgeSettings.model_validate(
        {
            "device_id": "bench",
            "camera": {"url": str(VIDEO)},
            "detector": {"model_file": str(MODEL), "track_classes": ["person"]},
            "frames": frames or {},
            "mqtt": {"url": url},
        }
    )


def report(runs: list[Figures], baseline: Figures) -> None:
    """Print every figure the issue asks for."""
    for run in runs:
        ratio = run.fps / baseline.fps
        print(f"{run.name:<34} {run.frames:4d} frames {run.fps:7.1f} fps  ratio/a {ratio:5.3f}")
        if run.envelope_sizes:
            sizes = sorted(run.envelope_sizes)
            p99 = sizes[min(len(sizes) - 1, int(len(sizes) * 0.99))]
            jpeg = run.jpeg_bytes / run.jpeg_frames if run.jpeg_frames else 0
            outside = (run.seconds - run.inference_s) / run.frames * 1000
            print(
                f"    {run.inference_s / run.frames * 1000:.1f} ms/frame in track(), "
                f"{outside:.2f} ms/frame outside it; "
                f"envelope bytes mean {statistics.fmean(sizes):.0f} p99 {p99}; "
                f"JPEG frames {run.jpeg_frames} mean {jpeg / 1024:.1f} KiB; dropped {run.dropped}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


def best(runs: list[Figures]) -> Figures:
    """The fastest of repeated runs (the machine is shared: slower ones measured noise)."""
    return max(runs, key=lambda run: run.fps)


def main() -> None:
    """Run (a), (b), (c) ``--rounds`` times, interleaved, and print the best of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=341, help="frames per run")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of a, b, c")
    args = parser.parse_args()
    runs: dict[str, list[Figures]] = {"a": [], "b": [], "b1": [], "c": []}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        broker = LocalMosquitto(scratch / "broker")
        settings = settings_for(broker.url)
        once_a_second = settings_for(broker.url, {"interval_s": 1.0, "on_detection": False})
        for _ in range(args.rounds):
            broker.start()
            runs["a"].append(raw_track_loop(settings, args.frames))
            runs["b"].append(edge_loop("b  edge, broker up", settings, args.frames, scratch))
            runs["b1"].append(
                edge_loop("b1 edge, broker up, JPEG 1/s", once_a_second, args.frames, scratch)
            )
            broker.stop()
            runs["c"].append(edge_loop("c  edge, broker stopped", settings, args.frames, scratch))
    print(
        "every run (fps): "
        + "; ".join(
            f"{kind} " + " ".join(f"{run.fps:.1f}" for run in kind_runs)
            for kind, kind_runs in runs.items()
        )
    )
    report([best(kind_runs) for kind_runs in runs.values()], best(runs["a"]))


if __name__ == "__main__":
    main()
