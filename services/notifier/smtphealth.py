"""Whether the mail server accepts us at all: failures that are no e-mail's fault.

A refused login (535) or sender makes every e-mail fail alike. The e-mails stay pending;
this tracker logs each such failure as the configuration problem it is, counts it in
``/metrics`` and turns unhealthy after a few in a row, until an e-mail goes out again.

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> health = SmtpHealth(CollectorRegistry(), unhealthy_after=2)
    >>> health.setup_failed("535 bad credentials"); health.ok()
    True
    >>> health.setup_failed("535 bad credentials"); health.ok()
    False
    >>> health.delivered(); health.ok()
    True
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

UNHEALTHY_AFTER = 3


class SmtpHealth:
    """Consecutive setup failures of the mail server, as a health check and metrics."""

    def __init__(self, registry: CollectorRegistry, unhealthy_after: int = UNHEALTHY_AFTER):
        self.unhealthy_after = unhealthy_after
        self.consecutive = 0
        self.failures = Counter(
            "sightline_notifier_smtp_setup_failures",
            "Sends refused for a reason no e-mail causes (login, sender): a config problem.",
            registry=registry,
        )
        self.healthy = Gauge(
            "sightline_notifier_smtp_ok",
            "1 while the mail server accepts the notifier's login and sender, 0 after "
            "unhealthy_after setup failures in a row, -1 until the first send says which.",
            registry=registry,
        )
        self.healthy.set(-1)

    def setup_failed(self, reason: str) -> None:
        """Record and log loudly a failure that is the configuration's fault."""
        self.consecutive += 1
        self.failures.inc()
        self.healthy.set(0 if not self.ok() else 1)
        log.error(
            "SMTP configuration problem, e-mails are kept pending until it is fixed "
            "(check notifier.smtp host, username, password_file and notifier.email.sender): %s",
            reason,
            extra={"check": "smtp", "consecutive_failures": self.consecutive},
        )

    def delivered(self) -> None:
        """An e-mail went out: the server accepts us."""
        if self.consecutive:
            log.info("SMTP works again after %d failed attempt(s)", self.consecutive)
        self.consecutive = 0
        self.healthy.set(1)

    def ok(self) -> bool:
        """False after ``unhealthy_after`` setup failures in a row (a health check)."""
        return self.consecutive < self.unhealthy_after
