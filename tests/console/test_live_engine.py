"""End to end: a line drawn on the console's page in a real browser, saved, is applied by a
real ``sightline-engine`` process without a restart, which then reports crossings of the new
line when fed the bundled video's recorded detections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.console.feed import ENGINE_YAML, feed, recorded
from tests.console.support import (
    CHROMIUM,
    STATE_TOPIC,
    ConsoleProcess,
    browser_page,
    draw_walkway_line,
    running,
    shots_dir,
)
from tests.event_engine.engine_process import STATUS_TOPIC, EngineProcess
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish
from tests.support.service_process import status_now

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


def _crossings(messages: list[Seen], line: str) -> list[dict[str, object]]:
    events = [json.loads(m.payload) for m in messages if m.topic == "events/street/line_cross"]
    return [e for e in events if isinstance(e.get("line"), dict) and e["line"]["name"] == line]


def _applied_with(line: str):  # type: ignore[no-untyped-def]
    def check(messages: list[Seen]) -> bool:
        states = [json.loads(m.payload) for m in messages if m.topic == STATE_TOPIC]
        if not states or not states[-1]["applied"]:
            return False
        return any(x.get("name") == line for x in states[-1]["config"].get("lines", []))

    return check


def test_a_line_drawn_on_the_page_raises_crossings_in_the_running_engine(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    config = tmp_path / "engine.yaml"
    shutil.copy(ENGINE_YAML, config)
    engine = EngineProcess(broker, config, tmp_path / "engine-state")
    engine.start()
    try:
        collector.wait_for(status_now(STATUS_TOPIC, b"online"), timeout=60)
        collector.wait_for(lambda ms: any(m.topic == STATE_TOPIC for m in ms), timeout=30)
        with running(ConsoleProcess(broker, tmp_path, None)) as console, browser_page() as page:
            feed(broker, count=10, frame_every=5)  # the camera and its frame on the page
            page.goto(console.url)
            page.wait_for_selector("#camera-list li[data-camera=street]")
            expect(page.locator("#frame")).to_have_js_property("naturalWidth", 1280)
            page.wait_for_selector("#overlay .line-name:text('kerb')")
            draw_walkway_line(page, "walkway")
            page.click("#save")
            collector.wait_for(_applied_with("walkway"), timeout=30)
            expect(page.locator("#save-status")).to_contain_text("Applied by the engine")
            shots = shots_dir()
            if shots:
                page.screenshot(path=str(shots / "console-applied.png"))

            # the recorded walk of the bundled video, after the first ten frames already sent
            rest = [json.dumps(e).encode() for e in recorded()[10:]]
            publish(broker.host, broker.port, "detections/street", rest)
            seen = collector.wait_for(lambda ms: bool(_crossings(ms, "walkway")), timeout=60)
            crossing = _crossings(seen, "walkway")[0]
            assert crossing["rule"] == "walkway-crossed"
            assert crossing["camera_id"] == "street"
            # the page lists it as it arrives
            page.wait_for_selector("#event-list li:has-text('line walkway')")
    finally:
        assert engine.stop() == 0, engine.log_path.read_text()[-3000:]
