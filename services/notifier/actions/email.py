"""``email_immediate``: an e-mail per event, sent once its snapshot is in (or waited for).

The handler records the event (``immediate/<event_id>.json``); the sending loop sends it
when the frame-store announced its snapshot or ``snapshot_wait_s`` passed, within the rule's
``rate_limit_per_hour``. Sending is recorded before and after (see :mod:`notifier.dispatch`).

Example:
    >>> from notifier.actions import registered
    >>> ActionKind.EMAIL_IMMEDIATE in registered()
    True
"""

from __future__ import annotations

import logging

from notifier.actions import ActionContext, register
from notifier.dispatch import Dispatcher, Outcome
from notifier.mailer import PermanentMailError, TransientMailError
from notifier.ratelimit import HOUR_S, RateLimiter
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import NotifierSection
from sightline.errors import MessageError
from sightline.messages import Event, decode_event
from sightline.messages.event import ActionKind

log = logging.getLogger(__name__)


class ImmediateEmail:
    """Records immediate e-mails and sends them when due."""

    def __init__(
        self, section: NotifierSection, store: StateStore, dispatcher: Dispatcher | None
    ) -> None:
        self.section = section
        self.store = store
        self.dispatcher = dispatcher
        self.limiter = RateLimiter(section.email.rate_limit_per_hour)
        if dispatcher is not None:
            for record in store.sent_since(dispatcher.started_at - HOUR_S):
                if record.get("outcome") == Outcome.SENT:
                    self.limiter.remember(str(record["rule"]), float(record["at"]))

    def accept(self, event: Event, pending: PendingEvent) -> tuple[int, int]:
        """Keep ``event`` to send, if it asks for an e-mail."""
        if not event.actions.email_immediate:
            return 0, 0
        return 1, int(not self.store.add_immediate(pending))

    def send_due(self, now: float) -> None:
        """Send every pending e-mail whose snapshot is in or was waited for."""
        for job in self.store.pending_immediate():
            self._immediate(job, now)

    def _immediate(self, job: PendingEvent, now: float) -> None:
        dispatcher = self.dispatcher
        assert dispatcher is not None, "sending needs the dispatcher"
        try:
            event = decode_event(job.payload)
        except MessageError as exc:  # a state file from an incompatible release
            dispatcher.dead_letter(
                job.topic, job.payload.encode(), f"pending e-mail unusable: {exc}"
            )
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
        event_id, rule = job.event_id, event.rule
        try:
            message = dispatcher.letters.immediate(event, waited)
        except OSError:  # the disk: an episode of the loop's, retried
            self.limiter.release(rule)
            raise
        except Exception as exc:  # this event's e-mail, not every one after it
            self.limiter.release(rule)
            reason = f"e-mail could not be composed: {type(exc).__name__}: {exc}"
            log.exception("%s (event %s)", reason, event_id, extra={"event_id": event_id})
            dispatcher.dead_letter(job.topic, job.payload.encode(), reason)
            self.store.finish_immediate(event_id, rule, Outcome.REFUSED)
            return
        if event_id not in dispatcher.began and self.store.immediate_began(event_id):
            log.warning(
                "the e-mail of event %s may have gone out before a crash or stop; sending it "
                "again with the same Message-ID",
                event_id,
            )
        try:
            self.store.begin_immediate(event_id, rule)  # no record, no e-mail
            dispatcher.began.add(event_id)
            dispatcher.send(message, event_id)
        except (TransientMailError, OSError):
            self.limiter.release(rule)
            raise
        except PermanentMailError as exc:
            self.limiter.release(rule)
            reason = f"e-mail refused: {exc}"
            log.error("%s (event %s)", reason, event_id)
            dispatcher.dead_letter(job.topic, job.payload.encode(), reason)
            dispatcher.record(
                event_id, lambda: self.store.finish_immediate(event_id, rule, Outcome.REFUSED)
            )
            return
        log.info("e-mail sent", extra={"event_id": event_id, "rule": rule})
        dispatcher.record(
            event_id, lambda: self.store.finish_immediate(event_id, rule, Outcome.SENT)
        )


@register(ActionKind.EMAIL_IMMEDIATE)
def build(context: ActionContext) -> ImmediateEmail:
    """The immediate e-mail action of ``context``."""
    return ImmediateEmail(context.section, context.store, context.dispatcher)
