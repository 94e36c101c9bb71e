"""Faults 3 and 4: the notifier killed before a digest went out; the mail server down."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from tests.notifier.support import SmtpServer
from tests.reliability.running import RunningSuite, Service
from tests.reliability.stream import Stream
from tests.reliability.suite import Publisher, json_log_ids
from tests.support.broker import Broker
from tests.support.waiting import wait_until

DIGEST_S = 10
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


def feed(
    broker: Broker, stream: Stream, suite: RunningSuite, reference: list[dict[str, Any]]
) -> None:
    """Start early in a digest period, send the stream, wait until the notifier took it all."""
    while time.time() % DIGEST_S > 1:
        time.sleep(0.1)
    publisher = Publisher(broker)
    publisher.send(stream.messages)
    publisher.close()
    wanted = {e["event_id"] for e in reference}
    wait_until(lambda: wanted <= set(json_log_ids(suite.tmp_path)), 60, "every log line")


def test_a_notifier_killed_before_its_digest_sends_it_once_with_every_event_after_restart(
    broker: Broker,
    smtp: SmtpServer,
    stream: Stream,
    reference: list[dict[str, Any]],
    suite: RunningSuite,
) -> None:
    in_digest = sum(1 for e in reference if e["actions"]["email_digest"])
    try:
        suite.start(Service.ENGINE, Service.NOTIFIER)
        feed(broker, stream, suite, reference)
        suite.notifier.kill()
        assert not digests(smtp), "the digest went out before the kill"
        suite.start(Service.NOTIFIER)
        wait_until(lambda: sum(digests(smtp).values()) >= in_digest, 40, "the digest")
        time.sleep(1)  # a doubled digest would come now
    finally:
        suite.close()
    assert sum(digests(smtp).values()) == in_digest
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
        suite.start(Service.ENGINE, Service.NOTIFIER)
        smtp.stop()
        feed(broker, stream, suite, reference)
        time.sleep(3)  # a few failed attempts
        smtp.start()
        wait_until(
            lambda: (
                set(immediate_ids(smtp)) >= immediate and sum(digests(smtp).values()) >= in_digest
            ),
            60,
            "every e-mail",
        )
        time.sleep(1)  # a doubled e-mail would come now
    finally:
        suite.close()
    assert immediate_ids(smtp) == Counter(immediate)
    assert sum(digests(smtp).values()) == in_digest
    assert set(digest_mails(smtp).values()) == {1}
