"""End-to-end benchmark: engine + notifier + frame-store behind a real Mosquitto.

A publisher replays synthetic envelopes (4 cameras, people walking over a line into a zone)
at increasing rates. For each rate it prints the p50/p99 latency from envelope publish to
the event on the bus and to the notifier's JSON-log line, and whether the suite kept up (no
growing backlog: the latency of the second half is not far above the first half's, the
median stays under 100 ms, and the bus is quiet within a second of the last publish). The broker alone, with a pass-through
subscriber process that republishes every envelope, is measured the same way as the ceiling.

Run: ``python -m bench.e2e``; prints figures, asserts nothing (about 2 minutes).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from sightline.broker import LocalMosquitto

CAMERAS = [f"cam{n}" for n in range(4)]
RATES = [50, 100, 200, 400, 800, 1600, 3200, 6400]
STEP_S = 5.0
T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent
STANDING_BACKLOG_S = 0.1
"""A median latency above this means messages queue up (a backlog that does not drain)."""
WALK = 50  # frames a walker is in view; it starts at x=100 and walks 30 px per frame
RULES = [
    {"name": kind.lower(), "match": {"event_type": kind, **where}, "actions": {"json_log": True}}
    for kind, where in [
        ("LINE_CROSS", {"line": "gate"}),
        ("ZONE_ENTER", {"zone": "yard"}),
        ("ZONE_EXIT", {"zone": "yard"}),
    ]
]


def engine_config() -> dict[str, Any]:
    """One device per camera: a vertical line at x=640 px and a zone right of it."""
    device = {
        "track_timeout_s": 0.5,
        "lines": [{"type": "vertical", "name": "gate", "position_pct": 50}],
        "zones": [{"name": "yard", "points": [[800, 0], [1280, 0], [1280, 720], [800, 720]],
                   "units": "px"}],
        "events": RULES,
    }  # fmt: skip
    return {"devices": {f"dev-{c}": {"camera_id": c, **device} for c in CAMERAS},
            "homeassistant": {"enabled": False}}  # fmt: skip


def envelope(camera: str, number: int) -> bytes:
    """Frame ``number`` of ``camera``: a new walker every 10 frames, each ``WALK`` frames."""
    detections = []
    for start in range(max(0, number - WALK + 1) // 10 * 10, number + 1, 10):
        x = min(100.0 + 30.0 * (number - start), 1100.0)
        detections.append({
            "track_id": 1 + start // 10, "class_id": 0, "class_name": "person",
            "confidence": 0.9, "bbox": {"x1": x - 20, "y1": 400, "x2": x + 20, "y2": 500},
            "center": {"x": x, "y": 450},
        })  # fmt: skip
    moment = T0 + timedelta(milliseconds=40 * number)
    return json.dumps({
        "version": 1,
        "source": {"device_id": f"dev-{camera}", "camera_id": camera,
                   "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")},
        "frame": {"number": number, "width": 1280, "height": 720},
        "detections": detections,
    }).encode()  # fmt: skip


def client(port: int, name: str) -> paho.Client:
    """A connected MQTT v5 client with its network loop running."""
    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=paho.MQTTv5)
    mqtt.max_queued_messages_set(0)
    mqtt.connect("127.0.0.1", port)
    mqtt.loop_start()
    return mqtt


@dataclass(frozen=True)
class StepResult:
    """What one rate gave."""

    rate: int
    achieved: float
    bus_ms: tuple[float, float]
    log_ms: tuple[float, float] | None
    kept_up: bool

    def line(self) -> str:
        log = f"{self.log_ms[0]:7.1f} {self.log_ms[1]:7.1f}" if self.log_ms else "      -       -"
        return (
            f"{self.rate:6d} {self.achieved:8.0f} {self.bus_ms[0]:7.1f} {self.bus_ms[1]:7.1f} "
            f"{log}   {'yes' if self.kept_up else 'NO'}"
        )


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    if len(values) < 2:
        return (values[0] * 1000, values[0] * 1000) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100)
    return statistics.median(values) * 1000, cuts[98] * 1000


class Watch:
    """Arrival times of messages on a filter (and of JSON-log lines), keyed (camera, frame)."""

    def __init__(self, port: int, topic_filter: str, log_dir: Path | None) -> None:
        self.bus: list[tuple[tuple[str, int], float]] = []
        self.log: list[tuple[tuple[str, int], float]] = []
        self._lock = threading.Lock()
        self._mqtt = client(port, f"bench-watch-{time.monotonic_ns()}")
        self._mqtt.on_message = self._on_message
        self._mqtt.subscribe(topic_filter, qos=1)
        self._log_dir = log_dir
        self._stop = threading.Event()
        self._tail = threading.Thread(target=self._tail_log, daemon=True)
        self._tail.start()

    def _on_message(self, mqtt: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        now = time.monotonic()
        if message.topic.endswith("/snapshot"):
            return  # the frame-store's announcements are not events
        data = json.loads(message.payload)
        key = (data.get("camera_id") or data["source"]["camera_id"],
               data.get("frame_number", data.get("frame", {}).get("number")))  # fmt: skip
        with self._lock:
            self.bus.append((key, now))

    def _tail_log(self) -> None:
        offset = 0
        while not self._stop.is_set() and self._log_dir is not None:
            files = list(self._log_dir.glob("*.jsonl"))
            if files:
                with files[0].open("rb") as file:
                    file.seek(offset)
                    chunk = file.read()
                now = time.monotonic()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offset += len(complete)
                for line in complete.splitlines():
                    data = json.loads(line)
                    with self._lock:
                        self.log.append(((data["camera_id"], data["frame_number"]), now))
            time.sleep(0.005)

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._mqtt.loop_stop()
        self._mqtt.disconnect()


def run_step(port: int, watch: Watch, rate: int, first_frame: int, with_log: bool) -> StepResult:
    """Publish ``rate`` envelopes/s for ``STEP_S`` seconds and measure."""
    publisher = client(port, f"bench-publisher-{rate}")
    sent: dict[tuple[str, int], float] = {}
    frames = int(rate * STEP_S / len(CAMERAS))
    start = time.monotonic()
    infos = []
    for offset in range(frames):
        number = first_frame + offset
        for index, camera in enumerate(CAMERAS):
            due = start + (offset * len(CAMERAS) + index) / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            payload = envelope(camera, number)
            sent[(camera, number)] = time.monotonic()
            infos.append(publisher.publish(f"detections/{camera}", payload, qos=1))
    achieved = len(sent) / (time.monotonic() - start)
    last_publish = time.monotonic()
    for info in infos:
        info.wait_for_publish(30)
    quiet_at = settle_quiet(watch, timeout=15.0)
    publisher.loop_stop()
    publisher.disconnect()
    bus = [(sent[k], t) for k, t in watch.bus if k in sent]
    log = [(sent[k], t) for k, t in watch.log if k in sent]
    latencies = [t - s for s, t in sorted(bus)]
    half = len(latencies) // 2
    growing = bool(half) and (
        statistics.median(latencies[half:]) > 2 * statistics.median(latencies[:half]) + 0.05
    )
    standing = bool(latencies) and statistics.median(latencies) > STANDING_BACKLOG_S
    kept_up = bool(latencies) and not growing and not standing and quiet_at - last_publish < 1.0
    return StepResult(
        rate,
        achieved,
        percentiles(latencies),
        percentiles([t - s for s, t in log]) if with_log and log else None,
        kept_up,
    )


def settle_quiet(watch: Watch, timeout: float) -> float:
    """Wait until nothing new arrived for 0.5 s; the time of the last arrival."""
    deadline = time.monotonic() + timeout
    seen = -1
    last = time.monotonic()
    while time.monotonic() < deadline:
        count = len(watch.bus) + len(watch.log)
        if count != seen:
            seen, last = count, time.monotonic()
        elif time.monotonic() - last > 0.5:
            break
        time.sleep(0.05)
    times = [t for _, t in watch.bus[-1:] + watch.log[-1:]]
    return max(times) if times else last


def passthrough(port: int) -> None:
    """The ceiling's subscriber: republish every envelope on ``passthrough/<camera>``."""
    mqtt = client(port, "bench-passthrough")

    def forward(mqtt: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        mqtt.publish("passthrough/" + message.topic.split("/", 1)[1], message.payload, qos=1)

    mqtt.on_message = forward
    mqtt.subscribe("detections/+", qos=1)
    sys.stdin.read()  # until the benchmark closes our stdin


def start_services(port: int, root: Path) -> list[subprocess.Popen[bytes]]:
    """Engine, notifier and frame-store as processes; returns once all are online."""
    configs = {
        "event_engine": engine_config(),
        "notifier": {"notifier": {
            "json_log": {"directory": str(root / "log"), "per_day": False},
            "smtp": {"outbox_dir": str(root / "outbox")},
            "snapshots_dir": str(root / "snapshots"),
        }},
        "frame_store": {"frame_store": {
            "storage": {"type": "file", "root": str(root / "snapshots")}, "frame_wait_s": 0.5,
        }},
    }  # fmt: skip
    statuses = client(port, "bench-status")
    online: set[str] = set()

    def on_status(mqtt: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.payload == b"online":
            online.add(message.topic)

    statuses.on_message = on_status
    statuses.subscribe("sightline/+/bench/status", qos=1)
    processes = []
    for module, config in configs.items():
        path = root / f"{module}.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "SIGHTLINE_MQTT__URL": f"mqtt://127.0.0.1:{port}",
            "SIGHTLINE_INSTANCE": "bench",
            "SIGHTLINE_STATE_DIR": str(root / module),
            "SIGHTLINE_HEALTH__ENABLED": "false",
            "SIGHTLINE_LOG__LEVEL": "WARNING",
        }
        log = (root / f"{module}.log").open("ab")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", module, "--config", str(path)], cwd=REPO, env=env, stderr=log
            )
        )
    deadline = time.monotonic() + 60
    while len(online) < len(configs) and time.monotonic() < deadline:
        time.sleep(0.1)
    statuses.loop_stop()
    statuses.disconnect()
    return processes


