"""Broken state at start, poison timestamps and ids: one bad thing never stops the rest.

Real files, a real SMTP server; the handler and the sending loop as the service wires them.
"""

from __future__ import annotations

import json
import os
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from notifier.housekeeping import Housekeeping
from notifier.jsonlog import JsonLog
from notifier.mailer import Mailer
from notifier.state import StateStore
from sightline.config.notifier import JsonLogConfig
from tests.notifier.support import SmtpServer, fill, make_event, small_disk
from tests.notifier.test_dispatch import T, make_notifier


def truncate(path: Path) -> None:
    """Cut a file in the middle, as a disk that filled up or a crash might leave it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_pending_email_is_set_aside_and_every_other_email_goes_out(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    events = [make_event(n, immediate=True) for n in range(3)]
    for event in events:
        notifier.receive(event)
    pending = tmp_path / "state" / "immediate" / f"{events[0].event_id}.json"
    truncate(pending)
    notifier.restart()

    notifier.at(T + 1)

    mails = smtp.inbox.wait_for(2)
    assert sorted(str(m["X-Sightline-Event-Id"]) for m in mails) == sorted(
        e.event_id for e in events[1:]
    )
    assert not pending.exists()
    assert pending.with_name(pending.name + ".bad").exists()
    assert notifier.handler.metrics.bad_state_files.labels("pending e-mail")._value.get() == 1
    notifier.at(T + 2)
    assert len(smtp.inbox.messages) == 2


def test_a_truncated_sent_record_does_not_stop_the_start_nor_send_the_email_again(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    first, second = make_event(1, immediate=True), make_event(2, immediate=True)
    notifier.receive(first)
    notifier.at(T + 1)
    smtp.inbox.wait_for(1)
    truncate(tmp_path / "state" / "sent" / f"{first.event_id}.json")

    notifier.restart()  # reads the sent records (the rate limiter's memory)
    notifier.receive(first)  # redelivered
    notifier.receive(second)
    notifier.at(T + 2)

    mails = smtp.inbox.wait_for(2)
    notifier.at(T + 3)
    assert [m["X-Sightline-Event-Id"] for m in smtp.inbox.messages] == [
        first.event_id,
        second.event_id,
    ]
    assert len(mails) == 2
    assert (tmp_path / "state" / "sent" / f"{first.event_id}.json.bad").exists()


def test_a_bad_digest_entry_is_set_aside_and_the_digest_goes_out_with_the_rest(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)
    events = [make_event(n, digest=["default"]) for n in range(3)]
    for event in events:
        notifier.receive(event)
    [entry] = (tmp_path / "state" / "digests").glob(f"*/*/{events[1].event_id}.json")
    entry.write_text('{"event_id": "no other field"}')

    notifier.at(T + 3600 + 5)

    [digest] = smtp.inbox.wait_for(1)
    assert digest["Subject"] == "Sightline digest default: 2 events"
    assert entry.with_name(entry.name + ".bad").exists()
    notifier.at(T + 7200)
    assert len(smtp.inbox.messages) == 1


def test_an_event_named_sent_is_in_its_digest_and_does_not_suppress_it(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)
    named_sent = make_event(1, digest=["default"]).model_copy(update={"event_id": "sent"})
    for event in (named_sent, make_event(2, digest=["default"])):
        notifier.receive(event)

    notifier.at(T + 3600 + 5)

    [digest] = smtp.inbox.wait_for(1)
    assert digest["Subject"] == "Sightline digest default: 2 events"
    text = digest.get_body(("plain",))
    assert text is not None
    assert str(text.get_content()).count('driveway: car crossed "gate"') == 2
    notifier.at(T + 7200)
    assert len(smtp.inbox.messages) == 1


def test_a_digest_marked_sent_by_the_previous_release_is_not_sent_again(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    notifier = make_notifier(tmp_path, smtp)
    notifier.receive(make_event(1, digest=["default"]))
    [period] = (tmp_path / "state" / "digests" / "default").iterdir()
    (period / "sent.json").write_text(json.dumps({"outcome": "sent", "events": 1, "at": T}))

    notifier.restart()
    # tick() sends synchronously and aiosmtpd answers 250 only after the inbox holds the
    # message: a digest sent again would already be in the inbox when at() returns
    notifier.at(T + 3600 + 5)

    assert smtp.inbox.messages == []
    assert (period / "digest.sent").exists()


def test_events_stamped_1970_stay_in_the_json_log_until_their_file_is_old_by_the_wall_clock(
    tmp_path: Path,
) -> None:
    config = JsonLogConfig(directory=tmp_path / "log", retention_days=30)
    json_log = JsonLog(config, "UTC")
    before_ntp = make_event(1).model_copy(
        update={"timestamp": make_event(1).timestamp.replace(year=1970)}
    )
    assert json_log.append(before_ntp)
    [written] = (tmp_path / "log").glob("events-1970-*.jsonl")
    old = tmp_path / "log" / "events-2020-01-01.jsonl"
    old.write_text(make_event(2).model_dump_json() + "\n")
    a_year_ago = time.time() - 365 * 86400
    os.utime(old, (a_year_ago, a_year_ago))
    keeper = Housekeeping(StateStore(tmp_path / "state"), json_log, retention_days=14)

    assert keeper.run_if_due(time.time())

    assert written.exists()
    [line] = written.read_text().splitlines()
    assert json.loads(line)["event_id"] == before_ntp.event_id
    assert not old.exists()
    assert not json_log.append(before_ntp)  # still recognised as a redelivery


class FillsTheDiskAfterSending:
    """The real mailer; right after the first e-mail went out the state disk is full."""

    def __init__(self, mailer: Mailer, disk: Path) -> None:
        self.mailer = mailer
        self.disk = disk
        self.filler: Path | None = None

    def send(self, message: EmailMessage, key: str) -> Path | None:
        sent = self.mailer.send(message, key)
        if self.filler is None:
            self.filler = fill(self.disk)
        return sent


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_an_email_whose_outcome_cannot_be_written_is_never_sent_again(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    with small_disk(tmp_path / "state", "1m") as disk:
        notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
        first, second = make_event(1, immediate=True), make_event(2, immediate=True)
        notifier.receive(first)
        notifier.receive(second)
        mailer = FillsTheDiskAfterSending(notifier.dispatcher.mailer, disk)
        notifier.dispatcher.mailer = mailer

        for step in range(5):  # the first goes out, its record fails; then back-off ticks
            notifier.at(T + 1 + 1000 * step)
        [went] = [str(m["X-Sightline-Event-Id"]) for m in smtp.inbox.wait_for(1)]
        assert not notifier.dispatcher.disk.ok()
        assert not (disk / "sent" / f"{went}.json").exists()

        assert mailer.filler is not None
        mailer.filler.unlink()
        notifier.at(T + 10_000)
        notifier.at(T + 20_000)

        # every tick above ran synchronously and aiosmtpd answers 250 only after the inbox
        # holds the message: a repeated e-mail would already be here
        smtp.inbox.wait_for(2)
        assert sorted(m["X-Sightline-Event-Id"] for m in smtp.inbox.messages) == sorted(
            [first.event_id, second.event_id]
        )
        assert (disk / "sent" / f"{went}.json").exists()
        assert notifier.dispatcher.disk.ok()
        assert notifier.dispatcher.store.pending_immediate() == []


def test_only_a_sending_begun_by_a_process_that_died_is_said_to_be_possibly_repeated(
    tmp_path: Path, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = make_notifier(tmp_path, smtp, snapshot_wait_s=0)
    crashed, waiting = make_event(1, immediate=True), make_event(2, immediate=True)
    notifier.receive(crashed)
    notifier.receive(waiting)
    smtp.stop()
    notifier.at(T + 1)  # the first begins, the server is down: this process knows it did not go
    notifier.at(T + 5)
    assert "may have gone out" not in caplog.text

    notifier.restart()  # as after a SIGKILL: the "sending" records are all that is left
    smtp.start()
    notifier.at(T + 10)

    mails = smtp.inbox.wait_for(2)
    assert sorted(str(m["Message-ID"]) for m in mails) == sorted(
        f"<{e.event_id}@sightline>" for e in (crashed, waiting)
    )
    assert caplog.text.count("may have gone out before a crash") == 1  # the one that began
    assert not list((tmp_path / "state" / "sending").iterdir())
