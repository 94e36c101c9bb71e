"""Bad snapshot announcements and event ids to the notifier alone: one dead letter each,
naming the field, and the next good event still gets its e-mail with its photo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.messages import encode
from tests.notifier.notifier_process import STATUS_TOPIC, NotifierProcess
from tests.notifier.support import (
    SmtpServer,
    announcement_with_image,
    event_topic,
    images_of,
    make_event,
)
from tests.reliability.corpus import BadMessage, notifier_event_cases, snapshot_cases
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.service_process import status_now
from tests.support.waiting import settle

SNAPSHOT_TOPIC = "events/driveway/snapshot"
EVENT_TOPIC = "events/driveway/line_cross"


@pytest.fixture
def notifier(broker: Broker, smtp: SmtpServer, tmp_path: Path) -> Iterator[NotifierProcess]:
    process = NotifierProcess(broker, smtp, tmp_path)
    yield process
    process.close()


def reasons_by_topic(collector: Collector) -> dict[str, list[str]]:
    letters: dict[str, list[str]] = defaultdict(list)
    for message in collector.on("sightline/deadletter/notifier"):
        letter = json.loads(message.payload)
        letters[letter["topic"]].append(letter["reason"])
    return letters


def test_each_bad_announcement_or_event_id_is_one_dead_letter_and_good_mail_still_goes(
    broker: Broker, collector: Collector, smtp: SmtpServer, notifier: NotifierProcess
) -> None:
    cases: dict[str, list[BadMessage]] = {
        SNAPSHOT_TOPIC: snapshot_cases(),
        EVENT_TOPIC: notifier_event_cases(),
    }
    good = make_event(9, immediate=True)
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))

    for topic, bad in cases.items():
        publish(broker.host, broker.port, topic, [case.payload for case in bad])
    publish(broker.host, broker.port, SNAPSHOT_TOPIC, [announcement_with_image(good)])
    publish(broker.host, broker.port, event_topic(good), [encode(good)])

    [mail] = smtp.inbox.wait_for(1)
    total = sum(map(len, cases.values()))
    settle(lambda: sum(map(len, reasons_by_topic(collector).values())) >= total, 10)
    assert mail["X-Sightline-Event-Id"] == good.event_id
    assert len(images_of(mail)) == 1
    letters = reasons_by_topic(collector)
    assert set(letters) == set(cases)
    for topic, bad in cases.items():
        reasons = letters[topic]
        assert len(reasons) == len(bad), (topic, reasons)
        unnamed = [(c.name, r) for c, r in zip(bad, reasons, strict=True) if not c.named_in(r)]
        assert unnamed == [], topic
    assert notifier.process is not None
    assert notifier.process.poll() is None
