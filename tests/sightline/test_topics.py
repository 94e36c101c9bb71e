"""Topics: every topic of DESIGN.md, built and parsed, with a prefix; bad ids refused."""

from __future__ import annotations

import pytest

from sightline.errors import TopicError
from sightline.ids import validate_id
from sightline.topics import Topic, Topics


@pytest.mark.parametrize(
    ("prefix", "build", "expected"),
    [
        ("", lambda t: t.detections("driveway"), "detections/driveway"),
        ("", lambda t: t.frames("driveway"), "detections/driveway/frame"),
        ("", lambda t: t.event("driveway", "ZONE_ENTER"), "events/driveway/zone_enter"),
        ("", lambda t: t.snapshot("driveway"), "events/driveway/snapshot"),
        ("", lambda t: t.status("notifier", "box-1"), "sightline/notifier/box-1/status"),
        ("", lambda t: t.deadletter("frame-store"), "sightline/deadletter/frame-store"),
        ("", lambda t: t.latest_snapshot("driveway"), "sightline/driveway/snapshot/latest"),
        (
            "",
            lambda t: t.discovery("binary_sensor", "sl_driveway", "garden"),
            "homeassistant/binary_sensor/sl_driveway/garden/config",
        ),
        ("site-a", lambda t: t.detections("driveway"), "site-a/detections/driveway"),
        ("site-a", lambda t: t.event("d", "LINE_CROSS"), "site-a/events/d/line_cross"),
        ("a/b", lambda t: t.status("notifier", "x"), "a/b/sightline/notifier/x/status"),
        ("site-a", lambda t: t.discovery("sensor", "n", "o"), "homeassistant/sensor/n/o/config"),
    ],
)
def test_topics_are_built_as_design_md_names_them(prefix: str, build, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert str(build(Topics(prefix=prefix))) == expected


@pytest.mark.parametrize("prefix", ["", "site-a"])
def test_topics_parse_back_to_their_ids(prefix: str) -> None:
    topics = Topics(prefix=prefix)

    assert topics.parse_detections(str(topics.detections("cam-1"))) == "cam-1"
    assert topics.parse_frames(str(topics.frames("cam-1"))) == "cam-1"
    assert topics.parse_event(str(topics.event("cam-1", "ZONE_EXIT"))) == ("cam-1", "zone_exit")
    assert topics.parse_event(str(topics.snapshot("cam-1"))) == ("cam-1", "snapshot")


@pytest.mark.parametrize(
    "topic", ["events/x/line_cross", "detections/a/b", "detections", "other/detections/x"]
)
def test_a_topic_of_another_kind_is_not_parsed_as_detections(topic: str) -> None:
    with pytest.raises(TopicError, match="is not a detections"):
        Topics().parse_detections(topic)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must not be empty"),
        ("x" * 65, "at most 64"),
        ("a+b", "must not contain '\\+'"),
        ("a#", "must not contain '#'"),
        ("a/b", "must not contain '/'"),
        ("a b", "white space or control"),
        ("a\x00b", "white space or control"),
        ("tab\there", "white space or control"),
        (".", "must start with a letter or a digit"),
        ("..", "must start with a letter or a digit"),
        (".hidden", "must start with a letter or a digit"),
        ("-rf", "must start with a letter or a digit"),
        ("_private", "must start with a letter or a digit"),
        ("Garten.Süd", "must not contain 'ü': only ASCII letters"),
        ("a\\b", "must not contain '\\\\\\\\'"),
        ("a:b", "must not contain ':'"),
        ("a*b", "must not contain '\\*'"),
    ],
)
def test_ids_that_would_break_a_topic_are_refused(value: str, problem: str) -> None:
    with pytest.raises(TopicError, match=problem):
        validate_id(value, "camera_id")


@pytest.mark.parametrize(
    "value", ["driveway", "jetson-01", "cam_2", "Garten.Sued", "front.door", "a..b", "x" * 64]
)
def test_reasonable_ids_are_accepted(value: str) -> None:
    assert validate_id(value, "camera_id") == value


@pytest.mark.parametrize("value", ["", "a/+/b", "a/#", "a\x00"])
def test_a_topic_value_is_self_validating(value: str) -> None:
    with pytest.raises(TopicError):
        Topic(value)


@pytest.mark.parametrize(
    ("topic", "topic_filter", "matches"),
    [
        ("events/d/line_cross", "events/#", True),
        ("events/d/snapshot", "events/+/snapshot", True),
        ("detections/d/frame", "detections/+", False),
        ("detections/d", "detections/+", True),
        ("detections/d", "detections/+/frame", False),
    ],
)
def test_topic_filters_match_as_mqtt_does(topic: str, topic_filter: str, matches: bool) -> None:
    assert Topic(topic).matches(topic_filter) is matches


@pytest.mark.parametrize("prefix", ["/lead", "trail/", "wild/+"])
def test_a_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(TopicError):
        Topics(prefix=prefix)
