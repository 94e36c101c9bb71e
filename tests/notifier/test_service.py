"""The notifier as a real process: a real Mosquitto, a real SMTP server, SIGKILL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.messages import encode
from tests.notifier.notifier_process import STATUS_TOPIC, NotifierProcess
from tests.notifier.support import (
    SmtpServer,
    announcement_with_image,
    announcement_without_photo,
    event_topic,
    images_of,
    make_event,
    sample_jpeg,
    store_snapshot,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.service_process import status_now
from tests.support.waiting import settle, wait_until


@pytest.fixture
def notifier(broker: Broker, smtp: SmtpServer, tmp_path: Path) -> Iterator[NotifierProcess]:
    process = NotifierProcess(broker, smtp, tmp_path)
    yield process
    process.close()


def test_an_immediate_email_arrives_with_its_snapshot_and_bad_events_are_dead_lettered(
    broker: Broker, collector: Collector, smtp: SmtpServer, notifier: NotifierProcess
) -> None:
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))
    event = make_event(1, immediate=True)
    announcement = store_snapshot(notifier.snapshots_dir, event)

    publish(broker.host, broker.port, event_topic(event), [b'{"version": 7}', encode(event)])
    publish(broker.host, broker.port, "events/driveway/snapshot", [announcement])

    [mail] = smtp.inbox.wait_for(1)
    assert mail["To"] == "home@example.com"
    [image] = images_of(mail)
    assert image.get_content_type() == "image/jpeg"
    html = mail.get_body(("html",))
    assert html is not None
    assert "15:30:01 CET" in str(html.get_content())
    letters = collector.wait_for(lambda ms: any("deadletter" in m.topic for m in ms))
    [letter] = [
        json.loads(m.payload) for m in letters if m.topic == "sightline/deadletter/notifier"
    ]
    assert "version: 7" in letter["reason"]


def test_a_digest_killed_before_it_was_sent_arrives_once_with_every_event_after_a_restart(
    broker: Broker, collector: Collector, smtp: SmtpServer, notifier: NotifierProcess
) -> None:
    events = [make_event(n, digest=["default"]) for n in range(1, 6)]
    # the run's digest period is [origin, origin + 15 s): all five land in it, and it ends
    # long after the kill (starting and feeding take a few seconds)
    origin = int(time.time())
    notifier.digest_periods_from(origin, "15s")
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))
    publish(
        broker.host,
        broker.port,
        "events/driveway/snapshot",
        [store_snapshot(notifier.snapshots_dir, e, index=5 * i) for i, e in enumerate(events)],
    )
    publish(broker.host, broker.port, event_topic(events[0]), [encode(e) for e in events])
    digest_dir = notifier.state_dir / "digests" / "default"
    settle(lambda: len(list(digest_dir.glob("*/*.json"))) >= 5, 10, interval=0.05)

    notifier.kill()
    assert smtp.inbox.messages == []
    assert [p.name for p in digest_dir.iterdir()] == [str(origin)]
    notifier.start()

    [digest] = smtp.inbox.wait_for(1, timeout=30)
    assert digest["X-Sightline-Digest"] == f"default/{origin}"
    assert digest["Subject"] == "Sightline digest default: 5 events"
    assert len(images_of(digest)) == 3
    text = digest.get_body(("plain",))
    assert text is not None
    assert str(text.get_content()).count('driveway: car crossed "gate" (left to right)') == 5
    wait_until(lambda: list(digest_dir.glob("*/digest.sent")), 10, "the digest marked sent")
    notifier.close()
    collector.wait_for(status_now(STATUS_TOPIC, b"offline"))
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))
    # markers: two immediate e-mails, the second published after the first arrived, so a
    # whole tick of the restarted loop (digests included) ran before the second goes out
    for n in (6, 7):
        marker = make_event(n, immediate=True)
        announcement = store_snapshot(notifier.snapshots_dir, marker)
        publish(broker.host, broker.port, "events/driveway/snapshot", [announcement])
        publish(broker.host, broker.port, event_topic(marker), [encode(marker)])
        smtp.inbox.wait_for(n - 4, timeout=30)
    assert [m["X-Sightline-Digest"] is not None for m in smtp.inbox.messages] == [
        True,
        False,
        False,
    ]


def test_the_photo_travels_in_the_announcement_and_a_missing_one_is_said_politely(
    broker: Broker, collector: Collector, smtp: SmtpServer, notifier: NotifierProcess
) -> None:
    # no shared disk: nothing is ever written under notifier.snapshots_dir
    with_photo, without_photo = make_event(1, immediate=True), make_event(2, immediate=True)
    lost_key = f"backyard/{without_photo.event_id}.jpg"
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))

    publish(
        broker.host,
        broker.port,
        "events/driveway/snapshot",
        [
            announcement_with_image(with_photo, 40, f"driveway/{with_photo.event_id}.jpg"),
            announcement_without_photo(without_photo, lost_key),
        ],
    )
    publish(broker.host, broker.port, event_topic(with_photo), [encode(with_photo)] * 2)
    publish(broker.host, broker.port, event_topic(without_photo), [encode(without_photo)])

    mails = {m["X-Sightline-Event-Id"]: m for m in smtp.inbox.wait_for(2)}
    [image] = images_of(mails[with_photo.event_id])
    assert image.get_content_type() == "image/jpeg"
    assert image.get_content() == sample_jpeg(40)
    assert list(notifier.state_dir.glob("photos/*.jpg")) == [
        notifier.state_dir / "photos" / f"{with_photo.event_id}.jpg"
    ]
    polite = mails[without_photo.event_id]
    assert images_of(polite) == []
    raw = polite.as_string()
    assert "No photo was available for this event." in raw
    for internal in (lost_key, "No such file", "could not be read", str(notifier.snapshots_dir)):
        assert internal not in raw
    assert "could not be read" in notifier.log_text()  # the reason went to the log
    metrics = notifier.metrics_text()
    assert 'sightline_notifier_photos_missing_total{reason="unreadable"} 1.0' in metrics
    assert "sightline_notifier_duplicates_total 1.0" in metrics  # the second with_photo
