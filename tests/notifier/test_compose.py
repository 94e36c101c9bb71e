"""E-mails as a mail client sees them: valid MIME, text and HTML, pictures inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.letters import LetterWriter
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import DigestConfig, EmailConfig, NotifierSection
from sightline.messages import encode
from tests.notifier.support import (
    images_of,
    make_event,
    parse_mail,
    sample_jpeg,
    store_snapshot,
)


def writer(tmp_path: Path, **section: object) -> LetterWriter:
    config = NotifierSection.model_validate({"snapshots_dir": tmp_path / "snaps", **section})
    return LetterWriter(config, StateStore(tmp_path / "state"))


def html_and_text(raw: bytes) -> tuple[str, str]:
    message = parse_mail(raw)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None
    assert text is not None
    return str(html.get_content()), str(text.get_content())


def test_an_immediate_email_carries_its_snapshot_inline_and_a_text_alternative(
    tmp_path: Path,
) -> None:
    letters = writer(tmp_path, timezone="Europe/Berlin")
    event = make_event(1, immediate=True)
    announcement = store_snapshot(tmp_path / "snaps", event)
    letters.store.add_snapshot(event.event_id, announcement.decode())

    raw = bytes(letters.immediate(event, waited_s=1))

    message = parse_mail(raw)
    [image] = images_of(message)
    assert image.get_content_type() == "image/jpeg"
    assert image.get_content() == sample_jpeg()
    html, text = html_and_text(raw)
    assert f"cid:{image['Content-ID'].strip('<>')}" in html
    assert "15:30:01 CET" in html  # 14:30:01 UTC in Berlin
    assert "15:30:01 CET" in text
    assert message["Subject"] == '[driveway] Car crossed "gate" (left to right) (car-in)'
    assert message["X-Sightline-Event-Id"] == event.event_id


@pytest.mark.parametrize(
    ("snapshot_action", "announced", "note"),
    [
        (True, False, "No photo was available for this event."),
        (False, False, "This rule does not take photos."),
        (True, True, "No photo was available for this event."),
    ],
)
def test_an_immediate_email_without_a_picture_says_so_politely(
    tmp_path: Path, snapshot_action: bool, announced: bool, note: str
) -> None:
    letters = writer(tmp_path)
    event = make_event(1, snapshot=snapshot_action)
    if announced:
        missing = {
            "event_id": event.event_id,
            "camera_id": event.camera_id,
            "timestamp": "2025-01-15T14:30:01.000Z",
            "frame_ref": None,
            "reason": "camera offline",
        }
        from sightline.messages import SnapshotAnnouncement

        letters.store.add_snapshot(
            event.event_id, encode(SnapshotAnnouncement.model_validate(missing)).decode()
        )

    raw = bytes(letters.immediate(event, waited_s=15))

    assert images_of(parse_mail(raw)) == []
    html, text = html_and_text(raw)
    assert note in html
    assert note in text
    for internal in ("camera offline", "15 s", "snapshot"):  # the reason is for the log
        assert internal not in text.split("Event id:")[0]


def test_templates_escape_html_and_the_subject_can_be_overridden(tmp_path: Path) -> None:
    letters = writer(
        tmp_path,
        email=EmailConfig(subject_template="Alert {{ e.rule }} at {{ e.camera }}").model_dump(),
    )
    event = make_event(1, rule="<script>x</script>")

    raw = bytes(letters.immediate(event, waited_s=0))

    html, text = html_and_text(raw)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>x</script>" in text
    assert parse_mail(raw)["Subject"] == "Alert <script>x</script> at driveway"


@pytest.mark.parametrize(("max_photos", "expected_images"), [(0, 0), (2, 2), (12, 4)])
def test_a_digest_counts_per_camera_rule_and_class_with_at_most_max_photos(
    tmp_path: Path, max_photos: int, expected_images: int
) -> None:
    letters = writer(tmp_path)
    events = [
        make_event(1, camera="driveway", rule="car-in", class_name="car"),
        make_event(2, camera="driveway", rule="car-in", class_name="car"),
        make_event(3, camera="garden", rule="person-in", class_name="person"),
        make_event(4, camera="driveway", rule="person-in", class_name="person"),
    ]
    records = []
    for index, event in enumerate(events):
        announcement = store_snapshot(tmp_path / "snaps", event, index=10 * index)
        letters.store.add_snapshot(event.event_id, announcement.decode())
        records.append(PendingEvent(event.event_id, "t", encode(event).decode(), float(index)))
    digest = DigestConfig(name="daily", every="1d", max_photos=max_photos, to=["ops@example.com"])

    raw = bytes(letters.digest(digest, 1736899200, 1736985600, records))

    message = parse_mail(raw)
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == "Sightline digest daily: 4 events"
    assert len(images_of(message)) == expected_images
    html, text = html_and_text(raw)
    for row in (
        "driveway                 3",
        "garden                   1",
        "car-in                   2",
        "person                   2",
    ):
        assert row in text
    assert html.count("cid:") == expected_images
    assert "Wed 15 Jan 2025, 00:00 \N{EN DASH} Thu 16 Jan 2025, 00:00 UTC" in html


def test_an_email_sent_again_after_a_crash_has_the_same_message_id(tmp_path: Path) -> None:
    letters = writer(tmp_path)
    event, other = make_event(1, immediate=True), make_event(2, immediate=True)

    first = parse_mail(bytes(letters.immediate(event, waited_s=1)))
    again = parse_mail(bytes(letters.immediate(event, waited_s=1)))
    another = parse_mail(bytes(letters.immediate(other, waited_s=1)))

    assert first["Message-ID"] == again["Message-ID"] == f"<{event.event_id}@sightline>"
    assert another["Message-ID"] != first["Message-ID"]
