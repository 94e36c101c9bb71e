"""Where e-mails go: an SMTP server (aiosmtplib) or, with no host, ``.eml`` files.

Failures are sorted in two: :class:`TransientMailError` (try again later: connection
refused, timeouts, 4xx) and :class:`PermanentMailError` (give up: 5xx, bad address).
:class:`SmtpSetupError`, a transient error, is a failure no e-mail causes (login refused,
sender refused, a missing extension): every e-mail would fail alike until the
configuration is fixed, so they all stay pending.

Example:
    >>> import tempfile, pathlib
    >>> from email.message import EmailMessage
    >>> outbox = OutboxMailer(pathlib.Path(tempfile.mkdtemp()))
    >>> message = EmailMessage(); message["Subject"] = "hi"; message.set_content("hello")
    >>> outbox.send(message, "e1").suffix
    '.eml'
"""

from __future__ import annotations

import asyncio
import re
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from sightline.atomic import write_bytes
from sightline.config.notifier import SmtpConfig


class MailError(Exception):
    """An e-mail that did not go out."""


class TransientMailError(MailError):
    """The server is down or said "later" (4xx): keep the e-mail and retry."""


class SmtpSetupError(TransientMailError):
    """The server refuses us, not this e-mail (535 login, sender refused): fix the config."""


class PermanentMailError(MailError):
    """The server refused for good (5xx, bad address): dead-letter it."""


class Mailer(Protocol):
    """Sends one message; ``key`` names it (unique per e-mail)."""

    def send(self, message: EmailMessage, key: str) -> Path | None:
        """Send ``message`` or raise :class:`MailError`."""
        ...


class OutboxMailer:
    """Writes each e-mail as ``<key>.eml`` in a folder (the demo's default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage, key: str) -> Path:
        """Write ``message`` atomically; the same key overwrites the same file.

        A write that fails (disk full) is transient: the e-mail stays pending.
        """
        path = self.directory / f"{_safe(key)}.eml"
        try:
            write_bytes(path, bytes(message))
        except OSError as exc:
            raise TransientMailError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path


class SmtpMailer:
    """Sends through an SMTP server with STARTTLS, SSL or neither."""

    def __init__(self, config: SmtpConfig) -> None:
        if config.host is None:
            raise ValueError("SmtpMailer needs smtp.host")
        self.config = config
        self.host = config.host

    def send(self, message: EmailMessage, key: str) -> None:
        """Send ``message``; raise Transient/PermanentMailError on failure."""
        try:
            asyncio.run(self._send(message))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            refused = ", ".join(f"{e.recipient} ({e.code} {e.message})" for e in exc.recipients)
            error = f"recipients refused: {refused}"
            if all(400 <= code < 500 for code in codes):
                raise TransientMailError(error) from exc
            raise PermanentMailError(error) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SmtpSetupError(
                f"{self.host} refused the login of {self.config.username!r}: "
                f"{exc.code} {exc.message}"
            ) from exc
        except aiosmtplib.SMTPSenderRefused as exc:
            error = f"{self.host} refused the sender {exc.sender!r}: {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise TransientMailError(error) from exc
            raise SmtpSetupError(error) from exc
        except aiosmtplib.SMTPResponseException as exc:
            text = f"server said {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise TransientMailError(text) from exc
            raise PermanentMailError(text) from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise TransientMailError(f"cannot reach {self.host}: {exc}") from exc
        except aiosmtplib.SMTPNotSupported as exc:  # no AUTH or STARTTLS offered
            raise SmtpSetupError(f"{self.host}: {exc}") from exc
        except aiosmtplib.SMTPException as exc:
            raise TransientMailError(f"{self.host}: {exc}") from exc

    async def _send(self, message: EmailMessage) -> None:
        config = self.config
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=config.effective_port,
            username=config.username,
            password=config.resolved_password() if config.username else None,
            use_tls=config.security == "ssl",
            start_tls=config.security == "starttls",
            tls_context=self._tls_context(),
            timeout=config.timeout_s,
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.security == "none":
            return None
        context = ssl.create_default_context()
        if self.config.ca_file is not None:
            context.load_verify_locations(cafile=self.config.ca_file)
        return context


def make_mailer(config: SmtpConfig) -> Mailer:
    """An SMTP mailer when a host is configured, else the outbox."""
    if config.host is None:
        return OutboxMailer(config.outbox_dir)
    return SmtpMailer(config)


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)[:180]
