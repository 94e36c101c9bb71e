"""Engine replicas: cameras partitioned over real engine processes on one Mosquitto.

The bundled recording (tests/fixtures/engine/pedestrians.jsonl) is re-labelled as six
cameras. Three replicas process it; one is killed mid-stream and restarted; then the
engine is scaled from three replicas to two. The events on the bus, deduplicated by
``event_id``, are exactly a single engine's ``--replay`` of the same stream.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from event_engine.discovery import discovery_configs
from event_engine.engine import Engine
from event_engine.partition import CameraFiles, Claims, ReplicaError, Replicas, owner
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.errors import RetryLater
from sightline.homeassistant import node_id
from sightline.mqtt import Completion
from sightline.topics import Topics
from tests.event_engine.engine_process import EngineProcess
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish
from tests.support.paths import REPO
from tests.support.service_process import service_env
from tests.support.waiting import wait_until

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "engine"
CAMERAS = [f"street-{n}" for n in range(6)]
SETTLE_S = 120.0


def multi_camera_config(path: Path) -> Path:
    """pedestrians.yaml's device, once per camera; no wall-clock silence (the replay has
    no wall clock: an end by silence would be an event it cannot have)."""
    base = yaml.safe_load((FIXTURES / "pedestrians.yaml").read_text())
    device = dict(base["devices"]["street-pi"], silence_s=3600)
    devices = {f"{c}-pi": {**device, "camera_id": c} for c in CAMERAS}
    path.write_text(json.dumps({"mode": "processor", "devices": devices}))
    return path


def multi_camera_stream() -> list[tuple[str, bytes]]:
    """``(camera, envelope)`` in time order: every camera's frame n, then n + 1, ..."""
    lines = (FIXTURES / "pedestrians.jsonl").read_text().splitlines()
    stream = []
    for line in lines:
        for camera in CAMERAS:
            data = json.loads(line)
            data["source"].update(camera_id=camera, device_id=f"{camera}-pi")
            stream.append((camera, json.dumps(data).encode()))
    return stream


