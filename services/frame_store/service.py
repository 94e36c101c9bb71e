"""The frame-store's work: keep frames, match events to frames, store, announce, clean up.

Handlers run on the MQTT worker thread and never wait for a late frame: an event whose frame
has not come yet is persisted as pending and resolved by a later frame or, after
``frame_wait_s``, by :meth:`FrameStore.expire` on the main loop.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from frame_store.homeassistant import image_discovery
from frame_store.ledger import AnnouncedLedger
from frame_store.metrics import FrameStoreMetrics
from frame_store.pending import PendingEvent, PendingEvents
from frame_store.pictures import StoredPictures, frame_of, store_pictures
from frame_store.retention import DAY_S, RetentionPolicy, apply_retention
from frame_store.ring import FrameTooLargeError, RecentFrame, RecentFrames
from frame_store.storage import PictureStore, StorageError
from sightline.config.frames import FrameStoreSection
from sightline.errors import MessageError, RetryLater
from sightline.messages import (
    Event,
    MessageLimits,
    SnapshotAnnouncement,
    decode_envelope,
    decode_event,
)
from sightline.mqtt import MqttClient, PendingPublish, ReceivedMessage

log = logging.getLogger(__name__)

PUBLISH_CONFIRM_S = 5.0
_FILE_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class FrameStore:
    """Frames in, snapshots and announcements out.

    Args:
        config: the ``frame_store`` section.
        client: the service's MQTT client (handlers are subscribed by :meth:`subscribe`).
        state_dir: where pending events and the announced ledger survive restarts.
        limits: what is accepted on the wire.
        metrics: where counts go.
        store: where the pictures go (see :func:`frame_store.stores.open_store`).
        clock: wall-clock seconds (tests pass their own).
    """

    def __init__(
        self,
        config: FrameStoreSection,
        client: MqttClient,
        state_dir: Path,
        limits: MessageLimits,
        metrics: FrameStoreMetrics,
        store: PictureStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.client = client
        self.limits = limits
        self.event_limits = MessageLimits()  # events are small: the 16 MiB is for frames
        self.metrics = metrics
        self.clock = clock
        self.store = store
        self.ring = RecentFrames(config.ring.max_frames, config.ring.max_bytes)
        self.pending = PendingEvents(state_dir / "pending")
        self.ledger = AnnouncedLedger(state_dir / "announced")
        self.retention = RetentionPolicy.from_config(config.retention)
        self._resolving = threading.Lock()
        self._cameras: set[str] = set()

    def subscribe(self) -> None:
        """Subscribe the handlers; reload what a previous run left pending."""
        reloaded = self.pending.load()
        self.metrics.pending.set(reloaded)
        if reloaded:
            log.info("reloaded %d pending events", reloaded)
        topics = self.client.topics
        self.client.subscribe(topics.all_frames, self.handle_frame, "frames")
        self.client.subscribe(topics.all_events, self.handle_event, "events")
        self.client.subscribe(str(topics.homeassistant_status), self.handle_ha_status, "ha")

    # -- handlers (MQTT worker thread) ------------------------------------------------------

    def handle_frame(self, message: ReceivedMessage) -> None:
        """Keep the frame; resolve the camera's pending events it decides."""
        camera_id = self.client.topics.parse_frames(message.topic)
        envelope = decode_envelope(message.payload, self.limits)
        if envelope.camera_id != camera_id:
            raise MessageError(
                f"source.camera_id: {envelope.camera_id!r} does not match the topic's {camera_id!r}"
            )
        frame = frame_of(envelope)
        try:
            self.ring.add(camera_id, frame)
        except FrameTooLargeError as exc:
            raise MessageError(f"frame_data: {exc}") from None
        self.metrics.frames.inc()
        if camera_id not in self._cameras:
            self._cameras.add(camera_id)
            self._publish_discovery(camera_id)
        for pending in self.pending.of_camera(camera_id):
            decided, chosen = self._choose(pending.event)
            if decided:
                try:
                    self._resolve(pending.event, chosen)
                except StorageError as exc:  # stays pending; expire() tries again
                    log.warning("storage failed; event stays pending: %s", exc)
                    return

    def handle_event(self, message: ReceivedMessage) -> None:
        """Store the event's snapshot now if its frame is here, else persist it as pending."""
        camera_id, kind = self.client.topics.parse_event(message.topic)
        if kind == "snapshot":
            return  # our own announcements
        event = decode_event(message.payload, self.event_limits)
        if event.camera_id != camera_id:
            raise MessageError(
                f"camera_id: {event.camera_id!r} does not match the topic's {camera_id!r}"
            )
        if not _FILE_SAFE_ID.match(event.event_id):
            raise MessageError(f"event_id: {event.event_id!r} cannot name a file")
        if not event.actions.snapshot:
            return
        if event.event_id in self.ledger or event.event_id in self.pending:
            self.metrics.duplicates.inc()
            log.info("event already handled", extra={"event_id": event.event_id})
            return
        decided, chosen = self._choose(event)
        if decided:
            try:
                self._resolve(event, chosen)
            except StorageError as exc:
                raise RetryLater(f"storage failed: {exc}") from exc
        else:
            self.pending.add(PendingEvent(event, self.clock() + self.config.frame_wait_s))
            self.metrics.pending.set(len(self.pending))

    def handle_ha_status(self, message: ReceivedMessage) -> None:
        """Home Assistant came back: publish the discovery configs again."""
        if message.payload.strip() == b"online":
            for camera_id in sorted(self._cameras):
                self._publish_discovery(camera_id)

    # -- main loop --------------------------------------------------------------------------

    def expire(self) -> int:
        """Resolve the pending events whose wait is over, with the nearest frame or none."""
        expired = self.pending.expired(self.clock())
        for pending in expired:
            event = pending.event
            window = self.config.window_frames
            self._resolve(event, self.ring.nearest(event.camera_id, event.frame_number, window))
        return len(expired)

    def apply_retention(self) -> None:
        """Delete what retention says must go; forget ids announced longer ago than that."""
        report = apply_retention(self.store, self.retention, self.clock())
        self.metrics.retention_removed.inc(len(report.removed))
        self.metrics.retention_freed_bytes.inc(report.freed_bytes)
        if report.removed:
            log.info(
                "retention done",
                extra={"removed": len(report.removed), "freed_bytes": report.freed_bytes},
            )
        longest = max([self.retention.days, *self.retention.per_camera_days.values()])
        self.ledger.forget_older_than(longest * DAY_S + DAY_S, self.clock())

    # -- resolving --------------------------------------------------------------------------

    def _choose(self, event: Event) -> tuple[bool, RecentFrame | None]:
        """``(decided, frame)``: decided once the exact frame is here, or the camera's stream
        has gone past the window (no better frame can come), or nothing is awaited."""
        window = self.config.window_frames
        exact = self.ring.nearest(event.camera_id, event.frame_number, 0)
        if exact is not None:
            return True, exact
        newest = self.ring.newest_number(event.camera_id)
        past_window = newest is not None and newest >= event.frame_number + window
        if past_window or self.config.frame_wait_s == 0:
            return True, self.ring.nearest(event.camera_id, event.frame_number, window)
        return False, None

    def _resolve(self, event: Event, frame: RecentFrame | None) -> None:
        with self._resolving:
            if event.event_id in self.ledger:
                self.pending.remove(event.event_id)
                return
            handles = self._announce(event, frame)
            for handle in handles:
                if not handle.wait(PUBLISH_CONFIRM_S):
                    log.warning("announcement not confirmed yet; the session will resend it")
            self.ledger.record(event.event_id)
            self.pending.remove(event.event_id)
            self.metrics.pending.set(len(self.pending))

    def _announce(self, event: Event, frame: RecentFrame | None) -> list[PendingPublish]:
        if frame is None:
            reason = (
                f"frame {event.frame_number} (or one within {self.config.window_frames} frames) "
                f"did not arrive within {self.config.frame_wait_s:g} s"
            )
            return self._announce_missing(event, reason)
        try:
            stored = store_pictures(self.store, event, frame, self.config.crop)
        except ValueError as exc:
            return self._announce_missing(event, f"frame {frame.number} could not be used: {exc}")
        return self._announce_stored(event, frame.number, stored)

    def _announce_stored(
        self, event: Event, frame_number: int, stored: StoredPictures
    ) -> list[PendingPublish]:
        topics = self.client.topics
        announcement = SnapshotAnnouncement(
            event_id=event.event_id,
            camera_id=event.camera_id,
            frame_number=frame_number,
            timestamp=event.timestamp,
            frame_ref=stored.annotated,
            files=stored.files,
        )
        handles = []
        if self.config.publish_latest:  # first, so it is in place when announced
            latest = topics.latest_snapshot(event.camera_id)
            handles.append(self.client.publish(latest, stored.annotated_jpeg, retain=True))
        handles.append(self.client.publish(topics.snapshot(event.camera_id), announcement))
        self.metrics.snapshots.inc()
        log.info("snapshot stored", extra={"event_id": event.event_id, "key": stored.annotated.key})
        return handles

    def _announce_missing(self, event: Event, reason: str) -> list[PendingPublish]:
        announcement = SnapshotAnnouncement(
            event_id=event.event_id,
            camera_id=event.camera_id,
            frame_number=event.frame_number,
            timestamp=event.timestamp,
            frame_ref=None,
            reason=reason,
        )
        self.metrics.snapshots_missing.inc()
        log.warning("snapshot missing", extra={"event_id": event.event_id, "reason": reason})
        return [self.client.publish(self.client.topics.snapshot(event.camera_id), announcement)]

    def _publish_discovery(self, camera_id: str) -> None:
        if not self.config.publish_latest:
            return
        topic, config = image_discovery(
            self.client.topics, camera_id, self.client.service, self.client.instance
        )
        self.client.publish(topic, json.dumps(config), retain=True)
