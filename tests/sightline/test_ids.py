"""The one id rule's helpers: file names, reserved camera ids, Home Assistant collisions."""

from __future__ import annotations

import pytest

from sightline.errors import TopicError
from sightline.ids import (
    RESERVED_CAMERA_IDS,
    file_safe,
    refuse_slug_collisions,
    slug,
    validate_camera_id,
    validate_id,
)
from sightline.messages import EventType, make_event_id


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_id_the_engine_makes_can_name_a_file_even_for_the_longest_camera_id(
    event_type: EventType,
) -> None:
    event_id = make_event_id("c" * 64, event_type, "rule", 2**62, "left_to_right")

    assert file_safe(event_id, "event_id") == event_id


@pytest.mark.parametrize("name", ["sent", "digest", "pending"])
def test_a_plain_word_is_a_valid_event_id_so_services_name_their_own_files_with_a_dot(
    name: str,
) -> None:
    # a service's own marker must not be spelled like an id: ".sent" can never be one
    assert file_safe(name, "event_id") == name
    with pytest.raises(TopicError, match="must start with a letter or a digit"):
        file_safe(f".{name}", "event_id")


@pytest.mark.parametrize("camera", [*sorted(RESERVED_CAMERA_IDS), "Engine", "OPS"])
def test_a_service_user_name_is_no_camera_id_in_any_case(camera: str) -> None:
    with pytest.raises(TopicError, match=f"camera_id '{camera}' is reserved"):
        validate_camera_id(camera)


def test_a_camera_id_near_a_service_name_is_fine() -> None:
    assert validate_camera_id("engine-room") == "engine-room"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ["Back Yard", "porch", "back-yard"],
            "devices.cam.zones: 'Back Yard' and 'back-yard' would be the same Home Assistant "
            "id 'back_yard'; rename one",
        ),
        (
            ["front-door", "front.door"],
            "devices.cam.zones: 'front-door' and 'front.door' would be the same Home Assistant "
            "id 'front_door'; rename one",
        ),
        (["--"], "devices.cam.zones: '--' has no letter or digit to make a Home Assistant id of"),
    ],
)
def test_names_that_would_be_one_home_assistant_entity_are_refused_naming_both_and_the_key(
    names: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^devices\.cam\.zones: ") as caught:
        refuse_slug_collisions(names, "devices.cam.zones")

    assert str(caught.value) == message


def test_distinct_slugs_pass_and_a_repeated_name_is_left_to_the_duplicate_check() -> None:
    refuse_slug_collisions(["gate", "Gate 2", "gate"], "lines")

    assert slug("Gate 2") == "gate_2"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("driveway", None),
        ("9", None),
        ("a.b-c_d", None),
        ("", "must not be empty"),
        ("x" * 65, "is 65 characters; at most 64"),
        ("..", "must start with a letter or a digit"),
        ("_x", "must start with a letter or a digit"),
        ("-rf", "must start with a letter or a digit"),
        ("a/b", "must not contain '/'"),
        ("a+b", "must not contain '+'"),
        ("a#", "must not contain '#'"),
        ("a b", "must not contain white space or control characters"),
        ("a\nb", "must not contain white space or control characters"),
        ("a\x00", "must not contain white space or control characters"),
        ("cam\n", "must not contain white space or control characters"),
        ("Süd", "must not contain 'ü': only ASCII letters, digits, '-', '_' and '.'"),
        ("a:b", "must not contain ':': only ASCII letters, digits, '-', '_' and '.'"),
        (".a/b", "must not contain '/'"),
    ],
)
def test_the_id_rule_names_the_first_problem_of_each_value(value: str, problem: str | None) -> None:
    if problem is None:
        assert validate_id(value, "camera_id") == value
        return
    with pytest.raises(TopicError) as refused:
        validate_id(value, "camera_id")
    assert str(refused.value).endswith(problem)
