"""The console's HTTP server: the page, its JSON API, and the password that guards both.

Secure by default: with no token set, the console binds loopback only (the settings refuse
anything else). With a token, every page and API call needs it (a session cookie set by the
login form, or ``Authorization: Bearer <token>``); a wrong password gets 401. Writes are
JSON POSTs only, so a cross-site form cannot save (and the cookie is ``SameSite=Strict``).

Example:
    >>> auth = Auth("s3cret")
    >>> auth.password_ok("s3cret"), auth.password_ok("guess")
    (True, False)
    >>> auth.allows({"Cookie": f"{COOKIE}={auth.session}"}), auth.allows({})
    (True, False)
    >>> Auth(None).allows({})
    True
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from console.board import Board
from console.drafts import check_draft
from sightline.errors import TopicError
from sightline.ids import MAX_EVENT_ID_LENGTH, validate_id

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "sightline_console"
MAX_BODY = 1_048_576
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATIC = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


class Headers(Protocol):
    """What :meth:`Auth.allows` reads of a request's headers (a dict, or http's Message)."""

    def get(self, name: str, default: str, /) -> str: ...


Publish = Callable[[str, str, Any], str | None]
"""``publish(camera_id, device_id, config)`` -> None when the broker accepted it, else why not."""


class Auth:
    """The console's password (None: no password, loopback only)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        key = (token or "").encode()
        self.session = hmac.new(key, b"sightline-console-session", hashlib.sha256).hexdigest()

    @property
    def required(self) -> bool:
        """Whether a password is asked at all."""
        return self.token is not None

    def password_ok(self, password: str) -> bool:
        """Constant-time comparison with the token."""
        if self.token is None:
            return True
        return hmac.compare_digest(password.encode(), self.token.encode())

    def allows(self, headers: Headers) -> bool:
        """Whether a request carries the session cookie or the bearer token."""
        if self.token is None:
            return True
        bearer = headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and self.password_ok(bearer[len("Bearer ") :]):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie", ""))
        except Exception:  # a malformed cookie header is no session
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value, self.session)


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def host_name(header: str | None) -> str:
    """The name part of a ``Host`` header.

    Example:
        >>> host_name("127.0.0.1:8090"), host_name("[::1]:8090"), host_name("Example.org")
        ('127.0.0.1', '::1', 'example.org')
    """
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1:].split("]")[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def render(template: str, **values: str) -> str:
    """Fill ``$name`` placeholders with HTML-escaped values.

    Example:
        >>> render("<p>$who</p>", who="<b>")
        '<p>&lt;b&gt;</p>'
    """
    return string.Template(template).substitute({k: html.escape(v) for k, v in values.items()})


@dataclass
class Api:
    """What the handlers need: the board, the auth, how to publish, the page's texts."""

    board: Board
    auth: Auth
    publish: Publish
    title: str = "Sightline console"
    counted: Callable[[str, str], None] = lambda what, result: None
    """``counted("saves", "saved")``, ``counted("logins", "refused")``: for /metrics."""

    def page(self, name: str, **values: str) -> bytes:
        """A template of ``templates/`` rendered."""
        text = (HERE / "templates" / name).read_text(encoding="utf-8")
        return render(text, title=self.title, **values).encode()


def _camera_id(text: str) -> str | None:
    try:
        return validate_id(urllib.parse.unquote(text), "camera_id")
    except TopicError:
        return None


class ConsoleHandler(BaseHTTPRequestHandler):
    """One request; ``server.api`` holds the shared parts."""

    server: ConsoleServer
    server_version = "sightline-console"
    sys_version = ""
    timeout = 30  # a client that opens a connection and sends nothing is let go

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s", format % args)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"ok": False, "errors": [message]})

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._error(413, f"body: at most {MAX_BODY} bytes")
            return None
        return self.rfile.read(length)

    @property
    def _path(self) -> list[str]:
        path = urllib.parse.urlsplit(self.path).path
        return [part for part in path.split("/") if part]

    # -- GET --------------------------------------------------------------------------------

    def _host_refused(self) -> bool:
        """Without a password the page is for this machine only: a request naming any other
        host (a DNS-rebinding page in the user's browser) is refused."""
        if self.server.api.auth.required:
            return False
        if host_name(self.headers.get("Host")) in LOOPBACK_NAMES:
            return False
        self._error(403, "Host: without a password the console answers only to localhost")
        return True

    def do_GET(self) -> None:
        api = self.server.api
        parts = self._path
        if self._host_refused():
            return
        if parts[:1] == ["static"] and len(parts) == 2 and parts[1] in STATIC:
            body = (HERE / "static" / parts[1]).read_bytes()
            self._send(200, body, STATIC[parts[1]])
            return
        if parts == ["login"]:
            self._login_page(200, "")
            return
        if not api.auth.allows(self.headers):
            if parts[:1] == ["api"]:
                self._error(401, "authorization: log in first (or send Authorization: Bearer)")
            else:
                self._login_page(401, "")
            return
        if not parts:
            self._send(200, api.page("page.html"), "text/html; charset=utf-8")
        elif parts == ["api", "cameras"]:
            self._json(
                200,
                {
                    "cameras": api.board.cameras(time.time()),
                    "event_seq": api.board.event_seq,
                    "auth": api.auth.required,
                },
            )
        elif parts[:2] == ["api", "cameras"] and len(parts) in (3, 4):
            self._camera_get(parts[2], parts[3] if len(parts) == 4 else None)
        elif parts == ["api", "events"]:
            self._json(200, {"events": api.board.events(), "event_seq": api.board.event_seq})
        elif parts[:2] == ["api", "snapshots"] and len(parts) == 3:
            event_id = parts[2].removesuffix(".jpg")
            try:
                validate_id(event_id, "event_id", max_length=MAX_EVENT_ID_LENGTH)
            except TopicError as exc:
                self._error(404, str(exc))
                return
            jpeg = api.board.snapshot_jpeg(event_id)
            if jpeg is None:
                self._error(404, f"event_id: no snapshot of {event_id!r} here")
            else:
                self._send(200, jpeg, "image/jpeg")
        else:
            self._error(404, "not found")

    do_HEAD = do_GET

    def _camera_get(self, raw_id: str, what: str | None) -> None:
        board = self.server.api.board
        camera_id = _camera_id(raw_id)
        if camera_id is None:
            self._error(404, "camera_id: not a valid id")
            return
        if what is None:
            detail = board.camera(camera_id, time.time())
            if detail is None:
                self._error(404, f"camera_id: no camera {camera_id!r} seen")
            else:
                self._json(200, detail)
        elif what == "frame.jpg":
            jpeg = board.frame(camera_id)
            if jpeg is None:
                self._error(404, f"camera_id: no frame of {camera_id!r} yet")
            else:
                self._send(200, jpeg, "image/jpeg")
        else:
            self._error(404, "not found")

    def _login_page(self, status: int, message: str) -> None:
        body = self.server.api.page("login.html", message=message)
        self._send(status, body, "text/html; charset=utf-8")

    # -- POST -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        api = self.server.api
        parts = self._path
        if self._host_refused():
            return
        if parts == ["login"]:
            self._login()
            return
        if not api.auth.allows(self.headers):
            self._error(401, "authorization: log in first (or send Authorization: Bearer)")
            return
        if parts == ["logout"]:
            self._send(303, b"", "text/plain", {"Location": "login", "Set-Cookie": _cookie("")})
            return
        if parts[:2] != ["api", "cameras"] or len(parts) != 4 or parts[3] not in ("check", "save"):
            self._error(404, "not found")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._error(415, "Content-Type: application/json expected")
            return
        camera_id = _camera_id(parts[2])
        if camera_id is None:
            self._error(404, "camera_id: not a valid id")
            return
        raw = self._body()
        if raw is None:
            return
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self._error(400, f"body: not JSON ({exc})")
            return
        except RecursionError:
            self._error(400, "body: nested too deeply")
            return
        if not isinstance(request, dict):
            self._error(400, "body: expected {device_id, config}")
            return
        device_id = request.get("device_id") or api.board.device_of(camera_id) or camera_id
        if not isinstance(device_id, str):
            self._error(422, "device_id: expected a string")
            return
        config = request.get("config")
        if isinstance(config, dict):
            given = config.get("camera_id")
            if given not in (None, camera_id):
                self._error(422, f"config.camera_id: {given!r}, but this is camera {camera_id!r}")
                return
            if device_id != camera_id:
                config = {"camera_id": camera_id, **config}
        checked = check_draft(device_id, config)
        if parts[3] == "check" or checked.config is None:
            if parts[3] == "save":
                api.counted("saves", "invalid")
            self._json(200 if checked.config is not None else 422, checked.as_json())
            return
        problem = api.publish(camera_id, device_id, checked.config)
        if problem is not None:
            api.counted("saves", "not_confirmed")
            self._json(503, {**checked.as_json(), "ok": False, "errors": [problem]})
            return
        api.counted("saves", "saved")
        log.info(
            "config of %s saved",
            camera_id,
            extra={"camera_id": camera_id, "device_id": device_id},
        )
        self._json(200, {**checked.as_json(), "saved": True})

    def _login(self) -> None:
        api = self.server.api
        raw = self._body()
        if raw is None:
            return
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        password = (form.get("password") or [""])[0]
        if not api.auth.required or api.auth.password_ok(password):
            api.counted("logins", "ok")
            self._send(
                303, b"", "text/plain", {"Location": "./", "Set-Cookie": _cookie(api.auth.session)}
            )
            return
        api.counted("logins", "refused")
        log.warning("console: wrong password", extra={"client": self.client_address[0]})
        self._login_page(401, "Wrong password.")


def _cookie(value: str) -> str:
    age = "" if value else "; Max-Age=0"
    return f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{age}"


class ConsoleServer(ThreadingHTTPServer):
    """The console's server on its own thread."""

    daemon_threads = True

    def __init__(self, host: str, port: int, api: Api) -> None:
        self.api = api
        super().__init__((host, port), ConsoleHandler)
        self._thread = threading.Thread(target=self.serve_forever, name="console-http", daemon=True)

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The page's address."""
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.shutdown()
        self.server_close()
