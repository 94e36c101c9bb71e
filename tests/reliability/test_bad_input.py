"""Bad input to every service in one run, interleaved with the good stream.

Each bad message gives exactly one dead letter per service that consumes its topic, with a
reason naming the problem; every service stays up, handles the good stream, and its memory
stays bounded.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.reliability.corpus import BadMessage, envelope_cases, event_cases, frame_cases
from tests.reliability.running import RunningSuite, Service
from tests.reliability.stream import Message, Stream
from tests.reliability.suite import Publisher, frame_messages
from tests.support.broker import Broker
from tests.support.mqtt import Collector
from tests.support.waiting import settle

PEAK_RSS_LIMIT_KB = 700 * 1024
"""Far above what a service needs (~100-250 MB), far below what keeping bad payloads costs."""

TOPICS: dict[str, tuple[list[BadMessage], tuple[Service, ...]]] = {
    "detections/cam-a": (envelope_cases(), (Service.ENGINE,)),
    "detections/cam-a/frame": (frame_cases(), (Service.FRAME_STORE,)),
    "events/driveway/line_cross": (event_cases(), (Service.NOTIFIER, Service.FRAME_STORE)),
}


def interleaved(good: list[Message]) -> list[Message]:
    """``good`` with one bad message after every few good ones."""
    bad = [Message(topic, c.payload) for topic, (cases, _) in TOPICS.items() for c in cases]
    step = max(1, len(good) // len(bad))
    mixed: list[Message] = []
    for index, message in enumerate(good):
        mixed.append(message)
        if index % step == 0 and bad:
            mixed.append(bad.pop(0))
    return mixed + bad


def dead_letters(collector: Collector) -> dict[tuple[str, str], list[str]]:
    """Reasons per ``(service, topic of the refused message)``, in arrival order."""
    letters: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in collector.on("sightline/deadletter/"):
        letter = json.loads(message.payload)
        letters[(letter["service"], letter["topic"])].append(letter["reason"])
    return letters


def peak_rss_kb(pid: int) -> int:
    """``VmHWM`` of a live process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def test_every_bad_message_is_dead_lettered_once_per_consumer_and_the_good_stream_still_works(
    broker: Broker,
    collector: Collector,
    stream: Stream,
    reference: list[dict[str, Any]],
    suite: RunningSuite,
) -> None:
    expected = {
        (service.value, topic): cases
        for topic, (cases, services) in TOPICS.items()
        for service in services
    }
    publisher = Publisher(broker)
    try:
        suite.start()
        publisher.send(interleaved(frame_messages(stream.messages) + list(stream.messages)))
        suite.wait_done(reference)
        settle(  # the assertions below say what is missing
            lambda: all(
                len(dead_letters(collector)[key]) >= len(cases) for key, cases in expected.items()
            ),
            20,
        )
        processes = [suite.engine.process, suite.notifier.process, suite.frame_store.process]
        assert all(p is not None and p.poll() is None for p in processes)
        peaks = {p.pid: peak_rss_kb(p.pid) for p in processes if p is not None}
    finally:
        publisher.close()
        suite.close()

    letters = dead_letters(collector)
    assert set(letters) == set(expected)
    for key, cases in expected.items():
        reasons = letters[key]
        assert len(reasons) == len(cases), (key, reasons)
        unnamed = [(c.name, r) for c, r in zip(cases, reasons, strict=True) if not c.named_in(r)]
        assert unnamed == [], key
    assert max(peaks.values()) < PEAK_RSS_LIMIT_KB, peaks
    assert len(list(itertools.chain(*expected.values()))) >= 30
