"""The real edge-publisher process: bundled video, bundled model, a real Mosquitto."""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from sightline.broker import free_port
from sightline.messages import DetectionEnvelope, Roi, decode_envelope
from sightline.messages.base import MessageLimits
from sightline.timestamps import parse_timestamp
from tests.edge_publisher.edge_process import EdgeProcess, edge_config
from tests.edge_publisher.videos import moving_square_video
from tests.support.background import Background
from tests.support.broker import Broker, make_broker
from tests.support.mqtt import Collector, Seen
from tests.support.service_process import said
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

TOPIC = "detections/driveway"
FRAMES_TOPIC = "detections/driveway/frame"


def envelopes(messages: list[Seen]) -> list[DetectionEnvelope]:
    return [decode_envelope(m.payload) for m in messages if m.topic == TOPIC]


def longest_run(frames: list[DetectionEnvelope]) -> int:
    """The most consecutive frames any one track id appears in."""
    best: Counter[int] = Counter()
    current: Counter[int] = Counter()
    for envelope in frames:
        ids = {d.track_id for d in envelope.detections if d.track_id is not None}
        current = Counter({i: current[i] + 1 for i in ids})
        best |= current
    return max(best.values(), default=0)


# --- edge runs that only end and are read: queued together on the background pool ----------

RUN_TIMEOUT_S = 300  # the run's own waits are bounded; this also covers its queueing


@dataclass
class EdgeRun:
    """What one edge run left: its exit status, its log, what its broker carried."""

    status: int
    log: str
    lines: list[dict[str, Any]]
    messages: list[Seen]
    broker: str
    root: Path


def run_edge(
    root: Path,
    config: dict[str, Any],
    *args: str,
    wait: Callable[[list[Seen]], bool] | None = None,
    broker_down: bool = False,
    timeout: float = 90,
    **env: str,
) -> EdgeRun:
    """The edge on its own broker (stopped first if ``broker_down``) until it exits; then
    until ``wait`` holds for what a subscriber to everything saw."""
    broker = make_broker(root / "broker")
    collector = None if broker_down else Collector(broker.host, broker.port, "#")
    try:
        if broker_down:
            broker.stop()
        edge = EdgeProcess(broker, root, config, *args, **env)
        edge.start()
        try:
            status = edge.wait(timeout)
        finally:
            edge.close()
        messages = [] if collector is None else list(collector.messages)
        if collector is not None and wait is not None and status == 0:
            messages = collector.wait_for(wait, timeout=20)
        return EdgeRun(
            status,
            edge.log_text(),
            edge.log_lines(),
            messages,
            f"{broker.host}:{broker.port}",
            root,
        )
    finally:
        if collector is not None:
            collector.close()
        broker.stop()


def envelopes_at_least(count: int) -> Callable[[list[Seen]], bool]:
    return lambda ms: len(envelopes(ms)) >= count


def selected_runs(session: pytest.Session) -> list[str]:
    """The runs of this session's tests here, in their order."""
    names = []
    for item in session.items:
        if item.path != Path(__file__) or "edge_runs" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        name = getattr(item, "originalname", item.name)
        names.append(RUN_OF_TEST[name].format(**(callspec.params if callspec else {})))
    return names


@pytest.fixture(scope="module")
def edge_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Background]:
    """This module's self-contained edge runs, queued at once on one background thread (one
    edge process beside the tests here that work with a live edge, no more: those count
    frames against the clock); each test reads its own. The module ends only when every run
    it queued has ended."""
    base = tmp_path_factory.mktemp("edge-runs")

    def root(name: str) -> Path:
        path = base / name.replace(" ", "-")
        path.mkdir(parents=True, exist_ok=True)
        return path

    background = Background(workers=1)
    try:
        for name in selected_runs(request.session):
            background.start(f"edge {name}", partial(RUNS[name], root(name)))
        yield background
    finally:
        background.close()


def edge_run(runs: Background, name: str) -> Any:
    """The outcome of the run ``name`` (run now if the module did not queue it)."""
    runs.start(f"edge {name}", lambda: RUNS[name](Path(tempfile.mkdtemp(prefix="edge-run-"))))
    return runs.result(f"edge {name}", RUN_TIMEOUT_S)


