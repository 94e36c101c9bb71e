"""Ids that could leave the storage root are refused, and the cameras served are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from frame_store.admission import CameraGate, checked_name, inside
from sightline.errors import MessageError, TopicError
from sightline.ids import file_safe


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("..", "must start with a letter or a digit"),
        (".", "must start with a letter or a digit"),
        (".hidden", "must start with a letter or a digit"),
        ("-rf", "must start with a letter or a digit"),
        ("../x", "'/'"),
        ("a/../../x", "'/'"),
        ("a b", "white space"),
        ("", "empty"),
        ("x" * 100 + "/", "'/'"),  # a long event id: the same characters are refused
        ("x" * 129, "at most 128"),  # sightline.ids.MAX_EVENT_ID_LENGTH
    ],
)
def test_names_that_are_not_safe_file_names_are_refused_naming_the_field(
    value: str, words: str
) -> None:
    with pytest.raises(MessageError, match=words) as refused:
        checked_name(value, "event_id")
    assert refused.value.reason.startswith("event_id")
    with pytest.raises(TopicError) as shared_rule:  # the one rule, not a copy of it
        file_safe(value, "event_id")
    assert refused.value.reason == str(shared_rule.value)


def test_a_long_event_id_of_safe_characters_is_accepted() -> None:
    long_id = "a-very-long-camera-name-for-the-backyard-line_cross-0123456789abcdef01234567"
    assert len(long_id) > 64
    assert checked_name(long_id, "event_id") == long_id


def test_inside_resolves_before_judging(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "root", "cam", "e.jpg")
    assert not inside(tmp_path / "root", "..", "e.jpg")
    assert not inside(tmp_path / "root", "link", "e.jpg")
    assert not inside(tmp_path / "root", ".")


def test_the_allow_list_refuses_other_cameras() -> None:
    gate = CameraGate(["driveway", "porch"], max_cameras=1)
    assert gate.admit("driveway", "camera_id")
    assert gate.admit("porch", "camera_id")  # the allow-list, not the bound, decides
    with pytest.raises(
        MessageError, match=r"camera_id 'garage' is not one of frame_store\.cameras"
    ):
        gate.admit("garage", "camera_id")


def test_without_an_allow_list_only_the_first_cameras_are_served() -> None:
    gate = CameraGate(None, max_cameras=3)
    admitted = [c for c in (f"cam-{n}" for n in range(3)) if gate.admit(c, "camera_id")]
    for n in range(3, 1000):
        with pytest.raises(MessageError, match="max_cameras=3"):
            gate.admit(f"cam-{n}", "source.camera_id")
    assert admitted == gate.served == ["cam-0", "cam-1", "cam-2"]
    assert not gate.admit("cam-1", "camera_id")  # known: served, not new
