"""What the layout test needs to run a shipped layout as a deployer would, on one machine.

A container's mounts become directories: :class:`Mounts` rewrites the container paths of a
shipped config (``/var/lib/sightline``, ``/run/secrets``, ``/app``, ``/etc/sightline``) to
this service's own directories, as a volume would. The broker is the shipped
``mosquitto/mosquitto.conf`` with its ACL and a real password file; an edge broker on balena
is the config its entrypoint renders. Nothing else of a shipped file is changed: the
deployer's overrides are environment variables.

Example:
    >>> Mounts({"/var/lib/sightline": Path("/tmp/e")}).apply("root: /var/lib/sightline/x")
    'root: /tmp/e/x'
    >>> Mounts({"/app": Path("/src")}).apply("/app/models /apps /x/app")
    '/src/models /apps /x/app'
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import cv2
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from sightline.broker import free_port
from tests.support.waiting import settle

CLIP_FRAMES = 40
"""Frames of samples/pedestrians.avi each edge run reads: 3 line crossings, 11 zone entries."""


@dataclass(frozen=True)
class Mounts:
    """Container path prefixes and the host directories that stand in for them."""

    paths: dict[str, Path]

    def apply(self, text: str) -> str:
        """``text`` with every mounted container path pointing at its host directory."""
        for inside, outside in sorted(self.paths.items(), key=lambda kv: -len(kv[0])):
            text = re.sub(rf"(?<![\w/.-]){re.escape(inside)}(?![\w.-])", str(outside), text)
        return text

    def config(self, source: Path, target: Path) -> Path:
        """Write ``source`` with the mounts applied to ``target``; return ``target``."""
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.apply(source.read_text()))
        return target


def make_clip(source: Path, target: Path, frames: int = CLIP_FRAMES) -> Path:
    """The first ``frames`` frames of ``source`` as an MJPEG AVI (a file camera that ends)."""
    capture = cv2.VideoCapture(str(source))
    writer: cv2.VideoWriter | None = None
    try:
        for _ in range(frames):
            ok, frame = capture.read()
            assert ok, f"cannot read {source}"
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(
                    str(target), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (width, height)
                )
                writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
            writer.write(frame)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return target


def add_broker_user(passwd: Path, user: str, password: str) -> None:
    """Add ``user`` to a Mosquitto password file (mosquitto_passwd -b)."""
    if not passwd.exists():
        passwd.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)


def new_secret(path: Path) -> str:
    """A random password written to ``path`` (as a deployer replaces CHANGE_ME); returned."""
    value = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    return value


class Mosquitto:
    """A shipped Mosquitto config run on a free loopback port, persistence in ``root``."""

    def __init__(self, conf_text: str, root: Path) -> None:
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        (root / "data").mkdir(exist_ok=True)
        lines = []
        for line in conf_text.splitlines():
            words = line.split()
            if words[:1] == ["listener"] and len(words) >= 2:
                line = f"listener {self.port} 127.0.0.1"  # a deployer's port
            elif words[:1] == ["persistence_location"]:
                line = f"persistence_location {root / 'data'}/"
            elif words[:1] == ["log_dest"]:
                line = f"log_dest file {root / 'mosquitto.log'}"
            lines.append(line)
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to 'mosquitto' and cannot write root
        self.conf = root / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("ab"),
            start_new_session=True,
        )
        process = self._process

        def listening() -> bool:
            assert process.poll() is None, self.log()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        if not settle(listening, 10, interval=0.05):
            raise AssertionError(f"mosquitto did not listen:\n{self.log()}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in self.root.glob("*.log") if p.exists()]
        return "\n".join(parts)[-3000:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@dataclass(frozen=True)
class Seen:
    """One message as the observer saw it, with when."""

    topic: str
    payload: bytes
    retain: bool
    at: float


class Observer:
    """``mosquitto_sub -v -t '#'`` as the ops user (mosquitto/acl: read everything)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        host, port = url.removeprefix("mqtt://").split(":")
        self.messages: list[Seen] = []
        self._lock = threading.Lock()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"layout-observer-{secrets.token_hex(3)}"
        )
        if username:
            self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *args: subscribed.set()
        self._client.on_connect = lambda client, *args: client.subscribe("#", qos=1)
        self._client.connect(host, int(port))
        self._client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError(f"the observer could not subscribe on {url}")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        seen = Seen(message.topic, bytes(message.payload), bool(message.retain), time.monotonic())
        with self._lock:
            self.messages.append(seen)

    def on(self, pattern: str) -> list[Seen]:
        """Messages whose topic matches the regular expression ``pattern`` (whole topic)."""
        compiled = re.compile(pattern)
        with self._lock:
            return [m for m in self.messages if compiled.fullmatch(m.topic)]

    def last(self, topic: str) -> bytes | None:
        """The latest payload on ``topic``."""
        found = self.on(re.escape(topic))
        return found[-1].payload if found else None

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class Merged:
    """Several observers' messages as one (a broker that restarted on another port)."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def on(self, pattern: str) -> list[Seen]:
        found = [m for o in self.observers for m in o.on(pattern)]
        return sorted(found, key=lambda m: m.at)

    def last(self, topic: str) -> bytes | None:
        found = self.on(re.escape(topic))
        return found[-1].payload if found else None


def events_between(
    observer: Observer | Merged, camera: str, start: float, end: float
) -> dict[str, Any]:
    """The events of ``camera`` published on the bus in ``[start, end)``, by event id."""
    found: dict[str, Any] = {}
    for seen in observer.on(rf"events/{re.escape(camera)}/(line_cross|zone_\w+)"):
        if start <= seen.at < end and not seen.retain:
            event = json.loads(seen.payload)
            found[event["event_id"]] = event
    return found


def announced(observer: Observer | Merged, camera: str) -> set[str]:
    """Event ids with a snapshot announcement."""
    return {
        json.loads(seen.payload)["event_id"]
        for seen in observer.on(rf"events/{re.escape(camera)}/snapshot")
    }


def json_log_ids(directory: Path) -> list[str]:
    """Every event id in the notifier's JSON log files, in order (repeats kept)."""
    ids = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                ids.append(json.loads(line)["event_id"])
    return ids


