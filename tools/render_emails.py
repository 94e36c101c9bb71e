"""Render an immediate e-mail, a digest and an e-mail without a photo, and screenshot them.

The e-mails are built by the notifier's real code (MIME and all) from events with real
frames of ``samples/pedestrians.avi``, each carried in its snapshot announcement (``image``)
as the frame-store sends it; inline ``cid:`` pictures become ``data:`` URIs so a browser
shows the HTML part as a mail client would. The third e-mail's event was never announced:
it shows the polite "no photo was available" sentence.

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
import shutil
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

import cv2

from notifier.letters import LetterWriter
from notifier.snapshots import decode_photo
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import DigestConfig, NotifierSection
from sightline.messages import Event, SnapshotAnnouncement, encode, make_event_id

REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "samples" / "pedestrians.avi"
SCENES: list[tuple[int, str, str, str, dict[str, object]]] = [
    # (second, camera, rule, class, line or zone)
    (1, "front-door", "person-at-door", "person", {"zone": {"name": "porch"}}),
    (7, "driveway", "car-in", "car", {"line": {"name": "gate", "direction": "left_to_right"}}),
    (12, "front-door", "person-at-door", "person", {"zone": {"name": "porch"}}),
    (20, "garden", "dog-in-garden", "dog", {"zone": {"name": "lawn"}}),
    (31, "front-door", "person-at-door", "person", {"zone": {"name": "porch"}}),
    (45, "driveway", "car-in", "car", {"line": {"name": "gate", "direction": "right_to_left"}}),
    (58, "front-door", "person-at-door", "person", {"zone": {"name": "porch"}}),
]


def scene_event(
    second: int, camera: str, rule: str, class_name: str, place: dict[str, object]
) -> Event:
    """An event as the engine would publish it."""
    kind = "LINE_CROSS" if "line" in place else "ZONE_ENTER"
    return Event.model_validate(
        {
            "event_id": make_event_id(camera, kind, rule, second),
            "event_type": kind,
            "rule": rule,
            "camera_id": camera,
            "device_id": "jetson-01",
            "timestamp": f"2025-01-15T14:{second // 60 + 30:02d}:{second % 60:02d}.000Z",
            "frame_number": second * 25,
            "object": {
                "track_id": second,
                "class_name": class_name,
                "confidence": 0.91,
                "bbox": {"x1": 100, "y1": 200, "x2": 400, "y2": 500},
                "center": {"x": 250, "y": 350},
            },
            **place,
            "actions": {"email_immediate": True, "email_digest": ["default"], "json_log": True},
        }
    )


def announce_frame(store: StateStore, event: Event, frame_index: int) -> None:
    """Announce a real frame as the event's photo, stored as the notifier's handler does."""
    capture = cv2.VideoCapture(str(VIDEO))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read frame {frame_index} of {VIDEO}")
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    photo = bytes(jpeg.tobytes())
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
    store.add_snapshot(event.event_id, without_image, decode_photo(announcement.image))


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
    """Write immediate, digest and no-photo .html/.eml to ``out_dir``; return the HTML paths."""
    work = Path(tempfile.mkdtemp(prefix="render-emails-"))
    section = NotifierSection.model_validate(
        {"timezone": "Europe/Berlin", "snapshots_dir": work / "no-shared-disk"}
    )
    store = StateStore(work / "state")
    letters = LetterWriter(section, store)
    records = []
    for index, scene in enumerate(SCENES):
        event = scene_event(*scene)
        announce_frame(store, event, 40 * index)
        records.append(PendingEvent(event.event_id, "t", encode(event).decode(), float(index)))
    never_announced = scene_event(
        75, "backyard", "dog-in-garden", "dog", {"zone": {"name": "lawn"}}
    )
    mails = {
        "immediate": letters.immediate(scene_event(*SCENES[1]), waited_s=2),
        "digest": letters.digest(DigestConfig(name="default"), 1736949600, 1736953200, records),
        "no-photo": letters.immediate(never_announced, waited_s=15),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
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
