"""The MQTT handler: decode, write the JSON log, persist what is to be sent, then return.

Nothing slow happens here; the :mod:`notifier.dispatch` loop sends from the state on disk.
What an event asks for is each action's to record (:mod:`notifier.actions`, its registry).
A snapshot announcement's photo is stored (atomically, durably) before it is acknowledged.
A write that fails raises :class:`~sightline.errors.RetryLater`: the message is not
acknowledged and the MQTT client handles it again after a back-off, taking no new work
meanwhile; :func:`~notifier.state.disk_health` says so on ``/healthz`` and in the log.
An event whose every action was already done (a redelivery) is counted in
``sightline_notifier_duplicates_total`` and logged at debug.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from notifier.actions import ActionContext, build_actions
from notifier.jsonlog import JsonLog
from notifier.metrics import NotifierMetrics
from notifier.snapshots import decode_photo
from notifier.state import HELD, PendingEvent, StateStore, disk_health
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.errors import MessageError, RetryLater, TopicError
from sightline.ids import file_safe
from sightline.messages import Event, MessageLimits, decode_event, decode_snapshot, encode
from sightline.mqtt import ReceivedMessage
from sightline.topics import Topics
from sightline.writes import WriteEpisodes

log = logging.getLogger(__name__)

SNAPSHOT_KIND = "snapshot"
SNAPSHOT_MAX_BYTES = 16 * 1_048_576
"""An announcement carries the annotated JPEG (base64): it may be larger than an event."""


def check_event_id(event_id: str) -> str:
    """``event_id`` if it can name a state file (:func:`sightline.ids.file_safe`, the one
    rule); MessageError naming ``event_id`` otherwise.

    Example:
        >>> check_event_id("driveway-line_cross-0a1b")
        'driveway-line_cross-0a1b'
        >>> check_event_id("..")
        Traceback (most recent call last):
        ...
        sightline.errors.MessageError: event_id '..' cannot name a file: must start with a letter or a digit
    """
    try:
        return file_safe(event_id, "event_id")
    except TopicError as exc:
        raise MessageError(str(exc)) from None


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
        disk: WriteEpisodes | None = None,
        metrics: NotifierMetrics | None = None,
        section: NotifierSection | None = None,
    ) -> None:
        """``section`` configures the actions; without it, one with these ``digests`` and
        ``timezone`` and every other setting at its default."""
        self.store = store
        self.disk = disk or disk_health()
        self.metrics = metrics or store.metrics
        self.json_log = json_log
        if section is None:
            section = NotifierSection(timezone=timezone, digests=digests)
        self.actions = build_actions(ActionContext(section, store, json_log=json_log))
        self.topics = topics
        self.limits = limits
        self.snapshot_limits = dataclasses.replace(
            limits, max_payload_bytes=max(limits.max_payload_bytes, SNAPSHOT_MAX_BYTES)
        )
        self.clock = clock

    def __call__(self, message: ReceivedMessage) -> None:
        """Handle one message; MessageError for one that cannot be used, RetryLater for a
        write that failed."""
        try:
            self.handle(message)
        except OSError as exc:
            self.disk.failed(exc, time.monotonic(), "events", HELD["events"])
            raise RetryLater(f"cannot write the notifier's state: {exc}") from exc
        self.disk.recovered("events")

    def handle(self, message: ReceivedMessage) -> None:
        """Decode ``message`` and record what it asks for (OSError when a write fails)."""
        try:
            camera_id, kind = self.topics.parse_event(message.topic)
        except TopicError as exc:
            raise MessageError(f"topic: {exc}") from None
        if kind == SNAPSHOT_KIND:
            self.handle_snapshot(camera_id, message.payload)
            return
        event = decode_event(message.payload, self.limits)
        check_event_id(event.event_id)
        if event.camera_id != camera_id or event.event_type.topic_level != kind:
            raise MessageError(
                f"topic: {message.topic!r} does not match camera_id {event.camera_id!r} "
                f"and event_type {event.event_type.value!r}"
            )
        self.handle_event(event, message.topic, message.payload)

    def handle_snapshot(self, camera_id: str, payload: bytes) -> None:
        """Keep the announcement and the photo it carries, keyed by its event id."""
        announcement = decode_snapshot(payload, self.snapshot_limits)
        check_event_id(announcement.event_id)
        if announcement.camera_id != camera_id:
            raise MessageError(
                f"camera_id: {announcement.camera_id!r} does not match the topic's {camera_id!r}"
            )
        photo = decode_photo(announcement.image) if announcement.image is not None else None
        without_image = announcement.model_copy(update={"image": None})
        self.store.add_snapshot(announcement.event_id, encode(without_image).decode(), photo)

    def handle_event(self, event: Event, topic: str, payload: bytes) -> None:
        """Do what ``event.actions`` ask, durably, idempotently by ``event_id``."""
        pending = PendingEvent(event.event_id, topic, payload.decode(), self.clock())
        asked = done = 0
        for action in self.actions.values():
            action_asked, action_done = action.accept(event, pending)
            asked, done = asked + action_asked, done + action_done
        if asked and done == asked:
            self.metrics.duplicates.inc()
            log.debug("duplicate event dropped: already done", extra={"event_id": event.event_id})
