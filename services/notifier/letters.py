"""Turns what the state holds (events as received, announcements, photos) into e-mails.

A photo that cannot be had is said politely in the mail (:data:`~notifier.snapshots.NO_PHOTO`);
why (no announcement, no frame, an unreadable file) goes to the log and to
``sightline_notifier_photos_missing{reason}``, never into a user's mail.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from notifier.compose import Templates, build_message, image_cid
from notifier.metrics import NotifierMetrics
from notifier.photos import Candidate, choose_photos
from notifier.snapshots import NO_PHOTO, NO_SNAPSHOTS, SnapshotImage
from notifier.state import PendingEvent, StateStore
from notifier.thumbnails import thumbnail
from notifier.views import DigestView, EventView
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.errors import MessageError
from sightline.messages import Event, decode_event, decode_snapshot

log = logging.getLogger(__name__)


class LetterWriter:
    """Composes immediate e-mails and digests, with pictures from the frame-store."""

    def __init__(
        self, section: NotifierSection, store: StateStore, metrics: NotifierMetrics | None = None
    ) -> None:
        self.section = section
        self.store = store
        self.metrics = metrics or store.metrics
        self.zone = ZoneInfo(section.timezone)
        self.templates = Templates.from_config(section.email)
        self.snapshots_dir: Path = section.snapshots_dir

    def snapshot_of(self, event_id: str) -> SnapshotImage:
        """The picture of ``event_id``: the announced photo, else the announced file."""
        raw = self.store.snapshot(event_id)
        if raw is None:
            return SnapshotImage.from_announcement(None, self.snapshots_dir)
        photo = self.store.photo(event_id)
        if photo is not None:
            return SnapshotImage(photo, f"{event_id}.jpg", "jpeg")
        try:
            announcement = decode_snapshot(raw)
        except MessageError as exc:  # a state file from an incompatible release
            return SnapshotImage.missing("unreadable", f"stored announcement unusable: {exc}")
        return SnapshotImage.from_announcement(announcement, self.snapshots_dir)

    def _photo_for(self, event_id: str, mail: str) -> SnapshotImage:
        """:meth:`snapshot_of`, with a missing photo logged and counted."""
        image = self.snapshot_of(event_id)
        if image.data is None:
            self.metrics.photos_missing.labels(image.kind or "unknown").inc()
            log.warning(
                "%s of event %s goes without its photo: %s",
                mail,
                event_id,
                image.reason,
                extra={"event_id": event_id, "reason": image.kind},
            )
        return image

    def immediate(self, event: Event, waited_s: float) -> EmailMessage:
        """The e-mail of one event, its snapshot inline when there is one."""
        if event.actions.snapshot:
            image = self._photo_for(event.event_id, f"e-mail (after {waited_s:.0f} s)")
            note = NO_PHOTO
        else:
            image, note = SnapshotImage(None), NO_SNAPSHOTS
        cid = image_cid(event.event_id) if image.data is not None else None
        view = EventView.from_event(event, self.zone, cid, None if cid else note)
        images = {cid: image} if cid is not None else {}
        return build_message(
            self.section.email.sender,
            self.section.email.to,
            self.templates.render_immediate(view),
            images,
            event.event_id,
            {"X-Sightline-Event-Id": event.event_id},
        )

    def digest(
        self, digest: DigestConfig, start: int, end: int, records: list[PendingEvent]
    ) -> EmailMessage:
        """One e-mail for the period ``[start, end)``: totals, the most telling photos of the
        period (:func:`~notifier.photos.choose_photos`) as thumbnails zoomed on the object,
        every event."""
        events = [decode_event(record.payload) for record in records]
        candidates = [
            Candidate.of(event)
            for event in events
            if event.actions.snapshot and self.store.snapshot(event.event_id) is not None
        ]
        chosen = {c.event_id for c in choose_photos(candidates, digest.max_photos)}
        views: list[EventView] = []
        images: dict[str, SnapshotImage] = {}
        for event in events:
            cid = None
            if event.event_id in chosen:
                image = self._photo_for(event.event_id, f"digest {digest.name}")
                if image.data is not None:
                    cid = image_cid(event.event_id)
                    box = event.object.bbox
                    images[cid] = thumbnail(image, focus=(box.x1, box.y1, box.x2, box.y2))
            views.append(EventView.from_event(event, self.zone, cid))
        view = DigestView.from_events(
            digest.name,
            datetime.fromtimestamp(start, UTC),
            datetime.fromtimestamp(end, UTC),
            views,
            self.zone,
        )
        return build_message(
            self.section.email.sender,
            digest.to or self.section.email.to,
            self.templates.render_digest(view),
            images,
            f"digest-{digest.name}-{start}",
            {"X-Sightline-Digest": f"{digest.name}/{start}"},
        )
