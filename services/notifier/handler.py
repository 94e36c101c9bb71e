"""The MQTT handler: decode, write the JSON log, persist what is to be sent, then return.

Nothing slow happens here; the :mod:`notifier.dispatch` loop sends from the state on disk.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from notifier.jsonlog import JsonLog
from notifier.schedule import schedule_of
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import DigestConfig
from sightline.errors import MessageError, TopicError
from sightline.messages import Event, MessageLimits, decode_event, decode_snapshot
from sightline.mqtt import ReceivedMessage
from sightline.topics import Topics

log = logging.getLogger(__name__)

SNAPSHOT_KIND = "snapshot"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_event_id(event_id: str) -> str:
    """``event_id`` if it can name a state file; MessageError otherwise.

    Example:
        >>> check_event_id("driveway-line_cross-0a1b")
        'driveway-line_cross-0a1b'
    """
    if not _SAFE_ID.match(event_id):
        raise MessageError(
            f"event_id: {event_id!r} must be letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    return event_id


class EventHandler:
    """Handles ``events/#``: events and the frame-store's snapshot announcements."""

    def __init__(
        self,
        store: StateStore,
        json_log: JsonLog,
        digests: list[DigestConfig],
        timezone: str,
        topics: Topics,
        limits: MessageLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.json_log = json_log
        self.digests = {digest.name: digest for digest in digests}
        self.schedules = {digest.name: schedule_of(digest, timezone) for digest in digests}
        self.topics = topics
        self.limits = limits
        self.clock = clock

    def __call__(self, message: ReceivedMessage) -> None:
        """Handle one message; raise MessageError for one that cannot be used."""
        try:
            camera_id, kind = self.topics.parse_event(message.topic)
        except TopicError as exc:
            raise MessageError(f"topic: {exc}") from None
        if kind == SNAPSHOT_KIND:
            announcement = decode_snapshot(message.payload, self.limits)
            check_event_id(announcement.event_id)
            self.store.add_snapshot(announcement.event_id, message.payload.decode())
            return
        event = decode_event(message.payload, self.limits)
        check_event_id(event.event_id)
        if event.camera_id != camera_id or event.event_type.topic_level != kind:
            raise MessageError(
                f"topic: {message.topic!r} does not match camera_id {event.camera_id!r} "
                f"and event_type {event.event_type.value!r}"
            )
        self.handle_event(event, message.topic, message.payload)

    def handle_event(self, event: Event, topic: str, payload: bytes) -> None:
        """Do what ``event.actions`` ask, durably, idempotently by ``event_id``."""
        actions = event.actions
        if actions.json_log:
            self.json_log.append(event)
        now = self.clock()
        pending = PendingEvent(event.event_id, topic, payload.decode(), now)
        if actions.email_immediate:
            self.store.add_immediate(pending)
        for name in actions.email_digest:
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
                start = self.schedules[name].period_start(now)
                self.store.add_to_digest(name, start, pending)


def wants(digest: DigestConfig, event: Event) -> bool:
    """True if ``digest``'s rule and camera filters let ``event`` in."""
    if digest.rules is not None and event.rule not in digest.rules:
        return False
    return digest.cameras is None or event.camera_id in digest.cameras