def hundred_twenty_frames(root: Path) -> EdgeRun:
    record = root / "run.jsonl"
    return run_edge(
        root,
        edge_config(),
        "--max-frames",
        "120",
        "--record",
        str(record),
        wait=envelopes_at_least(120),
        timeout=120,
    )


def test_the_edge_publishes_one_valid_envelope_per_frame_with_persons_and_stable_track_ids(
    edge_runs: Background,
) -> None:
    run: EdgeRun = edge_run(edge_runs, "120 frames")
    assert run.status == 0, run.log
    received = envelopes(run.messages)

    assert [e.frame.number for e in received] == list(range(120))
    assert [e.frame.model_extra for e in received[:3]] == [{"source_frame": i} for i in range(3)]
    assert {(e.source.device_id, e.source.camera_id) for e in received} == {
        ("jetson-01", "driveway")
    }
    assert all(e.frame.roi_applied is not None for e in received)
    assert min(len(e.detections) for e in received[5:]) >= 5
    assert {d.class_name for e in received for d in e.detections} == {"person"}
    assert longest_run(received) >= 60
    tracked = [d for e in received[5:] for d in e.detections if d.track_id is not None]
    assert sum(d.previous_center is not None for d in tracked) > len(tracked) // 2

    record = run.root / "run.jsonl"
    recorded = [decode_envelope(line) for line in record.read_bytes().splitlines()]
    assert recorded == received
    assert all(e.frame_data is None for e in recorded)
    assert len({e.source.run_id for e in received}) == 1
    summary = [line["msg"] for line in run.lines if line["msg"].startswith("processed")]
    assert summary[0].startswith("processed 120 frames; every envelope delivered")

    frames = [
        decode_envelope(m.payload, MessageLimits.for_frames())
        for m in run.messages
        if m.topic.startswith(FRAMES_TOPIC)
    ]
    assert frames, "no JPEG frame published"
    assert frames[0].frame_data is not None
    jpeg = np.frombuffer(base64.b64decode(frames[0].frame_data.base64), np.uint8)
    assert cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape == (720, 1280, 3)
    assert frames[0].detections == received[frames[0].frame.number].detections


