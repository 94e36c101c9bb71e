"""``email_digest``: events collected per digest and period, one e-mail when it ends.

The handler files the event under each digest it names whose rule and camera filters let
it in (``digests/<name>/<period>/<event_id>.json``); the sending loop sends a period's
digest :data:`DIGEST_GRACE_S` after the period ends.

Example:
    >>> from notifier.actions import registered
    >>> ActionKind.EMAIL_DIGEST in registered()
    True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from notifier.actions import ActionContext, register
from notifier.dispatch import Dispatcher, Outcome
from notifier.mailer import PermanentMailError
from notifier.schedule import DigestSchedule, schedule_of
from notifier.state import DigestPeriod, PendingEvent, StateStore
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.errors import MessageError
from sightline.messages import Event, decode_event
from sightline.messages.event import ActionKind

log = logging.getLogger(__name__)

DIGEST_GRACE_S = 2.0
"""A period is sent this long after it ends, so an event the handler is still writing
into it (on the MQTT worker thread) is in the e-mail."""


class Digests:
    """Collects events into digest periods and sends each period's digest when it ends."""

    def __init__(
        self, section: NotifierSection, store: StateStore, dispatcher: Dispatcher | None
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.digests = {digest.name: digest for digest in section.digests}
        self.schedules = {d.name: schedule_of(d, section.timezone) for d in section.digests}

    def accept(self, event: Event, pending: PendingEvent) -> tuple[int, int]:
        """File ``event`` under each configured digest it names and that lets it in."""
        asked = done = 0
        for name in event.actions.email_digest:
            digest = self.digests.get(name)
            if digest is None:
                log.warning(
                    "event %s asks for digest %r, which is not configured",
                    event.event_id,
                    name,
                    extra={"digests": sorted(self.digests)},
                )
                continue
            if wants(digest, event):
                schedule = self.schedules[name]
                start = schedule.period_start(pending.received_at)
                asked += 1
                filed = self.store.add_to_digest(name, periods_from(schedule, start), pending)
                done += filed is None
                if filed is not None and filed != start:
                    log.info(
                        "event %s goes into the next digest %s: the one of its period "
                        "went out already",
                        event.event_id,
                        name,
                        extra={"digest": name, "period_start": filed},
                    )
        return asked, done

    def send_due(self, now: float) -> None:
        """Send the digest of every period that ended."""
        for period in self.store.digest_periods():
            self._digest(period, now)

    def _digest(self, period: DigestPeriod, now: float) -> None:
        if period.sent:
            return
        dispatcher = self.dispatcher
        assert dispatcher is not None, "sending needs the dispatcher"
        digest = self.digests.get(period.name)
        if digest is None:
            log.warning("digest %r is no longer configured: dropping a period", period.name)
            self.store.finish_digest(period, "unconfigured", 0)
            return
        end = self.schedules[period.name].period_end(period.start)
        if now < end + DIGEST_GRACE_S:
            return
        key = f"digest-{period.name}-{period.start}"
        if key not in dispatcher.began and period.began:
            log.warning(
                "digest %s may have gone out before a crash or stop; sending it again "
                "with the same Message-ID",
                key,
            )
        records = self._usable(self.store.close_digest(period))  # no record, no e-mail
        dispatcher.began.add(key)
        try:
            message = dispatcher.letters.digest(digest, period.start, end, records)
        except OSError:  # the disk: an episode of the loop's, retried
            raise
        except Exception as exc:  # this digest, not every e-mail after it
            reason = f"digest could not be composed: {type(exc).__name__}: {exc}"
            log.exception(reason, extra={"digest": period.name})
            ids = json.dumps({"digest": period.name, "events": [r.event_id for r in records]})
            dispatcher.dead_letter(f"digest/{period.name}", ids.encode(), reason)
            self.store.finish_digest(period, Outcome.REFUSED, len(records))
            return
        try:
            dispatcher.send(message, key)
        except PermanentMailError as exc:
            reason = f"digest e-mail refused: {exc}"
            log.error(reason, extra={"digest": period.name})
            ids = json.dumps({"digest": period.name, "events": [r.event_id for r in records]})
            dispatcher.dead_letter(f"digest/{period.name}", ids.encode(), reason)
            count = len(records)
            dispatcher.record(key, lambda: self.store.finish_digest(period, Outcome.REFUSED, count))
            return
        count = len(records)
        log.info("digest sent", extra={"digest": period.name, "events": count})
        dispatcher.record(key, lambda: self.store.finish_digest(period, Outcome.SENT, count))

    def _usable(self, records: list[PendingEvent]) -> list[PendingEvent]:
        """``records`` less those whose event no longer reads (a state file from an
        incompatible release, an edited one): each dead-lettered, the digest goes on."""
        dispatcher = self.dispatcher
        assert dispatcher is not None, "sending needs the dispatcher"
        usable = []
        for record in records:
            try:
                decode_event(record.payload)
            except MessageError as exc:
                reason = f"digest entry unusable: {exc}"
                log.error("%s (event %s)", reason, record.event_id)
                dispatcher.dead_letter(record.topic, record.payload.encode(), reason)
                continue
            usable.append(record)
        return usable


def periods_from(schedule: DigestSchedule, start: int) -> Iterator[int]:
    """The starts of ``schedule``'s periods from ``start`` on, each where the last ended."""
    while True:
        yield start
        start = schedule.period_end(start)


def wants(digest: DigestConfig, event: Event) -> bool:
    """True if ``digest``'s rule and camera filters let ``event`` in."""
    if digest.rules is not None and event.rule not in digest.rules:
        return False
    return digest.cameras is None or event.camera_id in digest.cameras


@register(ActionKind.EMAIL_DIGEST)
def build(context: ActionContext) -> Digests:
    """The digest action of ``context``."""
    return Digests(context.section, context.store, context.dispatcher)
