"""The handler and the sending loop in one process, driven by an explicit clock.

A real SMTP server receives; the state is real files; time is passed to ``tick``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from notifier.dispatch import Dispatcher
from notifier.handler import EventHandler
from notifier.jsonlog import JsonLog
from notifier.mailer import make_mailer
from notifier.smtphealth import SmtpHealth
from notifier.state import StateStore
from sightline.config.notifier import NotifierSection
from sightline.errors import MessageError
from sightline.messages import Event, MessageLimits, encode
from sightline.mqtt import ReceivedMessage
from sightline.topics import Topics
from tests.notifier.support import (
    SmtpServer,
    announcement_with_image,
    event_topic,
    images_of,
    make_event,
    store_snapshot,
)

T = 1_736_899_200.0  # 2025-01-15 00:00:00 UTC, a multiple of every digest period


@dataclass
class Notifier:
    """Handler + dispatcher on one state directory, as the service wires them."""

    tmp_path: Path
    smtp: SmtpServer
    section: NotifierSection
    now: float = T
    dead_letters: list[tuple[str, bytes, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.smtp_health = SmtpHealth(CollectorRegistry())
        store = StateStore(self.tmp_path / "state")
        self.handler = EventHandler(
            store,
            JsonLog(self.section.json_log, self.section.timezone),
            self.section.digests,
            self.section.timezone,
            Topics(),
            MessageLimits(),
            clock=lambda: self.now,
        )
        self.dispatcher = Dispatcher(
            self.section,
            store,
            make_mailer(self.section.smtp),
            lambda *letter: self.dead_letters.append(letter),
            self.smtp_health,
            self.now,
        )

    def receive(self, event: Event) -> None:
        self.handler(ReceivedMessage(event_topic(event), encode(event)))

    def announce(self, event: Event) -> None:
        payload = store_snapshot(self.section.snapshots_dir, event)
        self.handler(ReceivedMessage(f"events/{event.camera_id}/snapshot", payload))

    def at(self, now: float) -> None:
        self.now = now
        self.dispatcher.tick(now)


def make_notifier(tmp_path: Path, smtp: SmtpServer, **section: object) -> Notifier:
    config = NotifierSection.model_validate(
        {
            "snapshots_dir": tmp_path / "snaps",
            "json_log": {"directory": tmp_path / "log"},
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout_s": 3},
            "digests": [{"name": "default", "every": "1h", "max_photos": 3}],
            **section,
        }
    )
    return Notifier(tmp_path, smtp, config)


def test_an_immediate_email_waits_for_its_snapshot_and_carries_it(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)
    event = make_event(1, immediate=True)
    notifier.receive(event)
    notifier.at(T + 2)
    assert smtp.inbox.messages == []

    notifier.announce(event)
    notifier.at(T + 3)

    [mail] = smtp.inbox.wait_for(1)
    assert len(images_of(mail)) == 1


def test_without_a_snapshot_the_email_goes_after_snapshot_wait_s_saying_so(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=5)
    notifier.receive(make_event(1, immediate=True))
    notifier.at(T + 4)
    assert smtp.inbox.messages == []

    notifier.at(T + 5)

    [mail] = smtp.inbox.wait_for(1)
    assert images_of(mail) == []
    text = mail.get_body(("plain",))
    assert text is not None
    assert "No photo was available for this event." in str(text.get_content())


def test_a_redelivered_event_changes_nothing(tmp_path: Path, smtp: SmtpServer) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    event = make_event(1, immediate=True, digest=["default"])
    notifier.receive(event)
    notifier.receive(event)
    notifier.at(T + 1)
    smtp.inbox.wait_for(1)
    notifier.receive(event)  # after the e-mail went out
    notifier.restart()
    notifier.receive(event)  # and after a restart
    notifier.at(T + 3610)

    mails = smtp.inbox.wait_for(2)
    notifier.at(T + 7200)
    assert len(smtp.inbox.messages) == 2
    assert mails[1]["Subject"] == "Sightline digest default: 1 event"
    log_lines = (tmp_path / "log" / "events-2025-01-15.jsonl").read_text().splitlines()
    assert len(log_lines) == 1


@pytest.mark.parametrize(
    ("events_per_rule", "limit", "expected_mails"),
    [(3, 5, 8), (5, 2, 4), (1, 1, 2)],
)
def test_immediate_emails_are_rate_limited_per_rule_across_restarts(
    tmp_path: Path, smtp: SmtpServer, events_per_rule: int, limit: int, expected_mails: int
) -> None:
    notifier = make_notifier(
        tmp_path, smtp, snapshot_wait_s=0, email={"rate_limit_per_hour": limit}
    )
    for number in range(events_per_rule):
        notifier.receive(make_event(number, rule="car-in", immediate=True))
    notifier.at(T + 1)
    notifier.restart()
    for number in range(events_per_rule):
        notifier.receive(make_event(100 + number, rule="person-in", immediate=True))
        notifier.receive(make_event(200 + number, rule="car-in", immediate=True))
    notifier.at(T + 2)

    smtp.inbox.wait_for(expected_mails)
    notifier.at(T + 3)
    assert len(smtp.inbox.messages) == expected_mails


def test_smtp_down_then_up_delivers_everything_once(tmp_path: Path, smtp: SmtpServer) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    smtp.stop()
    events = [make_event(n, immediate=True, digest=["default"]) for n in range(3)]
    for event in events:
        notifier.receive(event)
    notifier.at(T + 1)
    notifier.at(T + 3600)
    notifier.restart()  # still pending on disk
    notifier.at(T + 3700)

    smtp.start()
    notifier.at(T + 3800)
    notifier.at(T + 3900)

    mails = smtp.inbox.wait_for(4)
    assert sorted(str(m["Subject"]).split(":")[0] for m in mails) == [
        "Sightline digest default",
        *['[driveway] Car crossed "gate" (left to right) (car-in)'] * 3,
    ]
    digest = next(m for m in mails if "digest" in str(m["Subject"]))
    assert digest["Subject"] == "Sightline digest default: 3 events"


def test_a_refused_address_is_dead_lettered_and_the_rest_go_on(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(
        tmp_path,
        smtp,
        snapshot_wait_s=0,
        email={"to": ["refuse@example.com"]},
        digests=[{"name": "default", "every": "1h", "to": ["ops@example.com"]}],
    )
    event = make_event(1, immediate=True, digest=["default"])
    notifier.receive(event)
    notifier.at(T + 3610)
    notifier.at(T + 3611)

    [digest] = smtp.inbox.wait_for(1)
    assert digest["To"] == "ops@example.com"
    [(topic, payload, reason)] = notifier.dead_letters
    assert topic == "events/driveway/line_cross"
    assert payload == encode(event)
    assert "550" in reason


@pytest.mark.parametrize(
    ("topic", "payload", "problem"),
    [
        ("events/driveway/line_cross", b"{not json", "invalid JSON"),
        ("events/driveway/line_cross", b'{"version": 2}', "version: 2"),
        ("events/garden/line_cross", None, "does not match"),
        ("events/driveway/snapshot", b'{"version": 1}', "event_id"),
        ("events/driveway/line_cross", b"path", "event_id: '../../etc/passwd'"),
        (
            "events/driveway/snapshot",
            json.dumps(
                {
                    "version": 1,
                    "event_id": make_event(1).event_id,
                    "camera_id": "driveway",
                    "timestamp": "2025-01-15T00:00:01Z",
                    "files": {"annotated": {"type": "file", "key": "a\u0000b.jpg"}},
                }
            ).encode(),
            r"files\.annotated\.key: must not contain a control character \(U\+0000\)",
        ),
    ],
)
def test_bad_messages_raise_a_message_error_naming_the_problem(
    tmp_path: Path, smtp: SmtpServer, topic: str, payload: bytes | None, problem: str
) -> None:
    notifier = make_notifier(tmp_path, smtp)

    if payload == b"path":
        payload = encode(make_event(1)).replace(
            make_event(1).event_id.encode(), b"../../etc/passwd"
        )

    with pytest.raises(MessageError, match=problem):
        notifier.handler(ReceivedMessage(topic, payload or encode(make_event(1))))

    assert not list((tmp_path / "state").rglob("*.json"))


def test_a_cron_digest_goes_out_once_at_its_local_time_across_restarts(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(
        tmp_path,
        smtp,
        timezone="Europe/Berlin",
        digests=[{"name": "default", "cron": "0 8 * * *", "max_photos": 3}],
    )
    eight_am_berlin = T + 7 * 3600  # T is 01:00 CET
    for number in range(3):
        notifier.receive(make_event(number, digest=["default"]))
    notifier.at(eight_am_berlin - 1)
    notifier.restart()
    notifier.at(eight_am_berlin + 1)
    assert smtp.inbox.messages == []  # the grace period

    notifier.at(eight_am_berlin + 3)
    notifier.restart()
    notifier.at(eight_am_berlin + 4)

    [digest] = smtp.inbox.wait_for(1)
    assert digest["Subject"] == "Sightline digest default: 3 events"
    text = digest.get_body(("plain",))
    assert text is not None
    assert "Tue 14 Jan 2025, 08:00 \N{EN DASH} Wed 15 Jan 2025, 08:00 CET" in str(
        text.get_content()
    )


def test_an_event_that_arrives_after_its_period_ended_goes_out_once_in_the_next_digest(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)  # every 1h from the epoch: T is a period start
    on_time, late = (make_event(n, digest=["default"]) for n in (1, 2))
    late = late.model_copy(update={"timestamp": datetime.fromtimestamp(T + 3599, UTC)})
    notifier.now = T + 10
    notifier.receive(on_time)
    notifier.now = T + 3600.5  # its period ended, its digest not yet sent (the grace)
    notifier.receive(late)

    notifier.at(T + 3600 + 3)
    notifier.at(T + 7200 + 3)
    notifier.restart()
    notifier.at(T + 7200 + 4)

    first, second = smtp.inbox.wait_for(2)
    assert (first["X-Sightline-Digest"], first["Subject"]) == (
        f"default/{T:.0f}",
        "Sightline digest default: 1 event",
    )
    assert (second["X-Sightline-Digest"], second["Subject"]) == (
        f"default/{T + 3600:.0f}",
        "Sightline digest default: 1 event",
    )
    texts = [m.get_body(("plain",)) for m in (first, second)]
    first_text, second_text = (str(t.get_content()) if t else "" for t in texts)
    assert "Wed 15 Jan 2025, 00:59:59 UTC" in second_text  # the late event, under its own time
    assert "00:59:59" not in first_text


def test_a_digest_shows_the_photos_the_announcements_carried_without_a_shared_disk(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)
    events = [make_event(n, digest=["default"]) for n in range(4)]
    for index, event in enumerate(events):
        notifier.receive(event)
        notifier.handler(
            ReceivedMessage(
                f"events/{event.camera_id}/snapshot", announcement_with_image(event, 5 * index)
            )
        )
    assert not (tmp_path / "snaps").exists()

    notifier.at(T + 3600 + 5)

    [digest] = smtp.inbox.wait_for(1)
    thumbnails = images_of(digest)
    assert len(thumbnails) == 3  # max_photos
    assert all(t.get_content_type() == "image/jpeg" for t in thumbnails)


@pytest.mark.parametrize(
    ("zone", "when", "shown"),
    [
        (
            "Europe/Berlin",
            datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
            "Fri 31 Dec 9999, 23:30:00 UTC",
        ),
        ("America/New_York", datetime(1, 1, 1, 0, 30, tzinfo=UTC), "Mon 01 Jan 1, 00:30:00 UTC"),
    ],
)
def test_an_event_at_the_end_of_time_neither_stops_the_emails_nor_the_json_log(
    tmp_path: Path, smtp: SmtpServer, zone: str, when: datetime, shown: str
) -> None:
    """A valid time that the zone's offset would take past the years 1 to 9999 reads in
    UTC, and the e-mails after it go out."""
    notifier = make_notifier(tmp_path, smtp, timezone=zone, snapshot_wait_s=0)
    edge = make_event(1, immediate=True, digest=["default"], snapshot=False)
    notifier.receive(edge.model_copy(update={"timestamp": when}))
    notifier.receive(make_event(2, immediate=True, snapshot=False))

    notifier.at(T + 3600 + 3)

    mails = smtp.inbox.wait_for(3)
    assert len(mails) == 3  # two immediate e-mails and the digest
    texts = [str(body.get_content()) for m in mails if (body := m.get_body(("plain",)))]
    assert sum(shown in text for text in texts) == 2  # its e-mail and the digest
    logged = [json.loads(line) for f in (tmp_path / "log").glob("*.jsonl") for line in f.open()]
    assert len(logged) == 2


def test_an_event_filed_after_its_periods_digest_went_goes_out_in_the_next_one(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """The handler files an event by its own clock: one that stepped back (or a handler
    slower than the grace) must not file it where the e-mail already went."""
    notifier = make_notifier(tmp_path, smtp)
    first, second = (make_event(n, digest=["default"], snapshot=False) for n in (1, 2))
    notifier.now = T + 10
    notifier.receive(first)
    notifier.at(T + 3600 + 3)  # the first period's digest goes
    notifier.now = T + 3599  # the clock stepped back into the period just sent
    notifier.receive(second)
    notifier.at(T + 7200 + 3)

    one, two = smtp.inbox.wait_for(2)
    assert (one["X-Sightline-Digest"], one["Subject"]) == (
        f"default/{T:.0f}",
        "Sightline digest default: 1 event",
    )
    assert (two["X-Sightline-Digest"], two["Subject"]) == (
        f"default/{T + 3600:.0f}",
        "Sightline digest default: 1 event",
    )


def test_an_email_that_cannot_be_composed_is_dead_lettered_and_the_next_goes_out(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """A user's template that fails on some events (here: track 1's) costs those events'
    e-mails, each dead-lettered with the reason, never every e-mail after them."""
    template = tmp_path / "mail.txt.j2"
    template.write_text("{% if e.track_id == 1 %}{{ e.no_such_field }}{% endif %}{{ e.headline }}")
    notifier = make_notifier(
        tmp_path, smtp, snapshot_wait_s=0, email={"text_template": str(template)}
    )
    first, second = (make_event(n, immediate=True, snapshot=False) for n in (1, 2))
    notifier.receive(first)
    notifier.receive(second)

    notifier.at(T + 10)
    notifier.at(T + 20)

    [mail] = smtp.inbox.wait_for(1)
    assert mail["X-Sightline-Event-Id"] == second.event_id
    [(topic, payload, reason)] = notifier.dead_letters
    assert (topic, json.loads(payload)["event_id"]) == (event_topic(first), first.event_id)
    assert reason.startswith("e-mail could not be composed: UndefinedError")
    assert "no_such_field" in reason


def test_a_digest_entry_that_no_longer_reads_is_dead_lettered_and_the_digest_goes_out(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """An entry from an incompatible release (or edited by hand) costs that entry, not the
    digest and every e-mail after it."""
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    notifier.now = T + 5
    notifier.receive(make_event(1, digest=["default"], snapshot=False))
    bad = {"event_id": "old", "topic": "events/driveway/line_cross", "payload": '{"version": 1}'}
    entry = tmp_path / "state" / "digests" / "default" / f"{T:.0f}" / "old.json"
    entry.write_text(json.dumps({**bad, "received_at": T + 6}))

    notifier.at(T + 3600 + 3)
    notifier.receive(make_event(2, immediate=True, snapshot=False))
    notifier.at(T + 3600 + 4)

    digest, mail = smtp.inbox.wait_for(2)
    assert digest["Subject"] == "Sightline digest default: 1 event"
    assert mail["X-Sightline-Event-Id"] == make_event(2).event_id
    [(topic, payload, reason)] = notifier.dead_letters
    assert (topic, payload) == (bad["topic"], bad["payload"].encode())
    assert reason.startswith("digest entry unusable: ")
