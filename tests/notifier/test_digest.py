"""A digest worth reading: photos from across the period, one per track, every rule; totals
per line and direction and per zone; one time zone throughout; thumbnails zoomed on the
object (with the frame's size read from the frame-store's JPEG comment)."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from frame_store.pictures import with_frame_size
from notifier.letters import LetterWriter
from notifier.snapshots import SnapshotImage
from notifier.state import PendingEvent, StateStore
from notifier.thumbnails import THUMBNAIL_WIDTH, focus_region, thumbnail
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.messages import Event, encode
from tests.notifier.support import (
    T0,
    images_of,
    make_event,
    parse_mail,
    sample_jpeg,
    store_snapshot,
)

START = int(T0.timestamp()) - 1800  # 14:00 UTC, 15:00 in Berlin


def at(event: Event, second: int, track: int, **update: object) -> Event:
    """``event`` moved to ``second`` into the period, as ``track``."""
    value = event.model_dump(mode="json")
    value["timestamp"] = T0 - timedelta(seconds=1800) + timedelta(seconds=second)
    value["object"]["track_id"] = track
    return Event.model_validate({**value, **update})


def busy_hour() -> list[Event]:
    """A burst of 12 crossings in the first two minutes, six more over the hour, and three
    porch visitors each seen entering and leaving (one track, two events)."""
    events = []
    for n in range(12):
        events.append(at(make_event(n + 1, rule="gate"), 10 * n, n))
    for n in range(6):
        events.append(at(make_event(100 + n, rule="gate"), 600 + 500 * n, 100 + n))
    for n in range(3):
        for kind, second in (("ZONE_ENTER", 900 + 900 * n), ("ZONE_EXIT", 960 + 900 * n)):
            base = make_event(200 + 10 * n + len(kind), rule="porch", class_name="person")
            zone = {"name": "porch", "reason": "left" if kind == "ZONE_EXIT" else None}
            events.append(at(base, second, 200 + n, event_type=kind, line=None, zone=zone))
    return events


def digest_of(tmp_path: Path, events: list[Event], max_photos: int) -> tuple[str, str, list[str]]:
    section = NotifierSection.model_validate(
        {"snapshots_dir": tmp_path / "snaps", "timezone": "Europe/Berlin"}
    )
    letters = LetterWriter(section, StateStore(tmp_path / "state"))
    records = []
    for index, event in enumerate(events):
        letters.store.add_snapshot(
            event.event_id, store_snapshot(tmp_path / "snaps", event, index % 5).decode()
        )
        records.append(PendingEvent(event.event_id, "t", encode(event).decode(), float(index)))
    digest = DigestConfig(name="hourly", max_photos=max_photos)
    message = parse_mail(bytes(letters.digest(digest, START, START + 3600, records)))
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None
    assert text is not None
    cids = [
        str(image["Content-ID"]).strip("<>").removesuffix("@sightline")
        for image in images_of(message)
    ]
    return str(html.get_content()), str(text.get_content()), cids


def test_photos_come_from_across_the_period_one_per_track_every_rule(tmp_path: Path) -> None:
    events = busy_hour()
    by_id = {event.event_id: event for event in events}

    html, _, chosen = digest_of(tmp_path, events, max_photos=6)

    assert len(chosen) == 6
    shown = [by_id[event_id] for event_id in chosen]
    tracks = [(e.rule, e.object.track_id) for e in shown]
    assert len(set(tracks)) == 6  # never the same track twice
    assert {e.rule for e in shown} == {"gate", "porch"}
    in_burst = [e for e in shown if e.rule == "gate" and e.object.track_id < 12]
    assert len(in_burst) == 1  # the burst of the first two minutes gets one photo
    minutes = sorted((e.timestamp - shown[0].timestamp).total_seconds() / 60 for e in shown)
    assert minutes[-1] - minutes[0] > 40  # from across the hour
    assert html.count("cid:") == 6


def test_totals_per_line_and_direction_and_per_zone_in_one_time_zone(tmp_path: Path) -> None:
    events = busy_hour()
    events.append(
        at(
            make_event(300, rule="gate"),
            3000,
            300,
            line={"name": "gate", "direction": "right_to_left"},
        )
    )

    html, text, _ = digest_of(tmp_path, events, max_photos=4)

    assert re.search(r"gate: left to right\s+18\n", text)
    assert re.search(r"gate: right to left\s+1\n", text)
    assert re.search(r"porch: entered\s+3\n", text)
    assert re.search(r"porch: left\s+3\n", text)
    assert "gate: left to right" in html
    assert "porch: entered" in html
    assert "Wed 15 Jan 2025, 15:00 \N{EN DASH} 16:00 CET" in html
    captions = re.findall(r"(\d\d:\d\d:\d\d) (\w+) &middot;", html)
    assert len(captions) == 4
    assert {zone for _, zone in captions} == {"CET"}
    assert all("15:00:00" <= time < "16:00:00" for time, _ in captions)
    assert "UTC" not in html
    assert "Events (times are CET)" in text


def test_a_thumbnail_zooms_on_the_object_with_its_box_scaled_to_a_smaller_copy() -> None:
    frame = Image.open(io.BytesIO(sample_jpeg(40)))
    box = (600.0, 300.0, 660.0, 420.0)  # in the 1280x720 frame
    region = focus_region(frame.size, box)
    expected = frame.crop(region).resize((THUMBNAIL_WIDTH, 270))
    half = io.BytesIO()
    frame.resize((640, 360)).save(half, "JPEG", quality=95)
    announced = with_frame_size(half.getvalue(), 1280, 720)  # as the frame-store re-encodes

    for data in (sample_jpeg(40), announced):
        small = thumbnail(SnapshotImage(data, "x.jpg"), focus=box)
        assert small.data is not None
        picture = Image.open(io.BytesIO(small.data)).convert("L")
        assert picture.size == (THUMBNAIL_WIDTH, 270)
        difference = np.abs(np.asarray(picture, float) - np.asarray(expected.convert("L"), float))
        assert difference.mean() < 12  # the same part of the scene
    assert region == (310, 180, 950, 540)
