"""The engine's state when the disk, the broker or a config change meet it at a bad moment:
nothing acknowledged is lost, and no state gets ahead of its events.

Real disk conditions where they can be made as root: a directory where a checkpoint file
should be (the read fails: ``EISDIR``), a full tmpfs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from event_engine import saving, service
from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.partition import CameraFiles, Claims, Replicas
from event_engine.reconfigure import Reconfigurer, SavedChanges, config_topic
from event_engine.saving import CheckpointScheduler, WholeFile
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.errors import RetryLater
from sightline.messages import encode
from sightline.messages.event import Event
from sightline.mqtt import Completion
from sightline.service import EXIT_STATE_DIR
from sightline.topics import Topics
from tests.event_engine.test_checkpoint import CONFIG
from tests.event_engine.walks import envelope, rule, settings, walk
from tests.support.disk import NEEDS_ROOT, fill, tmpfs


def standing(handler: EnvelopeHandler, numbers: range, y: float = 500) -> None:
    """One person standing at ``(600, y)`` (the foot) in frames ``numbers``."""
    for number, boxes in zip(numbers, walk(1, [(600, y)] * len(numbers)), strict=True):
        handler.handle("detections/cam", encode(envelope(number, boxes)))


# --- a replica that stops before the broker confirmed its events ---------------------------


def replica(shared: Path, name: str, confirm: bool) -> tuple[EnvelopeHandler, Claims, list[str]]:
    """A replica on ``shared``'s camera files whose events the broker confirms, or never."""
    engine = Engine(CONFIG)
    sent: list[str] = []

    def publish(topic: str, event: object, retain: bool) -> Completion:
        assert isinstance(event, Event)
        sent.append(event.event_type.value)
        completion = Completion()
        if confirm:
            completion.mark_done()
        return completion

    handler = EnvelopeHandler(engine, publish, lambda *a: None)
    claims = Claims(Replicas(), CameraFiles(shared, name), engine, takeover_after_s=0)
    handler.claim = claims
    handler.checkpoints = CheckpointScheduler(engine, claims.files, 0.1)
    handler.hold = lambda completion: None  # live, the acknowledgement waits for it
    return handler, claims, sent


