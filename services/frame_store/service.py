"""The frame-store's work: keep frames, match events to frames, store, announce, clean up.

Handlers run on the MQTT worker thread and never wait for a late frame: an event whose frame
has not come yet is persisted as pending and resolved by a later frame or, after
``frame_wait_s``, by :meth:`FrameStore.expire` on the main loop. Nor for the broker: an
announcement goes to a durable outbox that the main loop sends (:meth:`FrameStore.expire`).

A write that fails (``OSError``: disk full, read-only, I/O error, S3 away) is never
acknowledged nor dead-lettered: the handler raises :class:`~sightline.errors.RetryLater` (the
MQTT client handles the same message again after a back-off, taking nothing new meanwhile),
:attr:`FrameStore.trouble` says so once per episode, in a metric and to ``/healthz``, and
the work resumes where it stopped once a write succeeds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from frame_store.admission import CameraGate, checked_name, inside
from frame_store.homeassistant import image_discovery
from frame_store.ledger import AnnouncedLedger, Announcing
from frame_store.metrics import FrameStoreMetrics
from frame_store.pending import Outgoing, PendingAnnouncements, PendingEvent, PendingEvents
from frame_store.pictures import StoredPictures, announced_image, frame_of, store_pictures
from frame_store.retention import DAY_S, RetentionPolicy, apply_retention
from frame_store.ring import FrameTooLargeError, RecentFrame, RecentFrames
from frame_store.storage import FileStore, PictureKind, PictureStore
from sightline.config.frames import FrameStoreSection
from sightline.errors import MessageError, RetryLater, TopicError
from sightline.messages import (
    Event,
    FrameData,
    MessageLimits,
    SnapshotAnnouncement,
    decode_envelope,
    decode_event,
    encode,
)
from sightline.mqtt import MqttClient, ReceivedMessage
from sightline.writes import WriteEpisodes, describe

log = logging.getLogger(__name__)


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
        self.outbox = PendingAnnouncements(state_dir / "announcing")
        self.retention = RetentionPolicy.from_config(config.retention)
        self.cameras = CameraGate(config.cameras, config.max_cameras)
        self.trouble = WriteEpisodes(
            log,
            "cannot {what}: {described}; retrying with back-off, nothing is acknowledged meanwhile",
            "writing again after {count} failed attempts",
            min_delay_s=0.5,
            max_delay_s=30.0,
            on_failure=lambda part: metrics.write_failures.inc(),
            on_health=lambda ok: metrics.storage_writable.set(int(ok)),
        )
        self._resolving = threading.Lock()
        self._announcing: dict[str, Announcing] = {}
        """Sent from :attr:`outbox`, not yet confirmed by the broker and recorded."""

    def subscribe(self) -> None:
        """Subscribe the handlers; reload what a previous run left pending."""
        reloaded = self.pending.load()
        self.metrics.pending.set(reloaded)
        if reloaded:
            log.info("reloaded %d pending events", reloaded)
        unsent = self.outbox.load()
        if unsent:
            log.info("reloaded %d announcements to send", unsent)
        topics = self.client.topics
        self.client.subscribe(topics.all_frames, self.handle_frame, "frames")
        self.client.subscribe(topics.all_events, self.handle_event, "events")
        self.client.subscribe(str(topics.homeassistant_status), self.handle_ha_status, "ha")

    # -- handlers (MQTT worker thread) ------------------------------------------------------

    def handle_frame(self, message: ReceivedMessage) -> None:
        """Keep the frame; resolve the camera's pending events it decides."""
        self._catch_up()
        try:
            camera_id = self.client.topics.parse_frames(message.topic)
        except TopicError as exc:
            raise MessageError(f"topic: {exc}") from None
        envelope = decode_envelope(message.payload, self.limits)
        if envelope.camera_id != camera_id:
            raise MessageError(
                f"source.camera_id: {envelope.camera_id!r} does not match the topic's {camera_id!r}"
            )
        self._check_camera(camera_id, "source.camera_id")
        frame = frame_of(envelope, self.config.max_frame_pixels)
        if frame.size > self.config.ring.max_bytes:
            raise MessageError(
                f"frame_data: frame {frame.number} is {frame.size} bytes; the ring holds at "
                f"most {self.config.ring.max_bytes} bytes per camera"
            )
        self._admit(camera_id, "source.camera_id")
        newest = self.ring.newest_number(camera_id)
        if newest is not None and frame.number < newest:  # a new edge run empties the ring
            self._end_of_run(camera_id, envelope.source.timestamp)
        try:
            self.ring.add(camera_id, frame)
        except FrameTooLargeError as exc:  # pragma: no cover - checked above
            raise MessageError(f"frame_data: {exc}") from None
        self.metrics.frames.inc()
        for pending in self.pending.of_camera(camera_id):
            decided, chosen = self._choose(pending.event)
            if decided:  # the frame is not acknowledged until its events are stored
                self._writing("store the snapshot", partial(self._resolve, pending.event, chosen))

    def _end_of_run(self, camera_id: str, new_run_started: datetime) -> None:
        """The camera's edge started a new run: no later frame of the old one will come, so
        its pending events (those before the new run's first frame) take their nearest frame
        now, before the ring is emptied for the new run."""
        window = self.config.window_frames
        for pending in self.pending.of_camera(camera_id):
            event = pending.event
            if event.timestamp < new_run_started:
                chosen = self.ring.nearest(camera_id, event.frame_number, window)
                self._writing("store the snapshot", partial(self._resolve, event, chosen))

    def handle_event(self, message: ReceivedMessage) -> None:
        """Store the event's snapshot now if its frame is here, else persist it as pending."""
        try:
            camera_id, kind = self.client.topics.parse_event(message.topic)
        except TopicError as exc:
            raise MessageError(f"topic: {exc}") from None
        if kind == "snapshot":
            return  # our own announcements
        self._catch_up()
        event = decode_event(message.payload, self.event_limits)
        if event.camera_id != camera_id:
            raise MessageError(
                f"camera_id: {event.camera_id!r} does not match the topic's {camera_id!r}"
            )
        self._check_camera(camera_id, "camera_id")
        self._check_event_id(event)
        if not event.actions.snapshot:
            return
        if self._already_handled(event.event_id):
            self.metrics.duplicates.inc()
            log.debug("event already handled", extra={"event_id": event.event_id})
            return
        self._admit(camera_id, "camera_id")
        decided, chosen = self._choose(event)
        if decided:
            self._writing("store the snapshot", lambda: self._resolve(event, chosen))
        else:
            pending = PendingEvent(event, self.clock() + self.config.frame_wait_s)
            self._writing("keep the event pending", lambda: self.pending.add(pending))
            self.metrics.pending.set(len(self.pending))

    def handle_ha_status(self, message: ReceivedMessage) -> None:
        """Home Assistant came back: publish the discovery configs again."""
        if message.payload.strip() == b"online":
            for camera_id in self.cameras.served:
                self._publish_discovery(camera_id)

    # -- main loop --------------------------------------------------------------------------

    def expire(self) -> int:
        """Resolve the pending events whose wait is over, with the nearest frame or none; on
        the main loop, also send the outbox's announcements (:meth:`send_announcements`).

        Raises:
            OSError: a write failed (counted in :attr:`trouble`); the rest stay pending.
        """
        on_main_loop = not self.client.handling.on_worker()  # the handler never sends
        if on_main_loop:
            self.send_announcements()
        expired = self.pending.expired(self.clock())
        window = self.config.window_frames
        for pending in expired:
            event = pending.event
            frame = self.ring.nearest(event.camera_id, event.frame_number, window)
            try:
                self._resolve(event, frame)
            except OSError as exc:
                self._write_failed(exc, "store the snapshot of an expired wait")
                raise
            self._write_succeeded()
        if on_main_loop:
            self.send_announcements()
        return len(expired)

    def may_expire(self) -> bool:
        """Whether the main loop may call :meth:`expire` now (the back-off of a disk episode)."""
        return self.trouble.may_try(time.monotonic())

    @property
    def healthy(self) -> bool:
        """False from a failed write until a write succeeds (``/healthz``)."""
        return self.trouble.ok()

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
        """Store ``event``'s pictures and put its announcement in :attr:`outbox` (durably);
        :meth:`send_announcements` sends it.

        The handler never waits for the broker: the broker's confirmations come behind the
        messages the client holds back, so waiting for them would make it read on past its
        bound. The event's message is acknowledged once the announcement is on disk.
        """
        with self._resolving:
            failing = [a for a in self._announcing.values() if a.last_error is not None]
        for announcing in failing:  # no new announcement while the ledger cannot record
            if not announcing.settle(quiet=True) and announcing.last_error is not None:
                raise announcing.last_error
        with self._resolving:
            if event.event_id not in self.ledger and event.event_id not in self.outbox:
                self.outbox.add(event.event_id, self._announce(event, frame))
            self.pending.remove(event.event_id)
        self.metrics.pending.set(len(self.pending))

    def _already_handled(self, event_id: str) -> bool:
        """Whether ``event_id`` is announced, about to be, or pending."""
        return event_id in self.ledger or event_id in self.outbox or event_id in self.pending

    def send_announcements(self, limit: int = 200) -> int:
        """Send what :attr:`outbox` holds (at most ``limit`` unconfirmed at a time, so the
        caller never waits for the client's publish window) and record in the ledger what
        the broker has confirmed; return how many are sent and not confirmed yet.

        An announcement is recorded as announced only once the broker confirmed every
        publish of it (paho keeps in-flight publishes in memory only); if the process dies
        first, the next run sends it again (same ``event_id``: consumers dedupe).
        """
        self.settle_announcements()
        for event_id in self.outbox.ids():
            with self._resolving:
                if len(self._announcing) >= limit:
                    break
                if event_id in self._announcing:
                    continue
            try:
                outgoing = self.outbox.read(event_id)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("unreadable announcement of %s set aside: %s", event_id, exc)
                self.outbox.set_aside(event_id)
                continue
            handles = [self.client.publish(o.topic, o.payload, retain=o.retain) for o in outgoing]
            announcing = Announcing(
                event_id,
                handles,
                self._record_announced,
                on_refused=self._announcement_refused,
                on_recovered=self._write_succeeded,
            )
            with self._resolving:
                self._announcing[event_id] = announcing
        return self.settle_announcements()

    def settle_announcements(self) -> int:
        """Record the announcements the broker has confirmed since; return how many are
        still unconfirmed."""
        with self._resolving:
            announcing = list(self._announcing.values())
        unsettled = [a for a in announcing if not a.settle(quiet=True)]
        errors = [a.last_error for a in unsettled if a.last_error is not None]
        if errors:  # one failed write per pass, for the back-off
            self._record_failed(errors[0])
        return len(unsettled)

    def _record_announced(self, event_id: str) -> None:
        """The broker confirmed the announcement: say so in the ledger, then forget it."""
        with self._resolving:
            self.ledger.record(event_id)
            self.outbox.remove(event_id)
            self._announcing.pop(event_id, None)

    def _announcement_refused(self, event_id: str) -> None:
        """The broker refused the announcement (the client says so): not sent again."""
        log.error("the broker refused the announcement of %s: dropped", event_id)
        with self._resolving:
            self.outbox.remove(event_id)
            self._announcing.pop(event_id, None)

    def _record_failed(self, exc: OSError) -> None:
        self._write_failed(exc, "record an announcement in the ledger")

    def _announce(self, event: Event, frame: RecentFrame | None) -> list[Outgoing]:
        if frame is None:
            reason = (
                f"frame {event.frame_number} (or one within {self.config.window_frames} frames) "
                f"did not arrive within {self.config.frame_wait_s:g} s"
            )
            return self._announce_missing(event, reason)
        try:
            stored = store_pictures(
                self.store,
                event,
                frame,
                self.config.crop,
                self.config.max_frame_pixels,
                zone=ZoneInfo(self.config.timezone),
            )
        except ValueError as exc:
            return self._announce_missing(event, f"frame {frame.number} could not be used: {exc}")
        return self._announce_stored(event, frame.number, stored)

    def _announce_stored(
        self, event: Event, frame_number: int, stored: StoredPictures
    ) -> list[Outgoing]:
        topics = self.client.topics
        image = self._image(event, stored.annotated_jpeg)
        announcement = SnapshotAnnouncement(
            event_id=event.event_id,
            camera_id=event.camera_id,
            frame_number=frame_number,
            timestamp=event.timestamp,
            frame_ref=stored.annotated,
            files=stored.files,
            image=image,
        )
        outgoing = []
        if self.config.publish_latest:  # first, so it is in place when announced
            latest = topics.latest_snapshot(event.camera_id)
            outgoing.append(Outgoing(str(latest), stored.annotated_jpeg, retain=True))
        outgoing.append(Outgoing(str(topics.snapshot(event.camera_id)), encode(announcement)))
        self.metrics.snapshots.inc()
        log.info("snapshot stored", extra={"event_id": event.event_id, "key": stored.annotated.key})
        return outgoing

    def _announce_missing(self, event: Event, reason: str) -> list[Outgoing]:
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
        topic = str(self.client.topics.snapshot(event.camera_id))
        return [Outgoing(topic, encode(announcement))]

    def _image(self, event: Event, jpeg: bytes) -> FrameData | None:
        try:
            image = announced_image(jpeg, self.config.image, self.config.max_frame_pixels)
        except ValueError as exc:
            log.warning(
                "stored snapshot does not decode: %s", exc, extra={"event_id": event.event_id}
            )
            image = None
        if image is None:
            if self.config.image.enabled:
                self.metrics.announced_without_image.inc()
                log.warning(
                    "snapshot announced without its picture: over image.max_bytes",
                    extra={"event_id": event.event_id, "bytes": len(jpeg)},
                )
            return None
        self.metrics.announced_image_bytes.observe(len(image.base64) * 3 // 4)
        return image

    # -- checks -----------------------------------------------------------------------------

    def _check_camera(self, camera_id: str, field: str) -> None:
        checked_name(camera_id, field)
        if isinstance(self.store, FileStore) and not inside(self.store.root, camera_id):
            raise MessageError(f"{field} {camera_id!r} would lie outside {self.store.root}")

    def _check_event_id(self, event: Event) -> None:
        event_id = checked_name(event.event_id, "event_id")
        taken = next((k for k in PictureKind if k.value and event_id.endswith(k.value)), None)
        if taken is not None:  # X-clean's picture would be X's clean one
            raise MessageError(
                f"event_id {event_id!r} ends in {taken.value!r}, which names the {taken.name.lower()} "
                "picture of another event's snapshot"
            )
        places = [(self.pending.directory, f"{event_id}.json"), (self.ledger.directory, event_id)]
        if isinstance(self.store, FileStore):
            places.append((self.store.root / event.camera_id, f"{event_id}.jpg"))
        for directory, name in places:
            if not inside(directory, name):
                raise MessageError(f"event_id {event_id!r} would lie outside {directory}")

    def _admit(self, camera_id: str, field: str) -> None:
        """Serve ``camera_id`` (within the allow-list or the bound); announce it to HA once."""
        if self.cameras.admit(camera_id, field):
            self.metrics.cameras.set(len(self.cameras.served))
            self._publish_discovery(camera_id)

    # -- writes that may fail ---------------------------------------------------------------

    def _writing(self, what: str, work: Callable[[], object]) -> None:
        """Do ``work``; a failed write becomes a retry of the same message, never a loss."""
        try:
            work()
        except OSError as exc:
            self._write_failed(exc, what)
            raise RetryLater(f"could not {what}: {describe(exc)}") from exc
        self._write_succeeded()

    def _catch_up(self) -> None:
        """In a disk episode, take no new message before what is due is stored."""
        if self.trouble.ok():
            return
        try:
            self.expire()
        except OSError as exc:
            raise RetryLater(f"still cannot write: {describe(exc)}") from exc

    def _write_failed(self, exc: OSError, what: str) -> None:
        self.trouble.failed(exc, time.monotonic(), what=what)  # counted; said once

    def _write_succeeded(self) -> None:
        self.trouble.recovered()

    def _publish_discovery(self, camera_id: str) -> None:
        if not self.config.publish_latest:
            return
        topic, config = image_discovery(
            self.client.topics, camera_id, self.client.service, self.client.instance
        )
        self.client.publish(topic, json.dumps(config), retain=True)
