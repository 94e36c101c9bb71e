"""The console as a real process, and a real browser (Debian's chromium, through Playwright)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sightline.broker import free_port
from tests.support.broker import Broker
from tests.support.service_process import ServiceProcess, service_env
from tests.support.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
SET_TOPIC = "sightline/event-engine/config/street/set"
STATE_TOPIC = "sightline/event-engine/config/street/state"


class ConsoleProcess(ServiceProcess):
    """``python -m console`` on ``broker``, its page on a free port of 127.0.0.1."""

    def __init__(self, broker: Broker, tmp: Path, password_file: Path | None, **env: str) -> None:
        self.port = free_port()
        extra = {"SIGHTLINE_CONSOLE__PORT": str(self.port), **env}
        if password_file is not None:
            extra["SIGHTLINE_CONSOLE__PASSWORD_FILE"] = str(password_file)
        super().__init__(
            "console",
            [],
            service_env(broker, tmp / "console-state", health_port=free_port(), **extra),
            tmp / "console.log",
        )
        self.url = f"http://127.0.0.1:{self.port}/"

    def wait_serving(self, timeout: float = 30.0) -> None:
        """Until the page answers (any status)."""

        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"console exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "login", timeout=2).close()
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_until(answers, timeout, "the console serves its page")

    def request(
        self,
        path: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP request; ``(status, body)``, errors included."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        req = urllib.request.Request(self.url + path, data=data, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@contextmanager
def running(console: ConsoleProcess) -> Iterator[ConsoleProcess]:
    """Started and serving; stopped with SIGTERM (status 0) afterwards."""
    console.start()
    try:
        console.wait_serving()
        yield console
    finally:
        status = console.stop()
        assert status == 0, console.log_path.read_text()[-2000:]


@contextmanager
def browser_page() -> Iterator[Any]:
    """A Playwright page in the system chromium, 1500x1000."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            yield page
        finally:
            browser.close()


def shots_dir() -> Path | None:
    """Where screenshots go when ``SIGHTLINE_CONSOLE_SHOTS`` names a folder."""
    where = os.environ.get("SIGHTLINE_CONSOLE_SHOTS")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    return Path(where)


def draw_walkway_line(page: Any, name: str) -> None:
    """In the page: New line, click two points across the walkway (55% of the height, from
    5% to 95% of the width), Finish, name it."""
    page.click("#new-line")
    box = page.locator("#frame").bounding_box()
    assert box is not None
    for fx in (0.05, 0.95):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.55)
    page.click("#finish")
    page.fill("#shape-name", name)
