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

import logging
from collections.abc import Callable
from email.message import EmailMessage

from notifier.actions import ActionContext, build_actions
from notifier.letters import LetterWriter
from notifier.mailer import Mailer, SmtpSetupError, TransientMailError
from notifier.smtphealth import SmtpHealth
from notifier.state import HELD, StateStore, disk_health
from sightline.backoff import Backoff
from sightline.config.notifier import NotifierSection
from sightline.writes import WriteEpisodes

log = logging.getLogger(__name__)

DeadLetter = Callable[[str, bytes, str], object]
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0


class Outcome:
    """What became of an immediate e-mail (recorded in the state)."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    REFUSED = "refused"


class Dispatcher:
    """Sends what the state says is due; call :meth:`tick` regularly.

    What is sent, and when, is each action's (:mod:`notifier.actions`, in ``ActionKind``
    order); the dispatcher holds what they share: the mail server, the back-off, the
    records of sendings begun and of outcomes not yet written.
    """

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
        self.started_at = now
        self.retry_at = 0.0
        self.backoff = Backoff(BACKOFF_MIN_S, BACKOFF_MAX_S)
        self.actions = build_actions(ActionContext(section, store, dispatcher=self))

    def tick(self, now: float) -> None:
        """Send every immediate e-mail and digest that is due now."""
        if now < self.retry_at:
            return
        try:
            self._record_unrecorded()
            for action in self.actions.values():
                action.send_due(now)
        except TransientMailError as exc:
            delay = self._back_off(now)
            log.warning("mail server unavailable, retrying in %.0f s: %s", delay, exc)
            return
        except OSError as exc:  # said once per episode
            self.disk.failed(exc, now, "e-mails", HELD["e-mails"])
            self._back_off(now)
            return
        self.disk.recovered("e-mails")
        self.backoff.reset()

    def _back_off(self, now: float) -> float:
        """Wait a jittered, doubling while before the next try; return that wait."""
        delay = self.backoff.next_delay()
        self.retry_at = now + delay
        return delay

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

    def record(self, key: str, record: Callable[[], None]) -> None:
        """Write the outcome of the e-mail ``key`` (see :meth:`_record`)."""
        self._record(key, record)

    def send(self, message: EmailMessage, key: str) -> None:
        """Send ``message`` (named ``key``), telling the SMTP health how it went."""
        self._send(message, key)

    def _send(self, message: EmailMessage, key: str) -> None:
        try:
            with self.store.metrics.sending(key):
                self.mailer.send(message, key)
        except SmtpSetupError as exc:
            self.smtp_health.setup_failed(str(exc))
            raise
        self.smtp_health.delivered()
