"""``sightline demo``: the whole suite on the bundled video, with no config, and a summary.

It starts a private Mosquitto, runs the edge on ``samples/pedestrians.avi`` with the bundled
YOLO11n OpenVINO model (both found under ``--assets DIR``, by default the current directory:
run it from the repository's root), a line across the walkway and a zone, rules that log JSON, write
immediate and digest e-mails to an outbox and store snapshots; then it prints what happened
and where every file is.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from sightline.config.loader import load_config
from sightline.config.mqtt import MqttConfig
from sightline.config.settings import SuiteSettings
from sightline.errors import TopicError
from sightline.messages.event import EventType
from sightline.service import EXIT_CONFIG
from sightline.topics import Service, Topic, Topics
from suite.configs import SERVICES
from suite.run import suite_broker, suite_processes
from suite.supervisor import Supervisor

DEMO_VIDEO = Path("samples") / "pedestrians.avi"
"""Relative to the assets directory (``--assets``, default the current directory)."""
DEMO_MODEL = Path("models") / "yolo11n_int8_openvino_model"
DEMO_FRAMES = 341
DIGEST_EVERY_S = 10


def demo_config(root: Path, assets: Path = Path()) -> dict[str, Any]:
    """The demo's suite config (as YAML data): every default a newcomer needs; the video
    and the model under ``assets``."""
    return {
        "mode": "local",
        "device_id": "demo-box",
        "camera_id": "plaza",
        "instance": "demo",
        "state_dir": str(root),
        "log": {"level": "INFO", "format": "json"},
        "camera": {"url": str((assets / DEMO_VIDEO).resolve())},
        "detector": {
            "model_file": str((assets / DEMO_MODEL).resolve()),
            "confidence_threshold": 0.3,
            "track_classes": ["person"],
        },
        "frames": {"interval_s": 1.0, "on_detection": True, "min_interval_s": 0.2},
        "console": {"port": 0},  # a free port: the demo prints the address
        "lines": [{"type": "horizontal", "position_pct": 55, "name": "walkway"}],
        "zones": [
            {
                "name": "east plaza",
                "x1_pct": 55,
                "y1_pct": 50,
                "x2_pct": 95,
                "y2_pct": 95,
                "dwell_s": 3,
            },
        ],
        "events": [
            {
                "name": "walkway-crossing",
                "match": {"event_type": EventType.LINE_CROSS.value, "line": "walkway"},
                "actions": {"json_log": True, "email_immediate": True, "email_digest": "demo"},
            },
            {
                "name": "east-plaza-entry",
                "match": {"event_type": EventType.ZONE_ENTER.value, "zone": "east plaza"},
                "actions": {"json_log": True, "email_digest": "demo"},
            },
            {
                "name": "east-plaza-dwell",
                "match": {"event_type": EventType.ZONE_DWELL.value, "zone": "east plaza"},
                "actions": {"json_log": True, "email_digest": "demo"},
            },
            {
                "name": "east-plaza-exit",
                "match": {"event_type": EventType.ZONE_EXIT.value, "zone": "east plaza"},
                "actions": {"json_log": True, "snapshot": False},
            },
        ],
        "notifier": {
            "json_log": {"directory": str(root / "events")},
            "smtp": {"outbox_dir": str(root / "outbox")},
            "email": {
                "sender": "sightline-demo@localhost",
                "to": ["you@localhost"],
                "rate_limit_per_hour": 5,
            },
            "digests": [{"name": "demo", "every": f"{DIGEST_EVERY_S}s", "max_photos": 12}],
            "snapshot_wait_s": 5,
        },
        "frame_store": {
            "storage": {"type": "file", "root": str(root / "snapshots")},
            "frame_wait_s": 3,
        },
    }


@dataclass
class Observer:
    """Watches the bus like ``mosquitto_sub -v -t '#'`` and counts what matters."""

    topics: Topics = field(default_factory=Topics)
    frames: int = 0
    detections: int = 0
    tracks: set[int] = field(default_factory=set)
    events: Counter[str] = field(default_factory=Counter)
    snapshots: int = 0
    dead_letters: int = 0
    last_activity: float = field(default_factory=time.monotonic)

    def on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            self.count(message.topic, message.payload)
        except (ValueError, KeyError, TypeError):
            return

    def count(self, topic: str, payload: bytes | bytearray) -> None:
        """Count one message (an envelope, an event, a snapshot, a dead letter)."""
        if _is(self.topics.parse_detections, topic):
            envelope = json.loads(payload)
            self.frames += 1
            self.detections += len(envelope["detections"])
            self.tracks.update(
                d["track_id"] for d in envelope["detections"] if d["track_id"] is not None
            )
        elif _is(self.topics.parse_event, topic):
            if self.topics.parse_event(topic)[1] == "snapshot":
                self.snapshots += 1
            else:
                self.events[json.loads(payload)["event_type"]] += 1
        elif Topic(topic).matches(self._dead_letters()):
            self.dead_letters += 1
        else:
            return
        self.last_activity = time.monotonic()

    def _dead_letters(self) -> str:
        """The filter of every service's dead letters (``sightline/deadletter/+``)."""
        return str(self.topics.deadletter(Service.ENGINE)).rsplit("/", 1)[0] + "/+"

    def subscriptions(self) -> list[tuple[str, int]]:
        """What it watches: envelopes, events and snapshots, every dead letter."""
        return [
            (self.topics.all_detections, 1),
            (self.topics.all_events, 1),
            (self._dead_letters(), 1),
        ]


