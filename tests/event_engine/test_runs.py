"""Event identity across edge runs: a new run never reuses an old event id, a redelivery does.

A restarted edge numbers frames from 0 and tracks from 1 again. Its crossings must get new
event ids (or every consumer drops them as already handled), while the same envelope
delivered twice (QoS 1) must give the same ids.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.saving import CheckpointScheduler, WholeFile
from event_engine.tracks import FrameOrder
from sightline.messages import DetectionEnvelope, Event, encode
from tests.event_engine.walks import envelope, rule, settings, walk

LINE = {"type": "vertical", "position_pct": 50, "name": "mid"}
ZONE = {"name": "z", "points": [[700, 300], [1000, 300], [1000, 600], [700, 600]], "units": "px"}
CONFIG = settings(
    {
        "lines": [LINE],
        "zones": [ZONE],
        "events": [rule("cross", "LINE_CROSS"), rule("enter", "ZONE_ENTER")],
        "track_timeout_s": 0.5,
    }
)
# Two people, one after the other, cross the line at x=640 and enter the zone.
PATH = [(560.0 + 20 * step, 500.0) for step in range(15)]


def recording(run_id: str | None = None, shift_s: float = 0.0) -> list[DetectionEnvelope]:
    """The same 40 frames an edge records: tracks 1 and 2, frames from 0."""
    frames = walk(1, PATH) + [[] for _ in range(5)] + walk(2, PATH) + [[] for _ in range(5)]
    envelopes = []
    for number, boxes in enumerate(frames):
        env = envelope(number, boxes, seconds=number * 0.04 + shift_s)
        envelopes.append(env.model_copy(update={"source": _with_run(env, run_id)}))
    return envelopes


def _with_run(env: DetectionEnvelope, run_id: str | None) -> object:
    return env.source.model_copy(update={"run_id": run_id})


class Sink:
    """An in-process engine with a checkpoint; the events it publishes."""

    def __init__(self, path: Path) -> None:
        self.events: list[Event] = []
        self.checkpoint = Checkpoint(path)
        engine = Engine(CONFIG, self.checkpoint.load())
        self.handler = EnvelopeHandler(
            engine, lambda topic, payload, retain: self._take(payload), lambda *args: None
        )
        # saved when a test says so (and once at the first frame)
        self.handler.checkpoints = CheckpointScheduler(engine, WholeFile(self.checkpoint), 3600)

    def _take(self, payload: object) -> None:
        if isinstance(payload, Event):
            self.events.append(payload)

    def feed(self, envelopes: list[DetectionEnvelope]) -> list[str]:
        """Handle each envelope; the ids of the events they gave."""
        before = len(self.events)
        for env in envelopes:
            self.handler.handle("detections/cam", encode(env))
        return [e.event_id for e in self.events[before:]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (recording("run-1"), recording("run-2")),  # our edge, restarted: a new run_id
        (recording(), recording(shift_s=60.0)),  # a seed-format edge, restarted a minute later
        (recording(), recording(shift_s=-3600.0)),  # one whose clock fell back an hour
    ],
    ids=["run_id", "no run_id, later", "no run_id, clock behind"],
)
def test_a_second_run_of_the_same_recording_gets_new_event_ids(
    tmp_path: Path,
    first: list[DetectionEnvelope],
    second: list[DetectionEnvelope],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink(tmp_path / "state.json")
    ids_first = sink.feed(first)
    with caplog.at_level(logging.INFO, logger="event_engine.camera"):
        ids_second = sink.feed(second)
    assert len(ids_first) == len(ids_second) == 4  # two crossings, two entries per run
    assert len(set(ids_first) | set(ids_second)) == 8, "an event id reused across runs"
    restarts = [r for r in caplog.records if "restarted" in r.getMessage()]
    assert len(restarts) == 1
    behind = second[0].source.timestamp < first[-1].source.timestamp
    assert (restarts[0].levelno == logging.WARNING) == behind
    assert ("clock is behind" in restarts[0].getMessage()) == behind


@pytest.mark.parametrize("run_id", ["run-1", None])
def test_an_envelope_redelivered_after_a_crash_gets_the_same_event_ids(
    tmp_path: Path, run_id: str | None
) -> None:
    envelopes = recording(run_id)
    first = Sink(tmp_path / "state.json")
    first.feed(envelopes[:3])
    first.handler.flush()  # the checkpoint holds frames 0..2; the engine dies after frame 30
    ids = first.feed(envelopes[3:30])
    again = Sink(tmp_path / "state.json")  # restarted: the broker redelivers 3..29
    assert again.feed(envelopes[3:30]) == ids
    assert len(ids) == 4
    # And once more, now that the state holds them: QoS 1 duplicates change nothing.
    assert again.feed(envelopes[3:30]) == []


def test_duplicates_of_an_ended_run_are_recognised_after_the_restart(tmp_path: Path) -> None:
    sink = Sink(tmp_path / "state.json")
    old, new = recording(), recording(shift_s=60.0)
    sink.feed(old)
    sink.feed(new[:3])
    late = sink.handler.engine.process(old[20])  # a stray redelivery of the old run
    assert late.order is FrameOrder.DUPLICATE
    assert sink.feed(new[3:]) != []  # the new run goes on undisturbed


def test_a_clock_stepped_back_within_a_run_is_said_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink(tmp_path / "state.json")
    envelopes = recording()
    stepped = [
        env.model_copy(
            update={
                "source": env.source.model_copy(
                    update={"timestamp": env.source.timestamp - timedelta(seconds=30)}
                )
            }
        )
        for env in envelopes[20:]
    ]
    ids = sink.feed(envelopes[:20])
    with caplog.at_level(logging.WARNING, logger="event_engine.camera"):
        ids += sink.feed(stepped)
    assert any("went backwards" in r.getMessage() for r in caplog.records)
    assert len(set(ids)) == 4
    assert sink.handler.engine.process(stepped[3]).order is FrameOrder.DUPLICATE