def replayed(
    tmp_path: Path, config: Path, stream: list[tuple[str, bytes]]
) -> dict[str, dict[str, Any]]:
    source = tmp_path / "stream.txt"
    source.write_text("".join(f"detections/{c} {p.decode()}\n" for c, p in stream))
    result = subprocess.run(
        [sys.executable, "-m", "event_engine", "--config", str(config), "--replay", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO,  # this checkout's code, as the replicas run
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return {e["event_id"]: e for e in events}


class Fleet:
    """Engine replicas as processes, each with its own state dir, one shared checkpoint dir."""

    def __init__(self, broker: Broker, config: Path, root: Path) -> None:
        self.broker = broker
        self.config = config
        self.root = root
        self.shared = root / "checkpoints"
        self.running: dict[int, EngineProcess] = {}

    def start(self, index: int, count: int, homeassistant: bool = False) -> EngineProcess:
        state = self.root / f"r{index}" / "state"
        state.parent.mkdir(exist_ok=True)
        env = service_env(
            self.broker,
            state,
            health_port=None,
            SIGHTLINE_INSTANCE=f"r{index}",
            SIGHTLINE_REPLICAS__COUNT=str(count),
            SIGHTLINE_REPLICAS__INDEX=str(index),
            SIGHTLINE_REPLICAS__CHECKPOINT_DIR=str(self.shared),
            SIGHTLINE_HOMEASSISTANT__ENABLED=str(homeassistant).lower(),
        )
        process = EngineProcess(self.broker, self.config, state)
        process.env = env
        process.start()
        self.running[index] = process
        return process

    def close(self) -> None:
        for process in self.running.values():
            process.close()

    def last_frames(self) -> dict[str, int | None]:
        files = CameraFiles(self.shared, "test")
        return {
            camera: saved.state.last_frame if saved is not None else None
            for camera in CAMERAS
            for saved, _ in [files.read(camera)]
        }

    def holders(self) -> dict[str, str | None]:
        files = CameraFiles(self.shared, "test")
        return {
            camera: saved.holder if saved is not None else None
            for camera in CAMERAS
            for saved, _ in [files.read(camera)]
        }

    def wait_processed_camera(self, camera: str, last_frame: int) -> None:
        """Until ``camera``'s checkpoint holds ``last_frame``."""
        wait_until(
            lambda: self.last_frames()[camera] == last_frame,
            SETTLE_S,
            f"{camera} checkpointed at frame {last_frame}: {self.last_frames()}",
        )

    def wait_processed(self, last_frame: int) -> None:
        """Until every camera's checkpoint holds ``last_frame`` (so it was processed)."""
        wait_until(
            lambda: all(f == last_frame for f in self.last_frames().values()),
            SETTLE_S,
            f"every camera checkpointed at frame {last_frame}: {self.last_frames()}",
        )


def online(collector: Collector, index: int, count: int) -> None:
    """Wait for replica ``index``'s ``count``-th ``online`` (it is subscribed by then: the
    broker takes its subscriptions before the status it publishes right after)."""
    topic = f"sightline/event-engine/r{index}/status"
    collector.wait_for(
        lambda ms: sum(m.topic == topic and m.payload == b"online" for m in ms) >= count,
        timeout=60,
    )


@pytest.fixture
def fleet(broker: Broker, tmp_path: Path) -> Iterator[Fleet]:
    replicas = Fleet(broker, multi_camera_config(tmp_path / "engine.json"), tmp_path)
    yield replicas
    replicas.close()


def test_three_replicas_killed_restarted_and_scaled_to_two_give_the_replay_events(
    broker: Broker, collector: Collector, fleet: Fleet, tmp_path: Path
) -> None:
    stream = multi_camera_stream()
    expected = replayed(tmp_path, fleet.config, stream)
    assert len(expected) >= 6 * 10  # crossings, entries and exits on every camera
    owners = {owner(camera, 3) for camera in CAMERAS}
    assert owners == {0, 1, 2}, "every replica owns a camera"
    frames = len(stream) // len(CAMERAS)
    first, second = frames // 3 * len(CAMERAS), 2 * frames // 3 * len(CAMERAS)

    for index in range(3):
        fleet.start(index, 3)
    for index in range(3):
        online(collector, index, 1)
    send(broker, stream[:first])
    assert fleet.running[1].kill() != 0  # a crash mid-stream: its messages stay queued
    send(broker, stream[first:second])
    fleet.start(1, 3)
    fleet.wait_processed(second // len(CAMERAS) - 1)
    assert fleet.holders() == {c: f"sightline-event-engine-r{owner(c, 3)}" for c in CAMERAS}

    # 3 -> 2 while the cameras keep sending: replicas 0 and 1 restart with count 2, one at a
    # time (a camera that moves to one waits there until replica 2 lets go of it), then
    # replica 2 stops, releasing its cameras.
    third, fourth = (second + (len(stream) - second) // 3 * k for k in (1, 2))
    third -= third % len(CAMERAS)
    fourth -= fourth % len(CAMERAS)
    assert fleet.running.pop(0).stop() == 0
    fleet.start(0, 2)
    online(collector, 0, 2)
    send(broker, stream[second:third])
    assert fleet.running.pop(1).stop() == 0
    fleet.start(1, 2)
    online(collector, 1, 3)
    send(broker, stream[third:fourth])
    assert fleet.running.pop(2).stop() == 0
    send(broker, stream[fourth:])
    fleet.wait_processed(frames - 1)
    assert fleet.holders() == {c: f"sightline-event-engine-r{owner(c, 2)}" for c in CAMERAS}

    def events() -> dict[str, dict[str, Any]]:
        return {
            body["event_id"]: body
            for body in (json.loads(m.payload) for m in collector.on("events/"))
        }

    with contextlib.suppress(TimeoutError):  # then say what is missing
        collector.wait_for(lambda ms: events().keys() >= expected.keys(), timeout=SETTLE_S)
    got = events()
    missing = [described(e) for event_id, e in expected.items() if event_id not in got]
    extra = [described(e) for event_id, e in got.items() if event_id not in expected]
    assert (missing, extra) == ([], [])
    differing = [
        (event_id, key, got[event_id].get(key), body.get(key))
        for event_id, body in expected.items()
        for key in body.keys() | got[event_id].keys()
        if got[event_id].get(key) != body.get(key)
    ]
    assert not differing, differing
    # Only the crashed replica's cameras may repeat an event (redelivered after the crash):
    # every other camera was processed by exactly one replica at a time, each event once.
    uncrashed = {c for c in CAMERAS if owner(c, 3) != 1}
    bodies = [json.loads(m.payload) for m in collector.on("events/")]
    once = [b["event_id"] for b in bodies if b["camera_id"] in uncrashed]
    assert once
    assert len(once) == len(set(once)), "an event published twice"
    # The handover overlapped: a moved camera's new owner waited for replica 2 to let go.
    logs = "".join((tmp_path / f"r{i}" / "engine.log").read_text() for i in (0, 1))
    assert "still held by replica sightline-event-engine-r2" in logs
    # kept envelopes are removed once what they gave is confirmed (the replica tidies them)
    wait_until(lambda: not list(fleet.shared.glob("waiting/*/*.spool")), SETTLE_S, "spools removed")
    moved = [c for c in CAMERAS if owner(c, 3) == 2]
    assert moved
    assert all(owner(c, 2) in (0, 1) for c in moved)


def described(event: dict[str, Any]) -> tuple[str, int, str, int]:
    return (
        event["camera_id"],
        event["frame_number"],
        event["event_type"],
        event["object"]["track_id"],
    )


def send(broker: Broker, part: list[tuple[str, bytes]]) -> None:
    for camera in CAMERAS:  # in order per camera; cameras are independent
        payloads = [payload for c, payload in part if c == camera]
        publish(broker.host, broker.port, f"detections/{camera}", payloads)


def test_a_camera_still_held_by_another_replica_is_kept_until_it_is_released(
    tmp_path: Path,
) -> None:
    settings = EngineSettings()
    files_a = CameraFiles(tmp_path, "engine-a")
    claims_a = Claims(Replicas(), files_a, Engine(settings))
    assert claims_a("cam")
    claims_b = Claims(Replicas(), CameraFiles(tmp_path, "engine-b"), Engine(settings))
    replayed: list[tuple[str, bytes]] = []
    done = Completion()

    def replay(camera: str, payload: bytes) -> list[Completion]:
        replayed.append((camera, payload))
        return [done]

    claims_b.replay = replay
    durable: list[str] = []
    claims_b.durable = durable.append
    assert claims_b.offer("other", b"{}") is False  # free: the handler takes it at once
    assert "other" in claims_b.held
    assert claims_b.offer("cam", b"one") is True  # kept, not handled
    assert claims_b.offer("cam", b"two") is True
    assert durable == ["cam", "cam"]  # each acknowledged only after a checkpoint
    assert claims_b.metrics.waiting._value.get() == 1
    assert claims_b.metrics.kept._value.get() == 2
    with pytest.raises(RetryLater, match="cam is still held by replica engine-a"):
        claims_b("cam")
    assert set(claims_b.files.spools) == {"cam"}
    claims_b.files.write({})  # the checkpoint: makes the spool durable
    assert claims_b.due_checks() == []  # looked at just now
    claims_a.engine.states["cam"] = CameraState(last_frame=41)
    claims_a.release()
    assert claims_b.offer("cam", None) is True  # a check: taken now, kept ones run first
    assert replayed == [("cam", b"one"), ("cam", b"two")]
    assert claims_b.files.spools == {}
    assert claims_b.metrics.waiting._value.get() == 0
    assert claims_b.engine.states["cam"].last_frame == 41
    saved, _ = files_a.read("cam")
    assert saved is not None
    assert saved.holder == "engine-b"
    spools = list(tmp_path.glob("waiting/cam/*.spool"))
    assert len(spools) == 1
    claims_b.tidy()
    assert spools[0].exists(), "removed before what it gave was confirmed"
    done.mark_done()
    claims_b.tidy()
    assert not spools[0].exists()
    assert claims_b.offer("cam", b"three") is False  # held: the handler takes it


def test_a_camera_held_by_a_replica_that_never_came_back_is_taken_over(tmp_path: Path) -> None:
    settings = EngineSettings()
    Claims(Replicas(), CameraFiles(tmp_path, "gone"), Engine(settings))("cam")
    late = Claims(Replicas(), CameraFiles(tmp_path, "new"), Engine(settings), takeover_after_s=0)
    assert late("cam")


def test_each_camera_has_one_owner_and_a_replica_owns_only_its_own() -> None:
    cameras = [f"cam-{n}" for n in range(300)]
    for count in (1, 2, 3, 5):
        replicas = [Replicas(count, index) for index in range(count)]
        for camera in cameras:
            assert sum(r.owns(camera) for r in replicas) == 1
    shares = [sum(owner(c, 3) == i for c in cameras) for i in range(3)]
    assert min(shares) > 60, shares  # spread, not all on one replica


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SIGHTLINE_REPLICAS__COUNT": "3", "HOSTNAME": "box"}, "SIGHTLINE_REPLICAS__INDEX"),
        ({"SIGHTLINE_REPLICAS__COUNT": "2", "HOSTNAME": "engine-2"}, "SIGHTLINE_REPLICAS__INDEX"),
        ({"SIGHTLINE_REPLICAS__COUNT": "two"}, "SIGHTLINE_REPLICAS__COUNT"),
        ({"SIGHTLINE_REPLICAS__COUNT": "0"}, "SIGHTLINE_REPLICAS__COUNT"),
    ],
)
def test_replica_settings_that_make_no_sense_are_refused_naming_the_variable(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ReplicaError, match=f"^{named}: "):
        Replicas.from_environment(environ)


def test_a_replica_keeps_a_held_camera_while_its_other_camera_flows(
    broker: Broker, collector: Collector, fleet: Fleet, tmp_path: Path
) -> None:
    """A live replica ('old', which the test plays: it touches the file) holds one camera;
    a real replica processes its other camera meanwhile, keeps the held camera's envelopes
    across its own restart, and gives them, in order, once the camera is let go of."""
    held, flowing = CAMERAS[0], CAMERAS[1]
    stream = [(c, p) for c, p in multi_camera_stream() if c in (held, flowing)]
    expected = replayed(tmp_path, fleet.config, stream)
    ours = {c: [p for camera, p in stream if camera == c] for c in (held, flowing)}
    old = CameraFiles(fleet.shared, "sightline-event-engine-old")
    old.write(old.snapshot({held: CameraState()}, [held]))
    half = len(ours[held]) // 2

    fleet.start(0, 1)
    online(collector, 0, 1)
    publish(broker.host, broker.port, f"detections/{held}", ours[held][:half])
    publish(broker.host, broker.port, f"detections/{flowing}", ours[flowing])
    frames = len(ours[flowing])
    wait_until(
        lambda: fleet.last_frames()[flowing] == frames - 1,
        SETTLE_S,
        f"{flowing} processed while {held} is held: {fleet.last_frames()}",
    )
    by_camera = {
        c: {e for e, body in expected.items() if body["camera_id"] == c} for c in (held, flowing)
    }
    collector.wait_for(lambda ms: events_of(ms).keys() >= by_camera[flowing], SETTLE_S)
    assert not [e for e in events_of(collector.messages).values() if e["camera_id"] == held]
    assert fleet.holders()[held] == "sightline-event-engine-old"
    assert "still held by replica sightline-event-engine-old" in fleet.running[0].log_text()

    # What it kept survives its restart; more comes while it is down and after.
    assert fleet.running.pop(0).stop() == 0
    assert list(fleet.shared.glob(f"waiting/{held}/*.spool"))
    bad = ours[held][half].replace(b'"frame"', b'"frames"', 1)  # kept, refused when run
    publish(broker.host, broker.port, f"detections/{held}", [bad, *ours[held][half : half + 10]])
    fleet.start(0, 1)
    online(collector, 0, 2)
    publish(broker.host, broker.port, f"detections/{held}", ours[held][half + 10 :])
    assert fleet.holders()[held] == "sightline-event-engine-old"
    old.release({held: CameraState()}, [held])  # the old holder stops cleanly

    fleet.wait_processed_camera(held, len(ours[held]) - 1)
    with contextlib.suppress(TimeoutError):
        collector.wait_for(lambda ms: events_of(ms).keys() >= expected.keys(), SETTLE_S)
    got = events_of(collector.messages)
    assert sorted(described(e) for e in got.values()) == sorted(
        described(e) for e in expected.values()
    )
    assert got == expected
    ids = [json.loads(m.payload)["event_id"] for m in collector.on("events/")]
    assert len(ids) == len(set(ids)), "an event published twice"
    assert fleet.holders()[held] == "sightline-event-engine-r0"
    (letter,) = [json.loads(m.payload) for m in collector.on("sightline/deadletter/")]
    assert letter["topic"] == f"detections/{held}"
    assert "frame" in letter["reason"], letter["reason"]
    wait_until(
        lambda: not list(fleet.shared.glob(f"waiting/{held}/*.spool")),
        SETTLE_S,
        "the kept envelopes removed once processed",
    )


def events_of(messages: list[Seen]) -> dict[str, dict[str, Any]]:
    """The events among ``messages`` by id."""
    return {
        body["event_id"]: body
        for body in (json.loads(m.payload) for m in messages if m.topic.startswith("events/"))
    }


def test_each_replica_announces_its_own_cameras_and_none_vanishes_when_they_move(
    broker: Broker, collector: Collector, fleet: Fleet
) -> None:
    """Home Assistant discovery with replicas: each camera's entities are announced by its
    owner and available while that replica is online; from two replicas to one, every
    camera keeps its entities (no empty config ever), and the moved ones are announced
    again, as the remaining replica's, when it takes them."""
    settings = EngineSettings.model_validate_json(fleet.config.read_text())

    def expected(count: int) -> dict[str, bytes]:
        """Each discovery config, following the status of the camera's owner."""
        result: dict[str, bytes] = {}
        for device_id, device in settings.devices.items():
            index = owner(device.camera_id or device_id, count)
            one = settings.model_copy(update={"devices": {device_id: device}})
            status = f"sightline/event-engine/r{index}/status"
            result |= {c.topic: c.encode() for c in discovery_configs(one, Topics(), status)}
        return result

    def announced() -> dict[str, bytes]:
        """The last config on each discovery topic."""
        return {m.topic: m.payload for m in collector.on("homeassistant/") if "/config" in m.topic}

    def empty_configs() -> list[str]:
        return [m.topic for m in collector.on("homeassistant/") if not m.payload]

    for index in range(2):
        fleet.start(index, 2, homeassistant=True)
    for index in range(2):
        online(collector, index, 1)
    before = expected(2)
    assert {owner(c, 2) for c in CAMERAS} == {0, 1}, "both replicas own a camera"
    collector.wait_for(lambda ms: announced() == before, timeout=60)
    send(broker, multi_camera_stream()[: 6 * len(CAMERAS)])  # every camera is taken
    fleet.wait_processed(5)

    # 2 -> 1: replica 0 restarts with count 1 (it waits for replica 1's cameras), then
    # replica 1 stops and lets go of them.
    assert fleet.running.pop(0).stop() == 0
    fleet.start(0, 1, homeassistant=True)
    online(collector, 0, 2)
    after = expected(1)
    collector.wait_for(lambda ms: announced() == after, timeout=60)
    seen = len(collector.messages)
    send(broker, multi_camera_stream()[6 * len(CAMERAS) : 12 * len(CAMERAS)])
    assert fleet.running.pop(1).stop() == 0  # its cameras move to replica 0
    moved = {node_id(c) for c in CAMERAS if owner(c, 2) == 1}
    assert moved

    def announced_again(messages: list[Seen]) -> set[str]:
        return {
            json.loads(m.payload)["device"]["identifiers"][0]
            for m in messages[seen:]
            if m.topic.startswith("homeassistant/") and "/config" in m.topic and m.payload
        }

    collector.wait_for(lambda ms: announced_again(ms) >= moved, timeout=60)
    assert announced() == after
    assert empty_configs() == [], "a camera's entities were removed"
    fleet.wait_processed(11)
