"""Frame order per camera: redeliveries ignored, a restarted edge starts fresh, gaps counted."""

from __future__ import annotations

import pytest

from event_engine.engine import Engine, UnknownDeviceError
from event_engine.tracks import FrameOrder
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from tests.event_engine.walks import Box, envelope, rule, run, settings, summary, walk

LINE = {"type": "vertical", "position_pct": 50, "name": "mid"}
ZONE = {"name": "z", "points": [[400, 300], [800, 300], [800, 600], [400, 600]], "units": "px"}
RULES = [rule("cross", "LINE_CROSS"), rule("enter", "ZONE_ENTER"), rule("exit", "ZONE_EXIT")]


def make_engine() -> Engine:
    return Engine(settings({"lines": [LINE], "zones": [ZONE], "events": RULES}))


def test_a_redelivered_frame_changes_nothing() -> None:
    engine = make_engine()
    run(engine, walk(1, [(600, 500)]))
    crossing = envelope(1, [Box.at_foot(1, 680, 500)])
    first = engine.process(crossing)
    again = engine.process(crossing)
    assert summary(first.events) == [("LINE_CROSS", 1, "left_to_right")]
    assert again.order is FrameOrder.DUPLICATE
    assert again.events == []


def test_an_older_frame_with_an_older_timestamp_is_ignored() -> None:
    engine = make_engine()
    run(engine, walk(1, [(600, 500), (610, 500), (620, 500)]))
    assert engine.process(envelope(1, [Box.at_foot(1, 700, 500)])).order is FrameOrder.DUPLICATE


def test_a_restarted_edge_starts_its_tracks_fresh() -> None:
    engine = make_engine()
    before = run(engine, walk(7, [(600, 500), (610, 500)]), start=100)
    # The edge restarts: frame 0 again, but later in time; track 7 is someone else now.
    restarted = engine.process(envelope(0, [Box.at_foot(7, 700, 500)], seconds=60.0))
    assert summary(before) == [("ZONE_ENTER", 7, "None")]
    assert restarted.order is FrameOrder.RESTART
    assert summary(restarted.events) == [("ZONE_EXIT", 7, "lost"), ("ZONE_ENTER", 7, "None")]
    assert engine.gaps.missing["cam"] == 0


def test_missing_frames_are_counted_as_gaps() -> None:
    engine = make_engine()
    for number in (0, 1, 5, 6):
        engine.process(envelope(number, []))
    assert engine.gaps.missing["cam"] == 3


def test_an_unknown_device_is_refused_unless_a_default_device_is_configured() -> None:
    engine = make_engine()
    with pytest.raises(UnknownDeviceError, match="stranger"):
        engine.process(envelope(0, [], device="stranger"))
    fallback = Engine(settings({}, default_device={"lines": [LINE], "events": RULES}))
    events = run(fallback, walk(1, [(600, 500), (680, 500)]), device="stranger", camera="yard")
    assert [(e.device_id, e.camera_id) for e in events] == [("stranger", "yard")]


def test_each_camera_has_its_own_tracks() -> None:
    engine = Engine(settings({}, default_device={"lines": [LINE], "events": RULES}))
    events = []
    for number, x in enumerate((600, 680)):
        events += engine.process(
            envelope(number, [Box.at_foot(1, x, 500)], camera="a", device="x")
        ).events
        events += engine.process(
            envelope(number, [Box.at_foot(1, 1280 - x, 500)], camera="b", device="y")
        ).events
    assert sorted((e.camera_id, str(e.line.direction if e.line else "")) for e in events) == [
        ("a", "left_to_right"),
        ("b", "right_to_left"),
    ]


def test_a_configured_camera_takes_no_envelope_of_another_device() -> None:
    """The camera is configured (device pi, a line at 50%); an envelope on its topic
    claiming an unconfigured device would be taken by default_device (a line at 20%) into
    the same camera state, and cross that line with pi's tracks. Refused, naming the field;
    pi's next envelope is handled as if it never came."""
    engine = Engine(
        settings(
            {"lines": [LINE], "events": RULES},
            default_device={
                "lines": [{"type": "vertical", "position_pct": 20, "name": "mid"}],
                "events": RULES,
            },
        )
    )
    assert run(engine, walk(1, [(600, 500)]), camera="cam") == []
    rogue = envelope(1, [Box.at_foot(1, 200, 500)], device="rogue", camera="cam")
    with pytest.raises(MessageError, match=r"source.device_id: 'rogue' is not the device of"):
        engine.process(rogue, "cam")
    with pytest.raises(MessageError, match=r"camera 'cam' \(devices.pi\)"):
        engine.process(rogue)  # replayed: no topic, the same rule
    crossing = engine.process(envelope(2, [Box.at_foot(1, 700, 500)]), "cam")
    assert summary(crossing.events) == [("LINE_CROSS", 1, "left_to_right")]
    assert engine.states["cam"].device_id == "pi"
    # A camera no device is configured for still goes to default_device.
    assert engine.process(envelope(0, [], device="rogue", camera="yard"), "yard").events == []


def test_a_device_configured_later_owns_its_camera_from_then_on() -> None:
    engine = Engine(settings({}, default_device={"lines": [LINE], "events": RULES}))
    engine.process(envelope(0, [], device="rogue", camera="gate"), "gate")
    engine.replace_device("gate-pi", DeviceConfig.model_validate({"camera_id": "gate"}))
    with pytest.raises(MessageError, match=r"devices\.gate-pi"):
        engine.process(envelope(1, [], device="rogue", camera="gate"), "gate")
    engine.process(envelope(2, [], device="gate-pi", camera="gate"), "gate")
    engine.replace_device("gate-pi", None)  # removed again: default_device takes it
    engine.process(envelope(3, [], device="rogue", camera="gate"), "gate")