def test_a_replica_that_stops_with_unconfirmed_events_keeps_the_camera_as_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Letting go of the camera would write its state ahead of events the broker never
    had: the next owner would skip their envelopes, redelivered, as processed."""
    monkeypatch.setattr(saving, "PUBLISH_WAIT_S", 0.05)
    first, claims, sent = replica(tmp_path, "r0", confirm=False)
    standing(first, range(0, 3))
    assert sent == ["ZONE_ENTER"]
    ctx = types.SimpleNamespace(on_stop=[])
    service.start_saving(ctx, first, first.checkpoints, claims)  # type: ignore[arg-type]
    for hook in ctx.on_stop:  # SIGTERM: the client stopped, then the stop hooks run
        hook()

    saved = json.loads((tmp_path / "cam.json").read_bytes())
    assert saved["holder"] == "r0"  # not let go
    assert saved["state"]["last_frame"] is None  # as taken: nothing past the events
    second, _, again = replica(tmp_path, "r1", confirm=True)
    standing(second, range(0, 3))  # the unacknowledged envelopes, to the next owner
    assert again == ["ZONE_ENTER"]


def test_a_replica_that_stops_with_everything_saved_lets_go_of_its_camera(
    tmp_path: Path,
) -> None:
    first, claims, _ = replica(tmp_path, "r0", confirm=True)
    standing(first, range(0, 3))
    ctx = types.SimpleNamespace(on_stop=[])
    service.start_saving(ctx, first, first.checkpoints, claims)  # type: ignore[arg-type]
    for hook in ctx.on_stop:
        hook()
    saved = json.loads((tmp_path / "cam.json").read_bytes())
    assert (saved["holder"], saved["state"]["last_frame"]) == (None, 2)


# --- a camera file the disk will not read or write -------------------------------------------


def test_a_camera_file_that_cannot_be_read_holds_the_envelopes_instead_of_starting_fresh(
    tmp_path: Path,
) -> None:
    claims = Claims(Replicas(), CameraFiles(tmp_path, "r1"), Engine(EngineSettings()))
    (tmp_path / "cam.json").mkdir()  # reading it fails (EISDIR)
    with pytest.raises(RetryLater, match=r"cannot read the checkpoint .*cam\.json"):
        claims("cam")
    assert claims.held == set()
    assert "cam" not in claims.engine.states

    (tmp_path / "cam.json").rmdir()
    CameraFiles(tmp_path, "r0").release({"cam": CameraState(last_frame=7)}, ["cam"])
    assert claims("cam") is True
    assert claims.engine.states["cam"].last_frame == 7  # its state, not a fresh one


@NEEDS_ROOT
def test_taking_a_camera_on_a_full_disk_waits_and_runs_every_kept_envelope_later(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "256k") as shared:
        holder = CameraFiles(shared, "old")
        holder.write(holder.snapshot({"cam": CameraState()}, ["cam"]))
        files = CameraFiles(shared, "new")
        claims = Claims(Replicas(), files, Engine(EngineSettings()))
        replayed: list[bytes] = []
        claims.replay = lambda camera, payload: replayed.append(payload) or []
        assert claims.offer("cam", b"one")  # kept
        assert claims.offer("cam", b"two")
        files.write({})  # the checkpoint that their acknowledgements waited for
        holder.release({"cam": CameraState()}, ["cam"])  # the old holder lets go

        filler = fill(shared)
        claims.waiting["cam"].checked = 0  # its file is due to be read again
        with pytest.raises(RetryLater, match="No space left on device"):
            claims.offer("cam", b"three")  # not dead-lettered: tried again
        assert claims.held == set()
        assert list(claims.waiting) == ["cam"]

        filler.unlink()
        assert claims.offer("cam", b"three") is False  # taken: the handler has it now
        assert claims.held == {"cam"}
        assert replayed == [b"one", b"two"]


# --- the single engine's checkpoint ----------------------------------------------------------


def test_a_checkpoint_that_holds_no_checkpoint_is_set_aside_and_the_engine_starts_fresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / "engine-state.json"
    path.write_text("{not json")
    assert Checkpoint(path).load() == {}
    assert not path.exists()
    assert (tmp_path / "engine-state.json.bad").read_text() == "{not json"


def test_an_engine_whose_checkpoint_cannot_be_read_exits_instead_of_starting_fresh(
    tmp_path: Path,
) -> None:
    """Starting fresh would overwrite the checkpoint with the first save: the engine exits
    for its supervisor to try again, naming the file."""
    state = tmp_path / "state"
    (state / service.STATE_FILE).mkdir(parents=True)  # reading it fails (EISDIR)
    env = {
        **os.environ,
        "SIGHTLINE_STATE_DIR": str(state),
        "SIGHTLINE_HEALTH__ENABLED": "0",
        "SIGHTLINE_MQTT__URL": "mqtt://127.0.0.1:9",  # never reached
    }
    done = subprocess.run(
        [sys.executable, "-m", "event_engine"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == EXIT_STATE_DIR, done.stderr
    assert (
        f"sightline-engine: cannot read its checkpoint {state / service.STATE_FILE} "
        "(Is a directory); not starting fresh over it"
    ) in done.stderr
    assert "Traceback" not in done.stderr


# --- a line moved while a checkpoint held the tracks' sides of the old one ------------------

KERB = {"type": "polyline", "name": "kerb", "points": [[0, 400], [1280, 400]], "units": "px"}
MOVED = {**KERB, "points": [[0, 550], [1280, 550]]}
RULES = [rule("crossed", "LINE_CROSS", line="kerb")]


def booted(
    directory: Path, lines: list[dict[str, object]]
) -> tuple[EnvelopeHandler, Reconfigurer, list[str]]:
    """An engine with ``lines``, the checkpoint and the saved changes in ``directory``."""
    checkpoint = Checkpoint(directory / "engine-state.json")
    engine = Engine(settings({"lines": lines, "events": RULES}), checkpoint.load())
    events: list[str] = []

    def publish(topic: str, event: object, retain: bool) -> None:
        assert isinstance(event, Event)
        events.append(f"{event.event_type.value} {event.frame_number}")

    handler = EnvelopeHandler(engine, publish, lambda *a: None)
    handler.checkpoints = CheckpointScheduler(engine, WholeFile(checkpoint))
    saved = SavedChanges(directory / "config")
    reconfigurer = Reconfigurer(engine, saved, lambda *a: None, Topics())
    reconfigurer.restore()
    return handler, reconfigurer, events


def test_a_live_line_change_then_a_crash_before_the_next_save_counts_no_crossing(
    tmp_path: Path,
) -> None:
    handler, reconfigurer, _ = booted(tmp_path, [KERB])
    standing(handler, range(0, 3))  # below the kerb; saved after each envelope
    change = {"device_id": "pi", "config": {"lines": [MOVED], "events": RULES}}
    reconfigurer.on_set(
        str(config_topic(Topics(), "cam", "set")), json.dumps(change).encode(), False
    )
    # a crash here: the checkpoint still holds the side of the kerb where it was
    again, _, events = booted(tmp_path, [KERB])  # the saved change is applied again
    standing(again, range(3, 6))  # the same person, still standing: above the moved kerb
    assert events == []


def test_a_line_moved_in_the_yaml_while_the_engine_was_stopped_counts_no_crossing(
    tmp_path: Path,
) -> None:
    handler, _, _ = booted(tmp_path, [KERB])
    standing(handler, range(0, 3))
    again, _, events = booted(tmp_path, [MOVED])  # edited while stopped
    standing(again, range(3, 6))  # still standing: now above the line
    standing(again, range(6, 12), y=600)  # then walking below it: one crossing, counted
    assert events == ["LINE_CROSS 6"]