def _is(parse: Any, topic: str) -> bool:
    try:
        parse(topic)
    except TopicError:
        return False
    return True


def _watch(url: str, observer: Observer) -> paho.Client:
    broker = MqttConfig(url=url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="sightline-demo-observer")
    client.on_message = observer.on_message
    client.on_connect = lambda c, *a: c.subscribe(observer.subscriptions())
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


class Progress:
    """One updating line on a terminal; a plain line every few seconds in a log."""

    def __init__(self, observer: Observer, every_s: float = 5.0) -> None:
        self.observer = observer
        self.tty = sys.stdout.isatty()
        self.every_s = every_s
        self._last = 0.0

    def show(self) -> None:
        """Print the progress if it is time to."""
        if not self.tty and time.monotonic() - self._last < self.every_s:
            return
        self._last = time.monotonic()
        seen = self.observer
        done = min(seen.frames, DEMO_FRAMES)
        bar = "#" * int(30 * done / DEMO_FRAMES)
        line = (
            f"  frames {done:4d}/{DEMO_FRAMES} [{bar:<30}] detections {seen.detections:5d} "
            f"events {sum(seen.events.values()):3d} snapshots {seen.snapshots:3d}"
        )
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", flush=True)

    def interrupt(self, line: str) -> None:
        """Print ``line`` on its own line (ending a progress line in place on a terminal)."""
        print(f"\r\033[K{line}" if self.tty else line, flush=True)


class ConsoleAddress:
    """Prints the console's address once it has written it (it picks a free port)."""

    def __init__(self, url_file: Path) -> None:
        self.url_file = url_file
        self.said = False

    def say(self, progress: Progress) -> None:
        if self.said or not self.url_file.exists():
            return
        url = self.url_file.read_text().strip()
        if url:
            self.said = True
            progress.interrupt(f"  console            {url}  (open it while the demo runs)")


def run_demo(root: Path, assets: Path = Path()) -> int:
    """Run the demo into ``root`` (cleared first) and print the summary; the video and the
    model are under ``assets``."""
    missing = [str(assets / p) for p in (DEMO_VIDEO, DEMO_MODEL) if not (assets / p).exists()]
    if missing:
        print(
            f"sightline demo: {', '.join(missing)} not found; run it from the repository's "
            "root or give --assets DIR (the directory with samples/ and models/)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    settings = load_config(SuiteSettings, None, **demo_config(root, assets))
    started = time.monotonic()
    print(f"Sightline demo: {DEMO_VIDEO.name} through the whole suite (state in {root})")
    observer = Observer()
    progress = Progress(observer)
    with suite_broker(settings, root) as url:
        watcher = _watch(url, observer)
        supervisor = Supervisor(suite_processes(settings, url, root))
        supervisor.start()
        console = ConsoleAddress(root / Service.CONSOLE / "url")
        try:
            while Service.EDGE not in supervisor.finished:
                supervisor.poll()
                console.say(progress)
                progress.show()
                time.sleep(0.5)
                if time.monotonic() - started > 600:
                    print(
                        "\n  the edge did not finish within 10 minutes; stopping", file=sys.stderr
                    )
                    break
            quiet_since = time.monotonic()
            # let snapshots, e-mails and one digest period finish after the last frame
            while time.monotonic() - quiet_since < DIGEST_EVERY_S + 6:
                supervisor.poll()
                progress.show()
                time.sleep(0.5)
        finally:
            codes = supervisor.stop()
            watcher.loop_stop()
            watcher.disconnect()
    print()
    return _summary(root, observer, codes, time.monotonic() - started)


def _summary(root: Path, observer: Observer, codes: dict[str, int], elapsed: float) -> int:
    emails = sorted((root / "outbox").glob("**/*.eml"))
    snapshots = sorted((root / "snapshots").glob("**/*.jpg"))
    logs = sorted((root / "events").glob("*.jsonl"))
    print(f"\nDone in {elapsed:.0f} s.\n")
    print(f"  frames processed   {observer.frames}")
    print(f"  detections         {observer.detections}")
    print(f"  distinct tracks    {len(observer.tracks)}")
    print(
        "  events             "
        + (", ".join(f"{k} {v}" for k, v in sorted(observer.events.items())) or "none")
    )
    print(f"  snapshots stored   {len(snapshots)} files, {observer.snapshots} announced")
    print(f"  e-mails written    {len(emails)} (.eml, open them in any mail program)")
    print(f"  dead letters       {observer.dead_letters}")
    print("\nWhere things are:")
    print(f"  JSON event log     {', '.join(str(p) for p in logs) or '(none)'}")
    print(f"  e-mails            {root / 'outbox'}")
    for path in emails[:5]:
        print(f"                     {path}")
    print(f"  snapshots          {root / 'snapshots'}")
    for path in snapshots[:3]:
        print(f"                     {path}")
    print(f"  service logs       {root / 'logs'}")
    bad = {name: code for name, code in codes.items() if code != 0}
    missing = [name for name in SERVICES if name not in codes]
    if bad or missing:
        print(f"\nSome services did not stop cleanly: {bad or ''} {missing or ''}", file=sys.stderr)
        return 1
    return 0
