"""State that survives a restart: occupancy, dwell starts, cool-downs, the last frame."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from event_engine import saving
from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.saving import CheckpointScheduler, WholeFile
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.messages import Event, encode
from sightline.mqtt import Completion
from tests.event_engine.walks import Box, envelope, rule, settings, walk

ZONE = {
    "name": "z",
    "points": [[400, 300], [800, 300], [800, 600], [400, 600]],
    "units": "px",
    "dwell_s": 0.2,
}
CONFIG = settings(
    {"zones": [ZONE], "events": [rule("enter", "ZONE_ENTER"), rule("stay", "ZONE_DWELL")]}
)


def start(path: Path) -> tuple[EnvelopeHandler, list[Event]]:
    """An engine restored from ``path``, and the list its events go to."""
    published: list[Event] = []

    def publish(topic: str, payload: object, retain: bool) -> None:
        assert isinstance(payload, Event)
        published.append(payload)

    checkpoint = Checkpoint(path)
    engine = Engine(CONFIG, checkpoint.load())
    handler = EnvelopeHandler(engine, publish, lambda *a: None)
    handler.checkpoints = CheckpointScheduler(engine, WholeFile(checkpoint))
    return handler, published


def feed(handler: EnvelopeHandler, numbers: range) -> None:
    for number, boxes in zip(numbers, walk(1, [(600, 500)] * len(numbers)), strict=True):
        handler.handle("detections/cam", encode(envelope(number, boxes)))


def test_restart_mid_visit_neither_reenters_nor_forgets_the_dwell(tmp_path: Path) -> None:
    path = tmp_path / "engine-state.json"
    first, before = start(path)
    feed(first, range(0, 3))  # entered at frame 0, 80 ms inside
    second, after = start(path)  # a new process: nothing in memory
    feed(second, range(2, 8))  # frame 2 redelivered, then on to 280 ms
    assert [e.event_type.value for e in before] == ["ZONE_ENTER"]
    assert [(e.event_type.value, e.frame_number) for e in after] == [("ZONE_DWELL", 5)]


def test_the_checkpoint_is_replaced_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    handler, _ = start(tmp_path / "engine-state.json")
    feed(handler, range(0, 3))
    handler.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine-state.json"]


def test_an_unreadable_checkpoint_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "engine-state.json"
    path.write_text("{not json")
    assert Checkpoint(path).load() == {}


def test_ended_tracks_are_removed_from_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "engine-state.json"
    handler, _ = start(path)
    feed(handler, range(0, 2))
    handler.handle("detections/cam", encode(envelope(200, [])))  # 8 s later: track 1 ended
    handler.flush()
    assert Checkpoint(path).load()["cam"].tracks == {}


def test_a_checkpoint_waits_for_the_broker_to_have_the_events_of_the_state_it_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between a checkpoint and the broker's confirmation of its events would lose
    them (the redelivered envelopes would be duplicates of the saved state): the save is put
    off until the broker has them."""
    monkeypatch.setattr(saving, "PUBLISH_WAIT_S", 0.05)
    checkpoint = Checkpoint(tmp_path / "state.json")
    saves = CheckpointScheduler(Engine(EngineSettings()), WholeFile(checkpoint))
    event = Completion()
    acked = saves.changed("cam", [event])

    assert saves.save() is False  # the event is not confirmed: nothing on disk, nothing owed
    assert not checkpoint.path.exists()
    assert not acked.done
    assert saves.dirty
    event.mark_done()
    assert saves.save() is True
    assert checkpoint.path.exists()
    assert acked.done


def test_a_checkpoint_copies_the_state_between_two_envelopes(tmp_path: Path) -> None:
    """While an envelope is processed and its events registered, a save waits."""
    saves = CheckpointScheduler(
        Engine(EngineSettings()), WholeFile(Checkpoint(tmp_path / "s.json"))
    )
    saves.changed("cam")
    saved: list[bool] = []
    with saves.processing():
        saver = threading.Thread(target=lambda: saved.append(saves.save()))
        saver.start()
        saver.join(0.2)
        assert saver.is_alive()
        assert saved == []
    saver.join(10)
    assert saved == [True]


class _Counting(Checkpoint):
    """A checkpoint that counts the cameras it encodes."""

    encoded: list[int]

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.encoded = []

    def encode_one(self, state: CameraState) -> bytes:  # type: ignore[override]
        self.encoded.append(id(state))
        return Checkpoint.encode_one(state)


def _busy_states(cameras: int) -> dict[str, CameraState]:
    """Real states (tracks in and out of the zone, dwell, runs), one walk per camera."""
    states: dict[str, CameraState] = {}
    for camera in range(cameras):
        engine = Engine(CONFIG)
        for frame, x in enumerate(range(300 + 20 * camera, 900, 40)):
            boxes = [Box.at_foot(1, x, 450), Box.at_foot(2, 1200 - x, 450)]
            engine.process(envelope(frame, boxes))
        states[f"c{camera}"] = engine.states["cam"]
    return states


def test_the_single_file_encodes_again_only_the_cameras_that_changed(tmp_path: Path) -> None:
    states = _busy_states(5)
    checkpoint = _Counting(tmp_path / "state.json")
    whole = WholeFile(checkpoint)

    first = whole.snapshot(states, set(states))
    assert first[""] == Checkpoint.encode(states)  # byte for byte what one encoding gives
    assert len(checkpoint.encoded) == 5

    checkpoint.encoded.clear()
    states["c1"].last_frame = 99  # reported
    states["c3"] = CameraState(last_frame=3)  # another object: encoded whatever is reported
    del states["c4"]  # gone from the engine: gone from the file
    second = whole.snapshot(states, {"c1"})
    assert sorted(checkpoint.encoded) == sorted([id(states["c1"]), id(states["c3"])])
    assert second[""] == Checkpoint.encode(states)
    whole.write(second)
    assert Checkpoint.encode(checkpoint.load()) == Checkpoint.encode(states)