def image_parts(message: EmailMessage) -> list[EmailMessage]:
    return [p for p in message.walk() if p.get_content_maintype() == "image"]  # type: ignore[misc]


def camera_entities(observer: Observer | Merged, camera_node: str) -> list[dict[str, Any]]:
    """The latest retained discovery config of each entity on the camera's HA device."""
    latest: dict[str, bytes] = {}
    for seen in observer.on(r"homeassistant/.+/config"):
        latest[seen.topic] = seen.payload
    configs = []
    for payload in latest.values():
        if not payload:
            continue
        config = json.loads(payload)
        if camera_node in config.get("device", {}).get("identifiers", []):
            configs.append(config)
    return configs


def unavailable(observer: Observer | Merged, config: dict[str, Any]) -> bool:
    """Whether Home Assistant shows this entity unavailable, from the retained statuses."""
    entries = list(config.get("availability", []))
    if "availability_topic" in config:
        entries.append(
            {
                "topic": config["availability_topic"],
                "payload_not_available": config.get("payload_not_available", "offline"),
            }
        )
    if not entries:
        return False
    offline = []
    for entry in entries:
        off = entry.get("payload_not_available", config.get("payload_not_available", "offline"))
        offline.append(observer.last(entry["topic"]) == off.encode())
    mode = config.get("availability_mode", "latest")
    if mode == "all":
        return any(offline)  # every topic must be online for the entity to be available
    if mode == "any":
        return all(offline)
    return offline[-1] if len(offline) == 1 else all(offline)


def zones_clear(observer: Observer | Merged, camera: str) -> bool:
    """Whether the engine's retained state of ``camera`` shows every zone empty."""
    state = observer.last(f"sightline/{camera}/engine/state")
    if state is None:
        return False
    return all(count == 0 for count in json.loads(state).get("zones", {}).values())


def vm_hwm_mib(pid: int) -> float | None:
    """Peak resident memory of a live process (``VmHWM``), MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


@dataclass
class Peaks:
    """Peak RSS per service across the layouts (printed with ``-s`` for deploy/k3s/README)."""

    mib: dict[str, float] = field(default_factory=dict)

    def record(self, service: str, pid: int | None) -> None:
        if pid is None:
            return
        value = vm_hwm_mib(pid)
        if value is not None:
            self.mib[service] = max(value, self.mib.get(service, 0.0))


def clean_environment() -> dict[str, str]:
    """The test runner's environment without any ``SIGHTLINE_*`` of its shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}


def wait_for(check: Any, timeout: float, interval: float = 0.2) -> bool:
    """:func:`tests.support.waiting.settle`, polling every 0.2 s by default."""
    return settle(check, timeout, interval)


def iter_blocks(markdown: str, language: str = "yaml") -> Iterator[tuple[str, str]]:
    """``(first comment line, text)`` of each fenced block in ``language``."""
    for block in re.findall(rf"```{language}\n(.*?)```", markdown, re.S):
        first = block.lstrip().splitlines()[0]
        yield (first.lstrip("# ").strip() if first.startswith("#") else "", block)
