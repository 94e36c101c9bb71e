"""The sending loop: immediate e-mails when their snapshot is in, digests when due.

It works only from the state on disk, so a restart picks up where the last run stopped.
A transient failure pauses all sending with a growing back-off (the server is down);
a permanent one dead-letters that e-mail and the rest go on. A failure that is the
configuration's fault (login refused) is transient too, and also reported to
:class:`~notifier.smtphealth.SmtpHealth`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from email.message import EmailMessage

from notifier.letters import LetterWriter
from notifier.mailer import Mailer, PermanentMailError, SmtpSetupError, TransientMailError
from notifier.ratelimit import HOUR_S, RateLimiter
from notifier.schedule import schedule_of
from notifier.smtphealth import SmtpHealth
from notifier.state import DigestPeriod, PendingEvent, StateStore
from sightline.config.notifier import NotifierSection
from sightline.errors import MessageError
from sightline.messages import decode_event

log = logging.getLogger(__name__)

DeadLetter = Callable[[str, bytes, str], object]
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0
DIGEST_GRACE_S = 2.0
"""A period is sent this long after it ends, so an event the handler is still writing
into it (on the MQTT worker thread) is in the e-mail."""


class Outcome:
    """What became of an immediate e-mail (recorded in the state)."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    REFUSED = "refused"


class Dispatcher:
    """Sends what the state says is due; call :meth:`tick` regularly."""

    def __init__(
        self,
        section: NotifierSection,
        store: StateStore,
        mailer: Mailer,
        dead_letter: DeadLetter,
        smtp_health: SmtpHealth,
        now: float,
    ) -> None:
        self.section = section
        self.store = store
        self.mailer = mailer
        self.dead_letter = dead_letter
        self.smtp_health = smtp_health
        self.letters = LetterWriter(section, store)
        self.digests = {digest.name: digest for digest in section.digests}
        self.schedules = {d.name: schedule_of(d, section.timezone) for d in section.digests}
        self.limiter = RateLimiter(section.email.rate_limit_per_hour)
        for record in store.sent_since(now - HOUR_S):
            if record.get("outcome") == Outcome.SENT:
                self.limiter.remember(str(record["rule"]), float(record["at"]))
        self.retry_at = 0.0
        self.backoff_s = BACKOFF_MIN_S

    def tick(self, now: float) -> None:
        """Send every immediate e-mail and digest that is due now."""
        if now < self.retry_at:
            return
        try:
            for job in self.store.pending_immediate():
                self._immediate(job, now)
            for period in self.store.digest_periods():
                self._digest(period, now)
        except TransientMailError as exc:
            self.retry_at = now + self.backoff_s
            log.warning("mail server unavailable, retrying in %.0f s: %s", self.backoff_s, exc)
            self.backoff_s = min(self.backoff_s * 2, BACKOFF_MAX_S)
            return
        self.backoff_s = BACKOFF_MIN_S

    def _immediate(self, job: PendingEvent, now: float) -> None:
        try:
            event = decode_event(job.payload)
        except MessageError as exc:  # a state file from an incompatible release
            self.dead_letter(job.topic, job.payload.encode(), f"pending e-mail unusable: {exc}")
            self.store.finish_immediate(job.event_id, "?", Outcome.REFUSED)
            return
        waited = now - job.received_at
        if (
            event.actions.snapshot
            and self.store.snapshot(event.event_id) is None
            and waited < self.section.snapshot_wait_s
        ):
            return  # the frame-store may still announce it
        if not self.limiter.try_acquire(event.rule, now):
            log.info("rate limit of rule %r reached: no e-mail for %s", event.rule, job.event_id)
            self.store.finish_immediate(job.event_id, event.rule, Outcome.RATE_LIMITED)
            return
        message = self.letters.immediate(event, waited)
        try:
            self._send(message, job.event_id)
        except TransientMailError:
            self.limiter.release(event.rule)
            raise
        except PermanentMailError as exc:
            self.limiter.release(event.rule)
            reason = f"e-mail refused: {exc}"
            log.error("%s (event %s)", reason, job.event_id)
            self.dead_letter(job.topic, job.payload.encode(), reason)
            self.store.finish_immediate(job.event_id, event.rule, Outcome.REFUSED)
            return
        self.store.finish_immediate(job.event_id, event.rule, Outcome.SENT)
        log.info("e-mail sent", extra={"event_id": job.event_id, "rule": event.rule})

    def _digest(self, period: DigestPeriod, now: float) -> None:
        if period.sent:
            return
        digest = self.digests.get(period.name)
        if digest is None:
            log.warning("digest %r is no longer configured: dropping a period", period.name)
            self.store.finish_digest(period, "unconfigured", 0)
            return
        end = self.schedules[period.name].period_end(period.start)
        if now < end + DIGEST_GRACE_S:
            return
        records = period.events()
        message = self.letters.digest(digest, period.start, end, records)
        key = f"digest-{period.name}-{period.start}"
        try:
            self._send(message, key)
        except PermanentMailError as exc:
            reason = f"digest e-mail refused: {exc}"
            log.error(reason, extra={"digest": period.name})
            ids = json.dumps({"digest": period.name, "events": [r.event_id for r in records]})
            self.dead_letter(f"digest/{period.name}", ids.encode(), reason)
            self.store.finish_digest(period, Outcome.REFUSED, len(records))
            return
        self.store.finish_digest(period, Outcome.SENT, len(records))
        log.info("digest sent", extra={"digest": period.name, "events": len(records)})

    def _send(self, message: EmailMessage, key: str) -> None:
        try:
            self.mailer.send(message, key)
        except SmtpSetupError as exc:
            self.smtp_health.setup_failed(str(exc))
            raise
        self.smtp_health.delivered()
