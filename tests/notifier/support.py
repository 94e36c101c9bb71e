"""What the notifier's tests share: events, a real JPEG, a real SMTP server."""

from __future__ import annotations

import base64
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

# aiosmtpd is imported at collection. Imported first inside a fixture, with other threads
# running, it once failed in CI with a KeyError from importlib's module locks (Python
# 3.11.7; the re-entrant import races of cpython gh-91351).
import cv2
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sightline.broker import free_port
from sightline.messages import Event, SnapshotAnnouncement, encode, make_event_id
from tests.support.disk import fill as fill  # re-exported for the notifier tests
from tests.support.disk import remount as remount_tmpfs
from tests.support.disk import tmpfs
from tests.support.paths import REPO

T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)


def make_event(
    number: int = 1,
    camera: str = "driveway",
    rule: str = "car-in",
    class_name: str = "car",
    immediate: bool = False,
    digest: list[str] | None = None,
    json_log: bool = True,
    snapshot: bool = True,
) -> Event:
    """A line-crossing event, ``number`` seconds after T0."""
    return Event.model_validate(
        {
            "event_id": make_event_id(camera, "LINE_CROSS", rule, number),
            "event_type": "LINE_CROSS",
            "rule": rule,
            "camera_id": camera,
            "device_id": "jetson-01",
            "timestamp": T0 + timedelta(seconds=number),
            "frame_number": number * 25,
            "object": {
                "track_id": number,
                "class_name": class_name,
                "confidence": 0.87,
                "bbox": {"x1": 100, "y1": 200, "x2": 400, "y2": 500},
                "center": {"x": 250, "y": 350},
            },
            "line": {"name": "gate", "direction": "left_to_right"},
            "actions": {
                "json_log": json_log,
                "email_immediate": immediate,
                "email_digest": digest or [],
                "snapshot": snapshot,
            },
        }
    )


def event_topic(event: Event) -> str:
    """Where the engine publishes ``event``."""
    return f"events/{event.camera_id}/{event.event_type.topic_level}"


@cache
def sample_jpeg(index: int = 40) -> bytes:
    """Frame ``index`` of samples/pedestrians.avi as a JPEG."""
    capture = cv2.VideoCapture(str(REPO / "samples" / "pedestrians.avi"))
    try:
        for _ in range(index + 1):
            ok, frame = capture.read()
            assert ok, "cannot read samples/pedestrians.avi"
    finally:
        capture.release()
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(jpeg.tobytes())


def store_snapshot(snapshots_dir: Path, event: Event, index: int = 40) -> bytes:
    """Write the event's JPEG as the frame-store would; return its announcement's bytes."""
    key = f"{event.camera_id}/{event.event_id}.jpg"
    path = snapshots_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sample_jpeg(index))
    announcement = SnapshotAnnouncement.model_validate(
        {
            "event_id": event.event_id,
            "camera_id": event.camera_id,
            "frame_number": event.frame_number,
            "timestamp": event.timestamp,
            "frame_ref": {"type": "file", "key": key},
            "files": {"annotated": {"type": "file", "key": key}},
        }
    )
    return encode(announcement)


def announcement_with_image(event: Event, index: int = 40, frame_key: str | None = None) -> bytes:
    """The frame-store's announcement carrying the JPEG itself (``image``), as on any layout
    where the notifier does not share the frame-store's disk; ``frame_key`` names a file ref.
    """
    ref = {"type": "file", "key": frame_key} if frame_key is not None else None
    announcement = SnapshotAnnouncement.model_validate(
        {
            "event_id": event.event_id,
            "camera_id": event.camera_id,
            "frame_number": event.frame_number,
            "timestamp": event.timestamp,
            "frame_ref": ref,
            "files": {"annotated": ref},
            "image": {"quality": 80, "base64": base64.b64encode(sample_jpeg(index)).decode()},
        }
    )
    return encode(announcement)


def announcement_without_photo(event: Event, frame_key: str) -> bytes:
    """An announcement naming a file the notifier cannot read, and no image."""
    ref = {"type": "file", "key": frame_key}
    announcement = SnapshotAnnouncement.model_validate(
        {
            "event_id": event.event_id,
            "camera_id": event.camera_id,
            "timestamp": event.timestamp,
            "frame_ref": ref,
            "files": {"annotated": ref},
        }
    )
    return encode(announcement)


def parse_mail(raw: bytes) -> EmailMessage:
    """A received message, parsed with the modern policy."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def images_of(message: EmailMessage) -> list[EmailMessage]:
    """The image parts of ``message``."""
    return [p for p in message.walk() if p.get_content_maintype() == "image"]  # type: ignore[misc]


@dataclass
class Inbox:
    """What an SMTP server received; senders containing ``refuse`` get a 553, recipients a 550."""

    messages: list[EmailMessage] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "refuse" in address:
            return "553 5.7.1 sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "refuse" in address:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.cond:
            self.messages.append(parse_mail(envelope.original_content))
            self.cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Wait until ``count`` messages came; raise TimeoutError otherwise."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} e-mails arrived")
            return list(self.messages)


@dataclass(frozen=True)
class TlsSetup:
    """How the test server speaks TLS and whom it lets in."""

    security: str  # "ssl" or "starttls"
    cert: Path
    key: Path
    login: tuple[str, str]

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.login)


class SmtpServer:
    """A real aiosmtpd server on a free port that can be stopped and started again."""

    def __init__(self, tls: TlsSetup | None = None) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.tls = tls
        self._controller: Any = None

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.tls is not None:
            options = {"authenticator": self.tls.authenticate, "auth_required": True}
            key = "ssl_context" if self.tls.security == "ssl" else "tls_context"
            options[key] = self.tls.context()
            options["require_starttls"] = self.tls.security == "starttls"
            # with implicit TLS aiosmtpd cannot see the TLS layer: allow AUTH anyway
            options["auth_require_tls"] = self.tls.security == "starttls"
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class LoginCheckingServer(SmtpServer):
    """A plain-text SMTP server that offers AUTH and accepts a login only when told to."""

    def __init__(self, accept_login: bool = False) -> None:
        super().__init__()
        self.accept_login = accept_login
        self.attempts = 0

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        self.attempts += 1
        return AuthResult(success=self.accept_login, handled=False)  # aiosmtpd answers 535

    def start(self) -> None:
        self._controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.authenticate,
            auth_require_tls=False,  # offers AUTH; the client logs in as it has a username
        )
        self._controller.start()


Server = TypeVar("Server", bound=SmtpServer)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """``server`` started for the ``with`` block, stopped after it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def small_disk(mountpoint: Path, size: str = "2m") -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``mountpoint`` (root only), unmounted after the block."""
    with tmpfs(mountpoint, size) as mounted:
        yield mounted


def remount(mountpoint: Path, mode: str) -> None:
    """Remount ``mountpoint`` ``ro`` or ``rw``."""
    remount_tmpfs(mountpoint, read_only=mode == "ro")
