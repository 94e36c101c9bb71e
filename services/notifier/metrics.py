"""What the notifier counts beyond the MQTT client: e-mails and digests sent and failed,
duplicates, missing photos, bad files.

Every send attempt is counted once, as sent or as failed with its reason: ``setup`` (the
server refused the login or sender: a config problem, retried), ``transient`` (server
down, 4xx: retried), ``permanent`` (5xx, a bad address: dead-lettered, not retried) or
``error`` (anything else, e.g. the ``.eml`` directory not writable). Digests are counted
apart from immediate e-mails.

Example:
    >>> metrics = NotifierMetrics()
    >>> metrics.duplicates.inc()
    >>> metrics.duplicates._value.get()
    1.0
    >>> with metrics.sending("digest-daily-1700000000"):
    ...     pass
    >>> metrics.digests_sent._value.get(), metrics.emails_sent._value.get()
    (1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter

from notifier.mailer import PermanentMailError, SmtpSetupError, TransientMailError

DIGEST_KEY_PREFIX = "digest-"
"""How the sending loop names a digest's e-mail key (an immediate e-mail's is its event id)."""

FAILURE_REASONS = ("setup", "transient", "permanent", "error")


def failure_reason(exc: BaseException) -> str:
    """The ``reason`` label of a failed send.

    Example:
        >>> failure_reason(SmtpSetupError("535")), failure_reason(OSError(28, "full"))
        ('setup', 'error')
    """
    if isinstance(exc, SmtpSetupError):
        return "setup"
    if isinstance(exc, TransientMailError):
        return "transient"
    if isinstance(exc, PermanentMailError):
        return "permanent"
    return "error"


class NotifierMetrics:
    """The notifier's own counters (unregistered when no registry is given, as in tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.duplicates = Counter(
            "sightline_notifier_duplicates",
            "Events dropped because every action they ask for was already done (redelivery).",
            registry=registry,
        )
        self.photos_missing = Counter(
            "sightline_notifier_photos_missing",
            "E-mailed events without their photo, by the internal reason.",
            ["reason"],
            registry=registry,
        )
        self.bad_state_files = Counter(
            "sightline_notifier_bad_state_files",
            "Unreadable state files set aside as <name>.bad, by kind.",
            ["kind"],
            registry=registry,
        )
        self.emails_sent = Counter(
            "sightline_notifier_emails_sent",
            "Immediate e-mails the mail server (or the .eml directory) accepted.",
            registry=registry,
        )
        self.emails_failed = Counter(
            "sightline_notifier_emails_failed",
            "Immediate e-mail send attempts that failed, by reason (setup, transient, "
            "permanent, error).",
            ["reason"],
            registry=registry,
        )
        self.digests_sent = Counter(
            "sightline_notifier_digests_sent",
            "Digest e-mails the mail server (or the .eml directory) accepted.",
            registry=registry,
        )
        self.digests_failed = Counter(
            "sightline_notifier_digests_failed",
            "Digest send attempts that failed, by reason (setup, transient, permanent, error).",
            ["reason"],
            registry=registry,
        )
        for reason in FAILURE_REASONS:  # every series exists from the start, at 0
            self.emails_failed.labels(reason)
            self.digests_failed.labels(reason)

    @contextmanager
    def sending(self, key: str) -> Iterator[None]:
        """Count the send of the e-mail ``key`` wrapped in this block: sent when it ends,
        failed (by reason) when it raises; the exception goes on."""
        digest = key.startswith(DIGEST_KEY_PREFIX)
        try:
            yield
        except BaseException as exc:
            failed = self.digests_failed if digest else self.emails_failed
            failed.labels(failure_reason(exc)).inc()
            raise
        (self.digests_sent if digest else self.emails_sent).inc()
