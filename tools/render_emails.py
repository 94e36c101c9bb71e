"""Render an immediate e-mail, a digest of a busy hour and an e-mail without a photo, and
screenshot them; also write a crop as the frame-store stores it.

The e-mails are built by the notifier's real code (MIME and all) from events on real frames
of ``samples/pedestrians.avi``: each event's object is a person the bundled model
(``models/yolo11n_int8_openvino_model``) finds in its frame, its photo is annotated by the
frame-store's own code (time in the notifier's zone) and carried in its snapshot
announcement (``image``) as the frame-store sends it. The digest collects 40 events over an
hour, a third of them in its first three minutes (a burst), several tracks seen twice (porch
entered, then left): the photos must come from across the hour, one per track, every rule
shown. Inline ``cid:`` pictures become ``data:`` URIs so a browser shows the HTML part as a
mail client would. The third e-mail's event was never announced: it shows the polite "no
photo was available" sentence.

Example:
    .. code-block:: console

        $ .venv/bin/python tools/render_emails.py --out var/render
        var/render/immediate.png
        var/render/digest.png
        var/render/no-photo.png
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import numpy.typing as npt

from frame_store.annotate import annotate, crop
from frame_store.pictures import announced_image
from notifier.letters import LetterWriter
from notifier.snapshots import decode_photo
from notifier.state import PendingEvent, StateStore
from sightline.config.frames import AnnouncedImage
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.messages import Event, SnapshotAnnouncement, encode, make_event_id

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "samples" / "pedestrians.avi"
MODEL = REPO / "models" / "yolo11n_int8_openvino_model"
ZONE = "Europe/Berlin"
PERIOD_START = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)  # 15:00 in Berlin
GATE = [(0.0, 430.0), (1280.0, 470.0)]
PORCH = [(60.0, 360.0), (700.0, 330.0), (760.0, 700.0), (40.0, 710.0)]
Image = npt.NDArray[np.uint8]

Scene = tuple[int, str, str, str, dict[str, Any], int]
"""(seconds into the hour, camera, rule, event type, line or zone, track id)"""


def busy_hour() -> list[Scene]:
    """40 events over an hour: a burst of gate crossings in the first three minutes, then
    crossings, porch visits (entered, later left: one track) and a long stay now and then."""
    scenes: list[Scene] = []
    directions = ["top_to_bottom", "bottom_to_top"]
    for index in range(13):  # the burst
        line = {"line": {"name": "gate", "direction": directions[index % 2], "points": GATE}}
        scenes.append((15 + 13 * index, "driveway", "gate-crossings", "LINE_CROSS", line, index))
    for index in range(9):
        second = 420 + 380 * index
        line = {"line": {"name": "gate", "direction": directions[index % 3 == 0], "points": GATE}}
        scenes.append((second, "driveway", "gate-crossings", "LINE_CROSS", line, 100 + index))
    for index in range(8):
        second, track = 300 + 420 * index, 200 + index
        porch = {"name": "porch", "points": PORCH}
        scenes.append(
            (second, "front-door", "porch-visitors", "ZONE_ENTER", {"zone": porch}, track)
        )
        left = {**porch, "reason": "left", "dwell_s": 20.0 + 7 * index}
        scenes.append(
            (
                second + 25 + 7 * index,
                "front-door",
                "porch-visitors",
                "ZONE_EXIT",
                {"zone": left},
                track,
            )
        )
    for index in range(2):
        second, track = 1500 + 1500 * index, 300 + index
        stay = {"name": "porch", "points": PORCH, "dwell_s": 120.0}
        scenes.append(
            (second, "front-door", "porch-lingering", "ZONE_DWELL", {"zone": stay}, track)
        )
    return sorted(scenes)


FRAMES = tuple(range(0, 325, 25))


@cache
def frames() -> dict[int, Image]:
    """The frames :data:`FRAMES` of the sample video (read in order: seeking is unreliable)."""
    capture = cv2.VideoCapture(str(VIDEO))
    found: dict[int, Image] = {}
    for index in range(max(FRAMES) + 1):
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"cannot read frame {index} of {VIDEO}")
        if index in FRAMES:
            found[index] = np.asarray(frame, np.uint8)
    capture.release()
    return found


def video_frame(index: int) -> Image:
    """Frame ``index`` (one of :data:`FRAMES`) of the sample video."""
    return frames()[index]


@cache
def model() -> Any:
    """The bundled detector (loaded once)."""
    os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / "var" / "ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.models import YOLO

    return YOLO(str(MODEL), task="detect")


@cache
def people(index: int) -> list[tuple[tuple[float, float, float, float], float]]:
    """The persons the bundled model finds in frame ``index``, most confident first."""
    result: Any = model().predict(video_frame(index), verbose=False)[0]
    found = [
        (tuple(box), float(conf))
        for box, conf, cls in zip(
            result.boxes.xyxy.tolist(),
            result.boxes.conf.tolist(),
            result.boxes.cls.tolist(),
            strict=True,
        )
        if result.names[int(cls)] == "person"
    ]
    return sorted(found, key=lambda item: -item[1])


def frame_index(track: int) -> int:
    """One of the :data:`FRAMES` for ``track`` (a track keeps its frame)."""
    return FRAMES[(track * 7) % len(FRAMES)]


def scene_event(scene: Scene) -> Event:
    """An event as the engine would publish it, its object a person found in its frame."""
    second, camera, rule, kind, place, track = scene
    index = frame_index(track)
    boxes = people(index)
    (x1, y1, x2, y2), confidence = boxes[(track + second) % min(3, len(boxes))]
    return Event.model_validate(
        {
            "event_id": make_event_id(camera, kind, rule, track, second),
            "event_type": kind,
            "rule": rule,
            "camera_id": camera,
            "device_id": "jetson-01",
            "timestamp": PERIOD_START + timedelta(seconds=second),
            "frame_number": index,
            "object": {
                "track_id": track,
                "class_name": "person",
                "confidence": round(confidence, 2),
                "bbox": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                "center": {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2},
            },
            **place,
            "actions": {"email_immediate": True, "email_digest": ["default"], "json_log": True},
        }
    )


def annotated_photo(event: Event) -> bytes:
    """The annotated snapshot as the frame-store announces it."""
    frame = video_frame(event.frame_number)
    ok, jpeg = cv2.imencode(
        ".jpg", annotate(frame, event, ZoneInfo(ZONE)), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    assert ok
    image = announced_image(bytes(jpeg.tobytes()), AnnouncedImage())
    assert image is not None
    return decode_photo(image)


def announce_frame(store: StateStore, event: Event) -> None:
    """Announce the event's annotated frame as its photo, stored as the notifier's handler does."""
    photo = annotated_photo(event)
    ref = {"type": "file", "key": f"{event.camera_id}/{event.event_id}.jpg"}
    announcement = SnapshotAnnouncement.model_validate(
        {
            "event_id": event.event_id,
            "camera_id": event.camera_id,
            "timestamp": event.timestamp,
            "frame_ref": ref,
            "files": {"annotated": ref},
            "image": {"quality": 85, "base64": base64.b64encode(photo).decode()},
        }
    )
    without_image = encode(announcement.model_copy(update={"image": None})).decode()
    store.add_snapshot(event.event_id, without_image, photo)


def browser_html(message: EmailMessage) -> str:
    """The HTML part with its inline pictures as data: URIs."""
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            data = base64.b64encode(payload).decode()
            uri = f"data:{part.get_content_type()};base64,{data}"
            html = html.replace(f"cid:{cid.strip('<>')}", uri)
    return html


def render(out_dir: Path) -> list[Path]:
    """Write immediate, digest and no-photo .html/.eml to ``out_dir`` (and ``crop.jpg``, the
    frame-store's crop of the immediate e-mail's object); return the HTML paths."""
    work = Path(tempfile.mkdtemp(prefix="render-emails-"))
    section = NotifierSection.model_validate(
        {"timezone": ZONE, "snapshots_dir": work / "no-shared-disk"}
    )
    store = StateStore(work / "state")
    letters = LetterWriter(section, store)
    records = []
    events = [scene_event(scene) for scene in busy_hour()]
    for index, event in enumerate(events):
        announce_frame(store, event)
        records.append(PendingEvent(event.event_id, "t", encode(event).decode(), float(index)))
    alert = events[-1]
    never_announced = scene_event(
        (3590, "backyard", "garden-visitors", "ZONE_ENTER", {"zone": {"name": "lawn"}}, 400)
    )
    start = int(PERIOD_START.timestamp())
    mails = {
        "immediate": letters.immediate(alert, waited_s=2),
        "digest": letters.digest(DigestConfig(name="default"), start, start + 3600, records),
        "no-photo": letters.immediate(never_announced, waited_s=15),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    box = alert.object.bbox
    cv2.imwrite(str(out_dir / "crop.jpg"), crop(video_frame(alert.frame_number), box))
    pages = []
    for name, message in mails.items():
        (out_dir / f"{name}.eml").write_bytes(bytes(message))
        page = out_dir / f"{name}.html"
        page.write_text(browser_html(message), encoding="utf-8")
        pages.append(page)
    shutil.rmtree(work, ignore_errors=True)
    return pages


def screenshot(page: Path, width: int = 900, height: int = 1400) -> Path:
    """A PNG of ``page`` from headless Chromium."""
    png = page.with_suffix(".png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                shutil.which("chromium") or "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return png


def main(argv: list[str] | None = None) -> int:
    """Render and screenshot both e-mails; print the PNG paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "var" / "render")
    parser.add_argument("--no-screenshot", action="store_true", help="write the HTML only")
    args = parser.parse_args(argv)
    for page in render(args.out):
        print(page if args.no_screenshot else screenshot(page))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
