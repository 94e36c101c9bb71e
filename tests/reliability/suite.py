"""The suite's services as real processes on one broker, fed the synthetic stream.

Reuses each service's own test helpers; only the configs are the reliability tests' own.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.event_engine.engine_process import EngineProcess
from tests.frame_store.process import FrameStoreProcess
from tests.notifier.notifier_process import NotifierProcess
from tests.notifier.support import SmtpServer, sample_jpeg
from tests.reliability.stream import CAMERAS, Message, engine_config
from tests.support.broker import Broker
from tests.support.mqtt import Collector

EVENT_KINDS = ("line_cross", "zone_enter", "zone_exit", "zone_dwell")
_ids = itertools.count()


def make_engine(broker: Broker, tmp_path: Path) -> EngineProcess:
    """The engine with the stream's config, its state under ``tmp_path/engine``."""
    config = tmp_path / "engine.yaml"
    config.write_text(yaml.safe_dump(engine_config()))
    (tmp_path / "engine").mkdir(parents=True, exist_ok=True)
    return EngineProcess(broker, config, tmp_path / "engine" / "state")


def make_notifier(
    broker: Broker, smtp: SmtpServer, tmp_path: Path, digest_every: str = "10s"
) -> NotifierProcess:
    """The notifier: JSON log in ``tmp_path/notifier/log``, one digest, short snapshot wait."""
    (tmp_path / "notifier").mkdir(parents=True, exist_ok=True)
    process = NotifierProcess(broker, smtp, tmp_path / "notifier")
    section = {
        "snapshots_dir": str(tmp_path / "frames" / "snapshots"),
        "snapshot_wait_s": 2,
        "json_log": {"directory": str(tmp_path / "notifier" / "log"), "per_day": False},
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout_s": 5},
        "email": {"to": ["home@example.com"], "rate_limit_per_hour": 1000},
        "digests": [{"name": "default", "every": digest_every, "max_photos": 2}],
    }
    process.config.write_text(yaml.safe_dump({"notifier": section}))
    return process


def make_frame_store(broker: Broker, tmp_path: Path) -> FrameStoreProcess:
    """The frame-store with a short wait for late frames."""
    (tmp_path / "frames").mkdir(parents=True, exist_ok=True)
    return FrameStoreProcess(broker, tmp_path / "frames", frame_wait_s=1.0, crop=False)


def frame_messages(stream: Iterable[Message], every: int = 20) -> list[Message]:
    """A JPEG frame (``detections/<cam>/frame``) for every ``every``-th envelope's frame."""
    picture = base64.b64encode(sample_jpeg()).decode()
    frames = []
    for message in stream:
        data = json.loads(message.payload)
        if data["frame"]["number"] % every == 0:
            data["frame_data"] = {"encoding": "jpeg", "quality": 80, "base64": picture}
            frames.append(Message(f"{message.topic}/frame", json.dumps(data).encode()))
    return frames


class Publisher:
    """A QoS 1 publisher that waits until the broker has every message."""

    def __init__(self, broker: Broker) -> None:
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"reliability-publisher-{next(_ids)}",
            protocol=paho.MQTTv5,
        )
        self._client.max_queued_messages_set(0)
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def send(self, messages: Iterable[Message], pause_s: float = 0.0) -> None:
        """Publish in order, ``pause_s`` apart; return once the broker acknowledged all."""
        infos = []
        for message in messages:
            infos.append(self._client.publish(message.topic, message.payload, qos=1))
            if pause_s:
                time.sleep(pause_s)
        for info in infos:
            info.wait_for_publish(30)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def _on_stream_cameras(collector: Collector, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        json.loads(m.payload)
        for m in list(collector.messages)
        if (levels := m.topic.split("/"))[0] == "events"
        and len(levels) == 3
        and levels[1] in CAMERAS
        and levels[2] in kinds
    ]


def bus_events(collector: Collector) -> list[dict[str, Any]]:
    """Every event the collector saw on the stream's ``events/<cam>/<type>``, repeats too."""
    return _on_stream_cameras(collector, EVENT_KINDS)


def announcements(collector: Collector) -> list[dict[str, Any]]:
    """Every snapshot announcement the collector saw for the stream's cameras."""
    return _on_stream_cameras(collector, ("snapshot",))


def json_log_ids(tmp_path: Path) -> list[str]:
    """The event ids in the notifier's JSON log, in file order, duplicates included."""
    ids = []
    for path in sorted((tmp_path / "notifier" / "log").glob("*.jsonl")):
        ids += [json.loads(line)["event_id"] for line in path.read_text().splitlines() if line]
    return ids
