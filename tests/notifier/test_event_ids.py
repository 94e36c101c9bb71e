"""The notifier names state files after event ids by the one shared rule (sightline.ids)."""

from __future__ import annotations

import pytest

from notifier.handler import check_event_id
from sightline.errors import MessageError, TopicError
from sightline.ids import file_safe


@pytest.mark.parametrize(
    "event_id",
    ["..", ".", ".sent", "-rf", "x/../../y", "a b", "", "a" * 129, "a" * 100 + "/"],
)
def test_an_event_id_that_cannot_name_a_file_is_refused_naming_event_id(event_id: str) -> None:
    with pytest.raises(MessageError) as refused:
        check_event_id(event_id)
    with pytest.raises(TopicError) as shared_rule:
        file_safe(event_id, "event_id")
    assert refused.value.reason == str(shared_rule.value)
    assert refused.value.reason.startswith("event_id ")


def test_a_long_event_id_of_safe_characters_is_accepted() -> None:
    long_id = "a-very-long-camera-name-for-the-backyard-line_cross-0123456789abcdef01234567"
    assert len(long_id) > 64
    assert check_event_id(long_id) == long_id
    assert check_event_id("a" * 128) == "a" * 128