@pytest.mark.parametrize(
    ("back_s", "seen", "expected"),
    [
        (3600.0, range(5), [("ZONE_EXIT", 1, "lost")]),  # set right after an hour ahead
        (3600.0, range(150), []),  # ... the person still in view: the track goes on
        (3600.0, [*range(5), *range(6, 150)], []),  # ... missed on the step frame only
        (1.0, range(5), []),  # an NTP step within track_timeout_s (5 s): nothing yet
    ],
    ids=[
        "an hour back, the person gone: the track ends after track_timeout_s",
        "an hour back, the person still there: the track goes on",
        "an hour back, missed on that frame only: the track goes on",
        "a second back: the track goes on",
    ],
)
def test_a_clock_that_falls_back_within_a_run(
    back_s: float, seen: list[int], expected: list[tuple[str, int, str]]
) -> None:
    """Frames 0-4 stamped an hour ahead (the edge's clock ran ahead), frame 5 on stamped
    right, for 6 s (past track_timeout_s, 5 s): a track whose times stayed ahead of every
    frame to come would never end nor leave its zone until message time caught up an
    hour later."""
    engine = make_engine()
    ahead = 3600.0
    for number in range(5):
        engine.process(envelope(number, [Box.at_foot(1, 600, 500)], seconds=ahead + number * 0.04))
    after = []
    for number in range(5, 150):
        boxes = [Box.at_foot(1, 600, 500)] if number in seen else []
        moment = ahead - back_s + number * 0.04
        after += engine.process(envelope(number, boxes, seconds=moment)).events
    assert summary(after) == expected


def test_a_track_in_view_when_the_clock_falls_back_keeps_its_dwell_and_cool_downs() -> None:
    """The person stands in the zone throughout; the edge's clock was an hour ahead for
    frames 0-4. Their entry time and cool-downs move back with the clock, so the dwell
    fires when it does with a clock that was always right, not an hour later."""
    frames = list(range(60))
    (right, _), (ahead, _) = dwelling(frames, 0.0, 5), dwelling(frames, 3600.0, 5)
    assert (
        [kind for kind, _ in right] == [kind for kind, _ in ahead] == ["ZONE_ENTER", "ZONE_DWELL"]
    )
    # The time between frames 4 and 5 is unknown across the step (taken as 0): one frame.
    assert 0 <= ahead[1][1] - right[1][1] <= 1


def dwelling(
    frames: list[int], ahead_s: float, right_from: int, run_id: str | None = None
) -> tuple[list[tuple[str, int]], list[FrameOrder]]:
    """A person standing in a 1 s dwell zone, the edge's clock ``ahead_s`` ahead before
    frame ``right_from``, frames processed in the order of ``frames``: the events (type,
    frame) and each frame's order."""
    zone = {**ZONE, "dwell_s": 1.0}
    rules = [rule("enter", "ZONE_ENTER"), rule("exit", "ZONE_EXIT"), rule("stay", "ZONE_DWELL")]
    engine = Engine(settings({"zones": [zone], "events": rules}))
    found, orders = [], []
    for number in frames:
        moment = number * 0.04 + (ahead_s if number < right_from else 0.0)
        sent = envelope(number, [Box.at_foot(1, 600, 500)], seconds=moment)
        source = sent.source.model_copy(update={"run_id": run_id})
        outcome = engine.process(sent.model_copy(update={"source": source}))
        orders.append(outcome.order)
        found += [(str(e.event_type), e.frame_number) for e in outcome.events]
    return found, orders


@pytest.mark.parametrize("run_id", [None, "run-1"], ids=["a derived run", "an explicit run_id"])
@pytest.mark.parametrize(
    ("ahead_s", "lag"),
    [(3600.0, 2), (1.0, 27)],
    ids=["an hour ahead: the times move back", "a second ahead: within track_timeout_s"],
)
def test_a_late_frame_of_the_clock_before_it_was_set_right_is_dropped(
    run_id: str | None, ahead_s: float, lag: int
) -> None:
    """Frames 0-4 stamped ahead, frame 6 the first stamped right; frame 5, captured before
    the step and so stamped ahead too, arrives after frame 6. It is dropped: taken for a
    new run it ended the person's visit and began it again (exit and enter), then again
    with frame 7. The person stands in the zone throughout: one enter, and one dwell. An
    hour's step moves the times back, so the dwell fires where it does with a clock that
    was always right, to within the two frames across the step (their time is unknown,
    taken as 0); a step within track_timeout_s moves nothing, so the dwell comes that much
    later (a second: 25 frames)."""
    frames = [*range(5), 6, 5, *range(7, 60)]
    (right, _), (ahead, orders) = (
        dwelling(frames, 0.0, 6, run_id),
        dwelling(frames, ahead_s, 6, run_id),
    )
    assert [kind for kind, _ in ahead] == ["ZONE_ENTER", "ZONE_DWELL"], ahead
    assert orders[6] is FrameOrder.DUPLICATE  # frame 5, late
    assert FrameOrder.RESTART not in orders
    assert 0 <= ahead[1][1] - right[1][1] <= lag
