"""Any byte string is either parsed or refused with a typed error, never anything else; any
text the id rule accepts is safe as a topic level, a file name and an S3 key segment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightline.errors import MessageError, TopicError
from sightline.ids import MAX_EVENT_ID_LENGTH, file_safe, is_valid_id
from sightline.messages import MessageLimits, decode_envelope, decode_event, decode_snapshot
from tests.sightline.test_messages import EVENT, SEED_ENVELOPE

DECODERS = (decode_envelope, decode_event, decode_snapshot)
LIMITS = MessageLimits(max_payload_bytes=64_000, max_detections=50)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


def _parsed_or_refused(payload: bytes) -> None:
    for decode in DECODERS:
        reason = "parsed"
        try:
            decode(payload, LIMITS)
        except MessageError as exc:
            reason = exc.reason
        assert reason, "a refusal must say why"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_parsed_or_refused(payload: bytes) -> None:
    _parsed_or_refused(payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_is_parsed_or_refused(value: Any) -> None:
    _parsed_or_refused(json.dumps(value).encode())


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with one top-level or nested field replaced by any JSON value."""
    keys = st.sampled_from(sorted(base))

    @st.composite
    def mutate(draw: st.DrawFn) -> dict[str, Any]:
        data = json.loads(json.dumps(base))
        key = draw(keys)
        if isinstance(data[key], dict) and data[key] and draw(st.booleans()):
            inner = draw(st.sampled_from(sorted(data[key])))
            data[key][inner] = draw(json_values)
        else:
            data[key] = draw(json_values)
        return data

    return mutate()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(SEED_ENVELOPE) | _mutations(EVENT))
def test_valid_messages_with_one_field_broken_are_parsed_or_refused(data: dict[str, Any]) -> None:
    _parsed_or_refused(json.dumps(data, allow_nan=True).encode())


ids_and_near_misses = st.text(
    alphabet=st.sampled_from("aZ09-_./\\+#: \x00~*?ü%@") | st.characters(), max_size=12
) | st.sampled_from([".", "..", "./a", "a/..", "-", "_", ".a", "a.", "a..b"])


@settings(max_examples=500)
@given(ids_and_near_misses)
def test_an_accepted_id_is_one_topic_level_one_file_name_and_one_s3_key_segment(
    value: str,
) -> None:
    if not is_valid_id(value, max_length=MAX_EVENT_ID_LENGTH):
        with pytest.raises(TopicError, match=r"^event_id .* cannot name a file: "):
            file_safe(value, "event_id")
        return
    root = Path("/srv/frames")
    assert file_safe(value, "event_id") == value
    assert value.isascii()
    assert value.isprintable()
    assert (root / value).resolve().parent == root  # stays in its folder
    assert os.path.basename(value) == value
    assert not value.startswith((".", "-", "_"))
    assert not set(value) & set("/+#\\ :*?%@")  # no topic, path, shell or URL meaning
    assert [value] == f"detections/{value}".split("/")[1:]
