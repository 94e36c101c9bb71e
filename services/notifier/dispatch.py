"""The sending loop: immediate e-mails when their snapshot is in, digests when due.

It works only from the state on disk, so a restart picks up where the last run stopped.
A transient failure pauses all sending with a growing back-off (the server is down);
a permanent one dead-letters that e-mail and the rest go on. A failure that is the
configuration's fault (login refused) is transient too, and also reported to
:class:`~notifier.smtphealth.SmtpHealth`.

An e-mail is never sent twice because its record could not be written: before sending, the
loop records that the sending begins (``sending/<id>.json``, ``digest.sending``); if that
write fails nothing is sent. If the outcome cannot be recorded after a send (the disk filled
in between), the loop keeps it in memory and sends nothing else until it is written. What
remains at least once: a process that dies between the send and the record (SIGKILL, power,
or a stop while the disk is still full) finds the "sending" record at its restart and sends
that one e-mail again, with the same Message-ID, saying so in its log. While writes fail,
:func:`~notifier.state.disk_health` fails ``/healthz`` and the loop backs off.
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
from notifier.state import HELD, DigestPeriod, PendingEvent, StateStore, disk_health
from sightline.config.notifier import NotifierSection
from sightline.errors import MessageError
from sightline.messages import decode_event
from sightline.writes import WriteEpisodes

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
        disk: WriteEpisodes | None = None,
    ) -> None:
        self.section = section
        self.store = store
        self.mailer = mailer
        self.dead_letter = dead_letter
        self.smtp_health = smtp_health
        self.disk = disk or disk_health()
        self.letters = LetterWriter(section, store)
        self.began: set[str] = set()
        """E-mails whose sending this process began (a "sending" record of another was a crash)."""
        self.unrecorded: dict[str, Callable[[], None]] = {}
        """Outcomes of e-mails that went out but could not be written yet, by e-mail key."""
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
            self._record_unrecorded()
            for job in self.store.pending_immediate():
                self._immediate(job, now)
            for period in self.store.digest_periods():
                self._digest(period, now)
        except TransientMailError as exc:
            log.warning("mail server unavailable, retrying in %.0f s: %s", self.backoff_s, exc)
            self._back_off(now)
            return
        except OSError as exc:  # said once per episode
            self.disk.failed(exc, now, "e-mails", HELD["e-mails"])
            self._back_off(now)
            return
        self.disk.recovered("e-mails")
        self.backoff_s = BACKOFF_MIN_S

    def _back_off(self, now: float) -> None:
        self.retry_at = now + self.backoff_s
        self.backoff_s = min(self.backoff_s * 2, BACKOFF_MAX_S)

    def record_on_stop(self) -> None:
        """At a clean stop, write outcomes still held in memory, if the disk takes them now."""
        try:
            self._record_unrecorded()
        except OSError as exc:
            log.error(
                "stopping with %d sent e-mail(s) unrecorded (%s): they go again after a restart",
                len(self.unrecorded),
                exc,
                extra={"unrecorded": sorted(self.unrecorded)},
            )

    def _record_unrecorded(self) -> None:
        for key, record in list(self.unrecorded.items()):
            record()
            del self.unrecorded[key]
            self.began.discard(key)
            log.info("outcome of %s recorded after the disk took writes again", key)

    def _record(self, key: str, record: Callable[[], None]) -> None:
        """Write an outcome; if that fails, keep it to write before anything else is sent."""
        try:
            record()
        except OSError:
            self.unrecorded[key] = record
            raise
        self.began.discard(key)

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
        event_id, rule = job.event_id, event.rule
        if event_id not in self.began and self.store.immediate_began(event_id):
            log.warning(
                "the e-mail of event %s may have gone out before a crash or stop; sending it "
                "again with the same Message-ID",
                event_id,
            )
        try:
            self.store.begin_immediate(event_id, rule)  # no record, no e-mail
            self.began.add(event_id)
            self._send(message, event_id)
        except (TransientMailError, OSError):
            self.limiter.release(rule)
            raise
        except PermanentMailError as exc:
            self.limiter.release(rule)
            reason = f"e-mail refused: {exc}"
            log.error("%s (event %s)", reason, event_id)
            self.dead_letter(job.topic, job.payload.encode(), reason)
            self._record(
                event_id, lambda: self.store.finish_immediate(event_id, rule, Outcome.REFUSED)
            )
            return
        log.info("e-mail sent", extra={"event_id": event_id, "rule": rule})
        self._record(event_id, lambda: self.store.finish_immediate(event_id, rule, Outcome.SENT))

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
        records = self.store.digest_events(period)
        message = self.letters.digest(digest, period.start, end, records)
        key = f"digest-{period.name}-{period.start}"
        if key not in self.began and period.began:
            log.warning(
                "digest %s may have gone out before a crash or stop; sending it again "
                "with the same Message-ID",
                key,
            )
        try:
            self.store.begin_digest(period)  # no record, no e-mail
            self.began.add(key)
            self._send(message, key)
        except PermanentMailError as exc:
            reason = f"digest e-mail refused: {exc}"
            log.error(reason, extra={"digest": period.name})
            ids = json.dumps({"digest": period.name, "events": [r.event_id for r in records]})
            self.dead_letter(f"digest/{period.name}", ids.encode(), reason)
            count = len(records)
            self._record(key, lambda: self.store.finish_digest(period, Outcome.REFUSED, count))
            return
        count = len(records)
        log.info("digest sent", extra={"digest": period.name, "events": count})
        self._record(key, lambda: self.store.finish_digest(period, Outcome.SENT, count))

    def _send(self, message: EmailMessage, key: str) -> None:
        try:
            with self.store.metrics.sending(key):
                self.mailer.send(message, key)
        except SmtpSetupError as exc:
            self.smtp_health.setup_failed(str(exc))
            raise
        self.smtp_health.delivered()