def measure(port: int, watch: Watch, title: str, with_log: bool) -> list[StepResult]:
    """Every rate of ``RATES`` until one is not kept up; print a table."""
    print(f"\n{title}")
    print("  rate achieved  bus p50 bus p99 log p50 log p99   kept up   (envelopes/s, ms)")
    results = []
    first_frame = 0
    for rate in RATES:
        result = run_step(port, watch, rate, first_frame, with_log)
        first_frame += int(rate * STEP_S / len(CAMERAS)) + WALK
        print(result.line(), flush=True)
        results.append(result)
        if not result.kept_up:
            break
    return results


def sustained(results: list[StepResult]) -> float:
    """The highest achieved rate that was kept up."""
    return max((r.achieved for r in results if r.kept_up), default=0.0)


def main() -> None:
    """Broker alone, then the suite; print the figures and the ratio."""
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as broker:
        root = Path(tmp)
        relay = subprocess.Popen(
            [sys.executable, "-m", "bench.e2e", "--passthrough", str(broker.port)],
            cwd=REPO, stdin=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.5)
        watch = Watch(broker.port, "passthrough/+", None)
        ceiling = measure(broker.port, watch, "broker alone (pass-through subscriber)", False)
        watch.close()
        assert relay.stdin is not None
        relay.stdin.close()
        relay.wait(10)

        processes = start_services(broker.port, root)
        watch = Watch(broker.port, "events/+/+", root / "log")
        try:
            suite = measure(broker.port, watch, "engine + notifier + frame-store", True)
        finally:
            watch.close()
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
    best_suite, best_broker = sustained(suite), sustained(ceiling)
    print(f"\nsustained: suite {best_suite:.0f} envelopes/s, broker alone {best_broker:.0f}/s, "
          f"ratio {best_suite / best_broker if best_broker else float('nan'):.2f}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--passthrough"]:
        passthrough(int(sys.argv[2]))
    else:
        main()
