"""A mail server that refuses the notifier itself (535): loud, visible, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from notifier.dispatch import Dispatcher
from notifier.mailer import SmtpMailer, SmtpSetupError
from notifier.smtphealth import SmtpHealth
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import NotifierSection, SmtpConfig
from sightline.messages import encode
from tests.notifier.support import LoginCheckingServer, make_event, running

T = 1_736_899_200.0


@pytest.fixture
def strict_smtp() -> Iterator[LoginCheckingServer]:
    """A real SMTP server that refuses every login until ``accept_login`` is set."""
    with running(LoginCheckingServer()) as server:
        yield server


def smtp_config(server: LoginCheckingServer) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        security="none",
        username="sightline",
        password="wrong",
        timeout_s=3,
    )


def test_a_refused_login_is_a_setup_error_naming_the_user_and_the_code(
    strict_smtp: LoginCheckingServer,
) -> None:
    mailer = SmtpMailer(smtp_config(strict_smtp))
    event = make_event(1)
    message = EmailMessage()
    message["To"] = "you@example.com"
    message["From"] = "sightline@example.com"
    message.set_content(event.event_id)

    with pytest.raises(SmtpSetupError, match=r"refused the login of 'sightline': 535"):
        mailer.send(message, event.event_id)


def test_refused_logins_turn_smtp_unhealthy_keep_emails_pending_and_deliver_once_fixed(
    tmp_path: Path, strict_smtp: LoginCheckingServer, caplog: pytest.LogCaptureFixture
) -> None:
    section = NotifierSection.model_validate(
        {"snapshots_dir": tmp_path / "snaps", "snapshot_wait_s": 0}
    )
    store = StateStore(tmp_path / "state")
    events = [make_event(n, immediate=True) for n in range(3)]
    for event in events:
        store.add_immediate(PendingEvent(event.event_id, "t", encode(event).decode(), T))
    registry = CollectorRegistry()
    health = SmtpHealth(registry)
    dead_letters: list[object] = []
    dispatcher = Dispatcher(
        section, store, SmtpMailer(smtp_config(strict_smtp)), dead_letters.append, health, T
    )

    now = T
    for _ in range(3):
        now = max(now, dispatcher.retry_at)
        dispatcher.tick(now)

    assert not health.ok()
    assert registry.get_sample_value("sightline_notifier_smtp_setup_failures_total") == 3
    assert registry.get_sample_value("sightline_notifier_smtp_ok") == 0
    assert "SMTP configuration problem" in caplog.text
    assert {job.event_id for job in store.pending_immediate()} == {e.event_id for e in events}
    assert dead_letters == []
    assert strict_smtp.inbox.messages == []

    strict_smtp.accept_login = True
    dispatcher.tick(dispatcher.retry_at)

    assert len(strict_smtp.inbox.wait_for(3)) == 3
    assert health.ok()
    assert registry.get_sample_value("sightline_notifier_smtp_ok") == 1
    assert store.pending_immediate() == []
