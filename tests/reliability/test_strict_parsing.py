"""Messages the contract says are never guessed at: refused by name, by every service alike.
And what is not bad input: an event from a newer engine, with keys this release does not
know, is handled whole by every consumer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sightline.errors import MessageError
from sightline.messages import MessageLimits, decode_envelope, encode
from tests.notifier.support import SmtpServer, make_event
from tests.reliability.corpus import (
    AcceptedMessage,
    BadMessage,
    accepted_event_cases,
    lenient_envelope_cases,
    oversized,
)
from tests.reliability.running import RunningSuite, Service
from tests.reliability.suite import json_log_ids, make_frame_store
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import settle, wait_until


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


@pytest.mark.parametrize("case", accepted_event_cases(), ids=lambda case: case.name)
def test_an_event_from_a_newer_engine_is_handled_whole_by_every_consumer(
    case: AcceptedMessage,
    broker: Broker,
    collector: Collector,
    smtp: SmtpServer,
    suite: RunningSuite,
    tmp_path: Path,
) -> None:
    suite.start(Service.NOTIFIER, Service.FRAME_STORE)
    publish(broker.host, broker.port, "events/driveway/line_cross", [case.payload])

    wait_until(lambda: case.event_id in json_log_ids(tmp_path), 20, "the event in the JSON log")
    [mail] = smtp.inbox.wait_for(1)
    wait_until(
        lambda: any(
            json.loads(m.payload)["event_id"] == case.event_id
            for m in collector.on("events/driveway/snapshot")
        ),
        20,
        "the frame-store's announcement",
    )

    assert collector.on("sightline/deadletter/") == []
    [line] = [
        json.loads(text)
        for path in (tmp_path / "notifier" / "log").glob("*.jsonl")
        for text in path.read_text().splitlines()
    ]
    assert line == json.loads(case.payload)  # the unknown keys kept, as sent
    assert mail["To"] == "home@example.com"
