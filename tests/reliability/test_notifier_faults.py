"""Faults 3 and 4: the notifier killed before a digest went out; the mail server down."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from sightline.messages import encode
from tests.notifier.support import SmtpServer, announcement_with_image, event_topic, make_event
from tests.reliability.running import RunningSuite, Service
from tests.reliability.stream import Stream
from tests.reliability.suite import Publisher, json_log_ids
from tests.support.broker import Broker
from tests.support.mqtt import publish
from tests.support.waiting import wait_until

DIGEST_S = 20
"""The digest period: several times what starting and feeding take on a loaded machine."""
_COUNT = re.compile(r"digest default: (\d+) events?")


def digests(smtp: SmtpServer) -> Counter[str]:
    """Events per digest e-mail, keyed by the digest's ``name/period``; repeats add up."""
    counts: Counter[str] = Counter()
    for mail in list(smtp.inbox.messages):
        if mail["X-Sightline-Digest"]:
            match = _COUNT.search(str(mail["Subject"]))
            assert match, mail["Subject"]
            counts[str(mail["X-Sightline-Digest"])] += int(match.group(1))
    return counts


def digest_mails(smtp: SmtpServer) -> Counter[str]:
    """How many digest e-mails came per ``name/period``."""
    return Counter(
        str(m["X-Sightline-Digest"]) for m in smtp.inbox.messages if m["X-Sightline-Digest"]
    )


def immediate_ids(smtp: SmtpServer) -> Counter[str]:
    """How many immediate e-mails came per event id."""
    return Counter(
        str(m["X-Sightline-Event-Id"]) for m in smtp.inbox.messages if m["X-Sightline-Event-Id"]
    )


def one_period(suite: RunningSuite) -> int:
    """Before the notifier starts, make its digest period ``[now, now + DIGEST_S)``: one
    period that holds starting the services and feeding the stream (a few seconds). Returns
    its start, which names it."""
    origin = int(time.time())
    suite.notifier.digest_periods_from(origin, f"{DIGEST_S}s")
    return origin


def feed(
    broker: Broker, stream: Stream, suite: RunningSuite, reference: list[dict[str, Any]]
) -> None:
    """Send the stream, wait until the notifier took it all."""
    publisher = Publisher(broker)
    publisher.send(stream.messages)
    publisher.close()
    wanted = {e["event_id"] for e in reference}
    wait_until(lambda: wanted <= set(json_log_ids(suite.tmp_path)), 60, "every log line")


def send_markers(broker: Broker, smtp: SmtpServer) -> set[str]:
    """Two immediate e-mails through the notifier, the second published after the first came.

    The tick that sends the second began after the tick that sent the first had ended, so a
    whole tick (digests and retries included) ran after this call's start: a doubled e-mail
    of that tick is in the inbox when this returns. Returns the markers' event ids.
    """
    ids: set[str] = set()
    for n in (901, 902):
        marker = make_event(n, immediate=True)
        announcement = announcement_with_image(marker, 40, f"driveway/{marker.event_id}.jpg")
        publish(broker.host, broker.port, "events/driveway/snapshot", [announcement])
        publish(broker.host, broker.port, event_topic(marker), [encode(marker)])
        ids.add(marker.event_id)
        wait_until(lambda: ids <= set(immediate_ids(smtp)), 30, f"marker e-mail {n}")
    return ids


def test_a_notifier_killed_before_its_digest_sends_it_once_with_every_event_after_restart(
    broker: Broker,
    smtp: SmtpServer,
    stream: Stream,
    reference: list[dict[str, Any]],
    suite: RunningSuite,
) -> None:
    in_digest = sum(1 for e in reference if e["actions"]["email_digest"])
    try:
        origin = one_period(suite)
        suite.start(Service.ENGINE, Service.NOTIFIER)
        feed(broker, stream, suite, reference)
        suite.notifier.kill()
        assert not digests(smtp), "the digest went out before the kill"
        suite.start(Service.NOTIFIER)
        wait_until(lambda: sum(digests(smtp).values()) >= in_digest, 40, "the digest")
        send_markers(broker, smtp)  # a doubled digest would have come before them
    finally:
        suite.close()
    assert digests(smtp) == {f"default/{origin}": in_digest}
    assert set(digest_mails(smtp).values()) == {1}


def test_a_mail_server_down_for_part_of_the_run_gets_every_email_exactly_once(
    broker: Broker,
    smtp: SmtpServer,
    stream: Stream,
    reference: list[dict[str, Any]],
    suite: RunningSuite,
) -> None:
    immediate = {e["event_id"] for e in reference if e["actions"]["email_immediate"]}
    in_digest = sum(1 for e in reference if e["actions"]["email_digest"])
    try:
        origin = one_period(suite)
        suite.start(Service.ENGINE, Service.NOTIFIER)
        smtp.stop()
        feed(broker, stream, suite, reference)
        wait_until(
            lambda: suite.notifier.log_text().count("mail server unavailable") >= 2,
            30,
            "a few failed attempts",
        )
        smtp.start()
        wait_until(
            lambda: (
                set(immediate_ids(smtp)) >= immediate and sum(digests(smtp).values()) >= in_digest
            ),
            60,
            "every e-mail",
        )
        markers = send_markers(broker, smtp)  # a doubled e-mail would have come before them
    finally:
        suite.close()
    assert immediate_ids(smtp) == Counter(immediate | markers)
    assert digests(smtp) == {f"default/{origin}": in_digest}
    assert set(digest_mails(smtp).values()) == {1}
