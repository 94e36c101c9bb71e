"""Messages the contract says are never guessed at: refused by name, by every service alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline.errors import MessageError
from sightline.messages import MessageLimits, decode_envelope, encode
from tests.notifier.support import make_event
from tests.reliability.corpus import BadMessage, lenient_envelope_cases, oversized
from tests.reliability.suite import make_frame_store
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import settle


@pytest.mark.parametrize("case", lenient_envelope_cases(), ids=lambda case: case.name)
def test_an_envelope_without_version_or_with_a_numeric_timestamp_is_refused_by_name(
    case: BadMessage,
) -> None:
    with pytest.raises(MessageError) as refused:
        decode_envelope(case.payload, MessageLimits())
    assert case.named_in(str(refused.value))


def test_the_frame_store_refuses_a_10_mb_event_like_the_other_services(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    frame_store = make_frame_store(broker, tmp_path)
    try:
        frame_store.start_online(collector)
        payload = oversized(encode(make_event(3)), 10_000_000)
        publish(broker.host, broker.port, "events/driveway/line_cross", [payload])
        letters = settle(lambda: bool(collector.on("sightline/deadletter/frame-store")), 5)
    finally:
        frame_store.close()
    assert letters
