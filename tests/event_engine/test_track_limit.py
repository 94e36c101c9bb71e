"""A camera keeps at most ``tracking.max_tracks`` tracks: past it, the tracks unseen
longest end at once (zones left as lost), never one of the current frame, so a tracker
that renumbers a crowd every frame cannot grow the camera's state (and each frame and each
checkpoint with it) for track_timeout_s."""

from __future__ import annotations

import logging

import pytest

from event_engine.checkpoint import Checkpoint
from event_engine.engine import Engine
from tests.event_engine.walks import Box, rule, run, settings, summary

ZONE = {"name": "z", "points": [[0, 0], [1280, 0], [1280, 720], [0, 720]], "units": "px"}
RULES = [rule("enter", "ZONE_ENTER"), rule("exit", "ZONE_EXIT")]


def engine(max_tracks: int) -> Engine:
    device = {"zones": [ZONE], "events": RULES, "tracking": {"max_tracks": max_tracks}}
    return Engine(settings(device))


def people(*track_ids: int) -> list[Box]:
    """Standing people; up to 30 ids, each at its own place, over a box diagonal from the
    others (a new id is never taken for another one's switch)."""
    return [Box.at_foot(i, 30 + 200 * (i % 6), 150 + 120 * (i // 6 % 5)) for i in track_ids]


# (case, max_tracks, frames, the events after the first frame's enters (a ZONE_ENTER has no
# reason: "None"), the tracks kept at the end)
CASES = [
    (
        "within the limit: nothing ends early",
        3,
        [people(1, 2), people(1, 2, 3)],
        [("ZONE_ENTER", 3, "None")],
        3,
    ),
    (
        "one over: the track unseen longest ends as lost",
        3,
        [people(1, 2), people(2), people(2, 3), people(3, 4)],
        [("ZONE_ENTER", 3, "None"), ("ZONE_ENTER", 4, "None"), ("ZONE_EXIT", 1, "lost")],
        3,
    ),
    (
        "ties: the lower id ends first",
        2,
        [people(1, 2), people(3)],
        [("ZONE_ENTER", 3, "None"), ("ZONE_EXIT", 1, "lost")],
        2,
    ),
    (
        "a frame with more people than the limit: none of them ends",
        2,
        [people(1), people(2, 3, 4)],
        [
            ("ZONE_ENTER", 2, "None"),
            ("ZONE_ENTER", 3, "None"),
            ("ZONE_ENTER", 4, "None"),
            ("ZONE_EXIT", 1, "lost"),
        ],
        3,
    ),
]


@pytest.mark.parametrize(
    ("max_tracks", "frames", "expected", "kept"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_tracks_unseen_longest_end_past_the_limit(
    max_tracks: int, frames: list[list[Box]], expected: list[tuple[str, int, str]], kept: int
) -> None:
    subject = engine(max_tracks)
    first = run(subject, frames[:1])
    assert {str(event.event_type) for event in first} == {"ZONE_ENTER"}
    assert summary(run(subject, frames[1:], start=1)) == expected
    assert len(subject.states["cam"].tracks) == kept


def test_a_crowd_renumbered_every_frame_keeps_the_state_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """999 people renumbered in each of 30 frames: 29,970 tracks for track_timeout_s
    without the limit; with the default (1,000), the state and its checkpoint stay flat."""
    subject = Engine(settings({"zones": [ZONE], "events": RULES}))
    crowds = [people(*range(1_000 * n + 1, 1_000 * n + 1_000)) for n in range(30)]
    with caplog.at_level(logging.WARNING, logger="event_engine.camera"):
        events = run(subject, crowds)
    state = subject.states["cam"]
    assert len(state.tracks) <= 1_000 + 999
    assert max(state.tracks) == 29_999  # the newest crowd is the one kept
    assert len(Checkpoint.encode_one(state)) < 2_000_000
    lost = [e for e in events if e.zone and e.zone.reason == "lost"]
    assert len(lost) >= 999 * 28  # every crowd but the last ones ended, each said
    said = [r.getMessage() for r in caplog.records if "max_tracks" in r.getMessage()]
    assert len(said) == 1, said
