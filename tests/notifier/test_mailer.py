"""Sending against a real SMTP server, and the outbox without one."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from notifier.mailer import (
    OutboxMailer,
    PermanentMailError,
    SmtpMailer,
    SmtpSetupError,
    TransientMailError,
    make_mailer,
)
from sightline.broker import free_port
from sightline.config.notifier import SmtpConfig
from tests.notifier.support import SmtpServer, TlsSetup, parse_mail
from tests.support.tls import make_certificate


def message(to: str = "you@example.com", sender: str = "sightline@example.com") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "A car crossed the gate"
    mail.set_content("hello")
    return mail


def test_a_message_arrives_at_a_real_smtp_server(smtp: SmtpServer) -> None:
    mailer = make_mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, security="none"))

    mailer.send(message(), "e1")

    [received] = smtp.inbox.wait_for(1)
    assert received["Subject"] == "A car crossed the gate"


@pytest.mark.parametrize(
    ("server_up", "to", "sender", "error", "says"),
    [
        (True, "refuse@example.com", "s@example.com", PermanentMailError, "550"),
        (False, "you@example.com", "s@example.com", TransientMailError, "cannot reach"),
        (True, "you@example.com", "refuse@example.com", SmtpSetupError, "sender .* 553"),
    ],
)
def test_a_refused_address_is_permanent_a_refused_sender_is_setup_and_a_server_down_transient(
    smtp: SmtpServer, server_up: bool, to: str, sender: str, error: type[Exception], says: str
) -> None:
    port = smtp.port if server_up else free_port()
    mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout_s=3))

    with pytest.raises(error, match=says):
        mailer.send(message(to, sender), "e1")


def test_without_a_host_emails_are_eml_files_a_user_can_open(tmp_path: Path) -> None:
    mailer = make_mailer(SmtpConfig(outbox_dir=tmp_path / "outbox"))
    assert isinstance(mailer, OutboxMailer)

    path = mailer.send(message(), "driveway/line cross:1")

    assert path is not None
    assert path.parent == tmp_path / "outbox"
    assert "/" not in path.name
    assert parse_mail(path.read_bytes())["Subject"] == "A car crossed the gate"


# aiosmtpd cannot see implicit TLS, so it warns that AUTH goes without it; it does not
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_a_password_from_a_file_reaches_a_server_with_its_own_ca(
    tmp_path: Path, security: str
) -> None:
    cert, key = make_certificate(tmp_path)
    server = SmtpServer(TlsSetup(security, cert, key, ("camera", "s3cret")))
    server.start()
    try:
        (tmp_path / "password").write_text("s3cret\n")
        config = SmtpConfig(
            host="127.0.0.1",
            port=server.port,
            security=security,  # type: ignore[arg-type]
            username="camera",
            password_file=tmp_path / "password",
            ca_file=cert,
        )

        SmtpMailer(config).send(message(), "e1")

        [received] = server.inbox.wait_for(1)
        assert received["Subject"] == "A car crossed the gate"
    finally:
        server.stop()