def test_the_edge_keeps_processing_while_the_broker_is_down_and_resumes_after(
    broker: Broker, collector: Collector, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    config = edge_config(
        camera={"url": str(edge_config()["camera"]["url"]), "loop": True, "fps": 12}
    )
    edge = EdgeProcess(
        broker,
        tmp_path,
        config,
        SIGHTLINE_MQTT__PUBLISH_QUEUE_SIZE="20",
        SIGHTLINE_MQTT__RECONNECT_MIN_S="0.5",
    )
    edge.start()
    processes.append(edge)
    before = envelopes(collector.wait_for(lambda ms: len(envelopes(ms)) >= 10, timeout=60))

    broker.stop()
    down_at = edge.metric("sightline_edge_frames_processed_total")
    wait_until(
        lambda: edge.metric("sightline_edge_frames_processed_total") >= down_at + 40,
        timeout=30,
        what="the edge stopped processing while the broker was down",
        interval=0.2,
    )
    assert edge.metric("sightline_publish_dropped_total") > 0
    assert edge.metric('sightline_edge_jpeg_skipped_total{reason="offline"}') > 0

    broker.start()
    after = Collector(broker.host, broker.port, TOPIC)
    try:
        late = envelopes(after.wait_for(lambda ms: len(envelopes(ms)) >= 10, timeout=30))
    finally:
        after.close()
    assert late[0].frame.number > before[-1].frame.number
    assert [e.frame.number for e in late] == sorted(e.frame.number for e in late)
    assert edge.stop() == 0
    lines = [json.loads(line) for line in edge.log_text().splitlines() if line.startswith("{")]
    assert any(line["msg"].startswith("publish queue full: dropped") for line in lines)


def roi_on_a_generated_video(root: Path) -> EdgeRun:
    video = moving_square_video(root / "squares.avi", frames=25, width=320, height=240)
    config = edge_config(
        camera={"url": str(video)},
        detector={**edge_config()["detector"], "roi": {"x1": 40, "y1": 30, "x2": 400, "y2": 200}},
    )
    return run_edge(root, config, wait=envelopes_at_least(25), timeout=60)


def test_a_generated_video_gets_one_envelope_per_frame_with_the_roi_applied_even_when_empty(
    edge_runs: Background,
) -> None:
    run: EdgeRun = edge_run(edge_runs, "roi")
    assert run.status == 0, run.log
    received = envelopes(run.messages)
    assert [e.frame.number for e in received] == list(range(25))
    assert {(e.frame.width, e.frame.height) for e in received} == {(320, 240)}
    assert {e.frame.roi_applied for e in received} == {Roi(x1=40, y1=30, x2=320, y2=200)}


def test_a_stream_that_is_down_is_retried_with_logs_and_the_edge_keeps_running(
    broker: Broker, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    camera = {"url": url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.2}
    edge = EdgeProcess(broker, tmp_path, edge_config(camera=camera))
    edge.start()
    processes.append(edge)
    wait_until(
        lambda: edge.log_text().count("unavailable: reconnecting") >= 3,
        timeout=60,
        what="no reconnect attempts logged",
        interval=0.2,
    )
    wait_until(
        lambda: edge.metric("sightline_edge_source_reconnects_total") >= 3,
        timeout=10,
        what="reconnects not exported",
        interval=0.2,
    )
    assert edge.process is not None
    assert edge.process.poll() is None
    assert edge.stop() == 0


STARTUP_PROBLEMS: list[tuple[dict[str, Any], str]] = [
    ({"camera": {"url": "nowhere/missing.avi"}}, "camera.url: video file 'nowhere/missing.avi' does not exist"),
    ({"detector": {"model_file": "models/missing_model"}}, "detector.model_file: 'models/missing_model' does not exist"),
    ({"detector": {"model_file": str(edge_config()["detector"]["model_file"]), "track_classes": ["unicorn"]}}, "the model has no class 'unicorn'"),
    ({"output": {"type": "redis", "redis_url": "redis://h:6379", "stream": "d"}}, "transport 'redis' is not implemented"),
]  # fmt: skip


def startup_problem(index: int) -> Callable[[Path], EdgeRun]:
    change = STARTUP_PROBLEMS[index][0]
    return lambda root: run_edge(root, edge_config(**change), timeout=60)


@pytest.mark.parametrize(
    "index", range(len(STARTUP_PROBLEMS)), ids=["no video", "no model", "no class", "redis"]
)
def test_a_startup_problem_exits_with_status_2_and_a_message_naming_it(
    edge_runs: Background, index: int
) -> None:
    run: EdgeRun = edge_run(edge_runs, f"startup {index}")
    assert run.status == 2
    assert STARTUP_PROBLEMS[index][1] in run.log


def two_runs_of_one_video(
    root: Path,
) -> list[tuple[list[DetectionEnvelope], list[DetectionEnvelope]]]:
    """Two runs of one 8-frame video on one broker: (published, recorded) of each."""
    broker = make_broker(root / "broker")
    video = moving_square_video(root / "squares.avi", frames=8)
    runs: list[tuple[list[DetectionEnvelope], list[DetectionEnvelope]]] = []
    try:
        for run in ("first", "second"):
            record = root / f"{run}.jsonl"
            config = edge_config(camera={"url": str(video)})
            edge = EdgeProcess(broker, root / run, config, "--record", str(record))
            collector = Collector(broker.host, broker.port, TOPIC)
            try:
                edge.start()
                assert edge.wait(90) == 0, edge.log_text()
                published = envelopes(collector.wait_for(lambda ms: len(ms) >= 8))
            finally:
                collector.close()
                edge.close()
            recorded = [decode_envelope(line) for line in record.read_bytes().splitlines()]
            runs.append((published, recorded))
    finally:
        broker.stop()
    return runs


def test_each_run_has_its_own_run_id_in_every_envelope_published_and_recorded(
    edge_runs: Background,
) -> None:
    runs = edge_run(edge_runs, "run ids")

    ids = []
    for published, recorded in runs:
        assert [e.frame.number for e in published] == list(range(8))  # from 0 again
        assert recorded == published
        (run_id,) = {e.source.run_id for e in published}
        assert run_id is not None
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", run_id), run_id
        ids.append(run_id)
    assert ids[0] != ids[1]


def test_the_edge_is_named_after_its_camera_and_publishes_retained_stats(
    broker: Broker, collector: Collector, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    video = moving_square_video(tmp_path / "squares.avi", frames=25)
    camera = {"url": str(video), "loop": True, "fps": 10, "stats_interval_s": 0.5}
    edge = EdgeProcess(broker, tmp_path, edge_config(camera=camera), instance=None)
    edge.start()
    processes.append(edge)
    status = "sightline/edge-publisher/driveway/status"
    stats_topic = "sightline/edge-publisher/driveway/stats"

    def stats(messages: list[Seen]) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in messages if m.topic == stats_topic]

    seen = collector.wait_for(
        lambda ms: any(s["frames"] >= 10 and s["fps"] > 0 for s in stats(ms)), timeout=90
    )
    assert said(status, b"online")(seen)
    figures = next(s for s in stats(seen) if s["frames"] >= 10)
    assert set(figures) == {
        "camera_id",
        "device_id",
        "run_id",
        "fps",
        "frames",
        "dropped",
        "timestamp",
    }
    assert (figures["camera_id"], figures["device_id"]) == ("driveway", "jetson-01")
    assert figures["dropped"] == 0
    (run_id,) = {e.source.run_id for e in envelopes(seen)}
    assert figures["run_id"] == run_id
    assert parse_timestamp(figures["timestamp"]).year >= 2025

    late = Collector(broker.host, broker.port, stats_topic)
    try:
        retained = late.wait_for(lambda ms: len(ms) >= 1, timeout=10)[0]
    finally:
        late.close()
    assert retained.retain
    assert json.loads(retained.payload)["run_id"] == run_id

    assert edge.stop() == 0
    final = stats(collector.wait_for(lambda ms: said(status, b"offline")(ms), timeout=20))[-1]
    assert final["fps"] == 0.0
    assert final["frames"] >= figures["frames"]


def broker_down_all_run(root: Path) -> EdgeRun:
    video = moving_square_video(root / "squares.avi", frames=25)
    config = edge_config(
        camera={"url": str(video)}, frames={"interval_s": 0.0, "min_interval_s": 0}
    )
    return run_edge(root, config, broker_down=True, SIGHTLINE_MQTT__PUBLISH_QUEUE_SIZE="10")


def test_an_edge_run_with_the_broker_down_says_at_exit_how_much_it_never_delivered(
    edge_runs: Background,
) -> None:
    run: EdgeRun = edge_run(edge_runs, "never delivered")
    assert run.status == 0, run.log

    (summary,) = [line for line in run.lines if line["msg"].startswith("never delivered")]
    assert summary["level"] == "warning"
    assert summary["msg"].startswith(
        f"never delivered 25 of 25 envelopes and 25 JPEG frames to the broker at "
        f"{run.broker} (envelopes: 15 dropped from the full publish queue, "
        "10 still queued at exit, 0 refused by the broker, 0 sent and never confirmed)"
    )
    assert summary["undelivered_envelopes"] == summary["frames"] == 25


RUNS: dict[str, Callable[[Path], Any]] = {
    "120 frames": hundred_twenty_frames,
    "roi": roi_on_a_generated_video,
    "run ids": two_runs_of_one_video,
    "never delivered": broker_down_all_run,
    **{f"startup {i}": startup_problem(i) for i in range(len(STARTUP_PROBLEMS))},
}
"""The runs the module's ``edge_runs`` queues, by name."""
RUN_OF_TEST = {
    test_the_edge_publishes_one_valid_envelope_per_frame_with_persons_and_stable_track_ids.__name__: "120 frames",
    test_a_generated_video_gets_one_envelope_per_frame_with_the_roi_applied_even_when_empty.__name__: "roi",
    test_a_startup_problem_exits_with_status_2_and_a_message_naming_it.__name__: "startup {index}",
    test_each_run_has_its_own_run_id_in_every_envelope_published_and_recorded.__name__: "run ids",
    test_an_edge_run_with_the_broker_down_says_at_exit_how_much_it_never_delivered.__name__: "never delivered",
}  # fmt: skip
"""Which run each test reads (a parameter of the test filled in)."""
