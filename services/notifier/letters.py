"""Turns what the state holds (events as received, snapshot announcements) into e-mails."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from notifier.compose import Templates, build_message, image_cid
from notifier.snapshots import SnapshotImage
from notifier.state import PendingEvent, StateStore
from notifier.thumbnails import thumbnail
from notifier.views import DigestView, EventView
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.messages import Event, decode_event, decode_snapshot


class LetterWriter:
    """Composes immediate e-mails and digests, with pictures from the frame-store."""

    def __init__(self, section: NotifierSection, store: StateStore) -> None:
        self.section = section
        self.store = store
        self.zone = ZoneInfo(section.timezone)
        self.templates = Templates.from_config(section.email)
        self.snapshots_dir: Path = section.snapshots_dir

    def snapshot_of(self, event_id: str) -> SnapshotImage:
        """The picture of ``event_id``, or why there is none."""
        raw = self.store.snapshot(event_id)
        announcement = decode_snapshot(raw) if raw is not None else None
        return SnapshotImage.from_announcement(announcement, self.snapshots_dir)

    def immediate(self, event: Event, waited_s: float) -> EmailMessage:
        """The e-mail of one event, its snapshot inline when there is one."""
        if event.actions.snapshot:
            image = self.snapshot_of(event.event_id)
            if image.data is None and self.store.snapshot(event.event_id) is None:
                image = SnapshotImage.missing(f"No snapshot arrived within {waited_s:.0f} s.")
        else:
            image = SnapshotImage.missing("This rule does not take snapshots.")
        cid = image_cid(event.event_id) if image.data is not None else None
        view = EventView.from_event(event, self.zone, cid, image.note)
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
        """One e-mail for the period ``[start, end)``: counts, thumbnails, every event."""
        events = [decode_event(record.payload) for record in records]
        views: list[EventView] = []
        images: dict[str, SnapshotImage] = {}
        for event in events:
            cid = None
            if len(images) < digest.max_photos:
                image = self.snapshot_of(event.event_id)
                if image.data is not None:
                    cid = image_cid(event.event_id)
                    images[cid] = thumbnail(image)
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
