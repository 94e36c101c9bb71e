"""The console page in a real browser, fed real envelopes through a real Mosquitto: it lists
the camera with its frame, a line drawn with the mouse is saved as a retained, valid
DeviceConfig on ``.../config/street/set``; a wrong password is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from sightline.config.engine import DeviceConfig
from tests.console.feed import engine_state, feed, publish_event, recorded, video_jpegs, write_token
from tests.console.support import (
    CHROMIUM,
    SET_TOPIC,
    STATE_TOPIC,
    ConsoleProcess,
    browser_page,
    draw_walkway_line,
    running,
    shots_dir,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

TOKEN = "correct horse battery staple"


def test_draw_a_line_and_save_it(broker: Broker, tmp_path: Path) -> None:
    token_file = write_token(tmp_path / "console-token", TOKEN)
    publish(broker.host, broker.port, STATE_TOPIC, [engine_state()], retain=True)
    shots = shots_dir()
    with running(ConsoleProcess(broker, tmp_path, token_file)) as console, browser_page() as page:
        feed(broker, count=60, frame_every=5)
        page.goto(console.url)
        assert page.locator("#password").is_visible()  # nothing shown before logging in
        page.fill("#password", "wrong")
        with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
            page.click("#login")
        assert answer.value.status == 401
        assert "Wrong password" in page.inner_text("#login-message")
        page.fill("#password", TOKEN)
        page.click("#login")

        page.wait_for_selector("#camera-list li[data-camera=street]")
        expect(page.locator("#frame")).to_have_js_property("naturalWidth", 1280)
        page.wait_for_selector("#overlay rect.box")  # live boxes of the frame shown
        page.wait_for_selector("#overlay .line-name:text('kerb')")  # the engine's line
        assert "24.8 fps" in page.inner_text("#camera-list")
        event_id = publish_event(broker, recorded(1)[0], video_jpegs(1)[0])
        card = page.locator(f"#event-list li[data-event='{event_id}']")
        expect(card).to_contain_text("LINE_CROSS")
        expect(card.locator("img")).to_have_js_property("naturalWidth", 1280)  # its snapshot
        if shots:
            page.screenshot(path=str(shots / "console-watch.png"))

        draw_walkway_line(page, "walkway")
        page.wait_for_selector("#overlay .line-name:text('walkway')")
        expect(page.locator("#yaml")).to_contain_text("name: walkway")
        if shots:
            page.screenshot(path=str(shots / "console-draw.png"))
        page.click("#save")
        expect(page.locator("#save-status")).to_contain_text("Saved to the broker")
        # the engine's answer is shown: here a refusal, with its reason
        refusal = json.loads(engine_state())
        refusal.update(applied=False, error="lines[1]: a polyline must not cross itself")
        publish(broker.host, broker.port, STATE_TOPIC, [json.dumps(refusal).encode()], retain=True)
        expect(page.locator("#save-status")).to_contain_text(
            "Engine refused it: lines[1]: a polyline must not cross itself"
        )

    # A fresh subscriber gets it as the engine would: retained, and a valid DeviceConfig.
    later = Collector(broker.host, broker.port, SET_TOPIC)
    try:
        seen = later.wait_for(lambda ms: any(m.topic == SET_TOPIC for m in ms))
    finally:
        later.close()
    message = next(m for m in seen if m.topic == SET_TOPIC)
    assert message.retain
    body = json.loads(message.payload)
    assert body["device_id"] == "street-pi"
    config = DeviceConfig.model_validate(body["config"])
    assert config.camera_id == "street"
    walkway = next(line for line in config.lines if line.label == "walkway")
    assert walkway.type == "polyline"
    assert walkway.units == "pct"
    assert walkway.points is not None
    assert len(walkway.points) == 2
    (x1, y1), (x2, y2) = walkway.points
    assert x1 == pytest.approx(5, abs=1.5)
    assert x2 == pytest.approx(95, abs=1.5)
    assert y1 == pytest.approx(55, abs=1.5)
    assert y2 == pytest.approx(55, abs=1.5)
    # what the engine had is kept: its line and its rules
    assert [line.label for line in config.lines] == ["kerb", "walkway"]
    # and the new line raises events: its crossing rule came with it
    assert [rule.name for rule in config.events] == [
        "kerb-crossed",
        "corner-entered",
        "corner-left",
        "walkway-crossed",
    ]
    assert config.events[-1].match.line == "walkway"


def test_wrong_password_is_refused_and_nothing_is_saved(broker: Broker, tmp_path: Path) -> None:
    token_file = write_token(tmp_path / "console-token", TOKEN)
    collector = Collector(broker.host, broker.port, "sightline/event-engine/#")
    draft = {"config": {"lines": [{"type": "vertical", "name": "door", "position_pct": 50}]}}
    try:
        with running(ConsoleProcess(broker, tmp_path, token_file)) as console:
            status, _ = console.request(
                "login",
                raw=b"password=guess",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert status == 401
            assert console.request("api/cameras")[0] == 401
            wrong = {"Authorization": "Bearer guess"}
            assert console.request("api/cameras/street/save", draft, wrong)[0] == 401
            right = {"Authorization": f"Bearer {TOKEN}"}
            assert console.request("api/cameras", headers=right)[0] == 200
            nested = b"[" * 100_000 + b"]" * 100_000  # json's recursion limit: an answer
            status, answer = console.request("api/cameras/street/check", headers=right, raw=nested)
            assert (status, json.loads(answer)["errors"]) == (400, ["body: nested too deeply"])
            status, answer = console.request("api/cameras/street/save", draft, right)
            assert status == 200, answer
            assert json.loads(answer)["saved"] is True
            sets = collector.wait_for(lambda ms: any(m.topic == SET_TOPIC for m in ms))
    finally:
        collector.close()
    # only the authorised save reached the broker
    assert [
        json.loads(m.payload)["config"]["lines"][0]["name"] for m in sets if m.topic == SET_TOPIC
    ] == ["door"]


def _centre(page: Any, selector: str) -> tuple[float, float]:
    """The centre of an overlay element (the overlay is redrawn at each poll: the element
    may be replaced between finding and measuring it, so measure until it holds still)."""
    boxes: list[dict[str, float]] = []

    def measured() -> bool:
        box = page.locator(selector).bounding_box(timeout=2000)
        if box is not None:
            boxes.append(box)
        return box is not None

    wait_until(measured, 10, f"{selector} on the page")
    box = boxes[-1]
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_draw_and_edit_a_zone_with_the_mouse(broker: Broker, tmp_path: Path) -> None:
    publish(broker.host, broker.port, STATE_TOPIC, [engine_state()], retain=True)
    shots = shots_dir()
    with running(ConsoleProcess(broker, tmp_path, None)) as console, browser_page() as page:
        feed(broker, count=20, frame_every=5)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(console.url)  # no password set: loopback only, no login
        expect(page.locator("#frame")).to_have_js_property("naturalWidth", 1280)
        frame = page.locator("#frame").bounding_box()
        assert frame is not None

        def at(fx: float, fy: float) -> tuple[float, float]:
            return frame["x"] + frame["width"] * fx, frame["y"] + frame["height"] * fy

        page.click("#new-zone")
        for fx, fy in ((0.6, 0.6), (0.9, 0.6), (0.9, 0.9), (0.6, 0.9)):
            page.mouse.click(*at(fx, fy))
        page.keyboard.press("Enter")
        page.fill("#shape-name", "plaza")
        # move the third corner
        page.mouse.move(*_centre(page, "#overlay circle.handle[data-point='2']"))
        page.mouse.down()
        page.mouse.move(*at(0.93, 0.93), steps=5)
        page.mouse.move(*at(0.95, 0.95), steps=5)
        page.mouse.up()
        # a point in the middle of the first side, then the first corner deleted
        page.mouse.click(*_centre(page, "#overlay circle.insert[data-insert='0']"))
        expect(page.locator("#overlay circle.handle")).to_have_count(5)
        page.dblclick("#overlay circle.handle[data-point='0']")
        expect(page.locator("#overlay circle.handle")).to_have_count(4)
        expect(page.locator("#yaml")).to_contain_text("name: plaza")
        expect(page.locator("#errors li")).to_have_count(0)
        if shots:
            page.screenshot(path=str(shots / "console-zone.png"))
        page.click("#save")
        expect(page.locator("#save-status")).to_contain_text("Saved to the broker")
        # offline: the page fetched nothing but its own files and API
        assert requested
        assert all(url.startswith(console.url) for url in requested), requested

    later = Collector(broker.host, broker.port, SET_TOPIC)
    try:
        seen = later.wait_for(lambda ms: any(m.topic == SET_TOPIC for m in ms))
    finally:
        later.close()
    config = DeviceConfig.model_validate(json.loads(seen[-1].payload)["config"])
    plaza = next(zone for zone in config.zones if zone.label == "plaza")
    assert plaza.points == [
        pytest.approx((75, 60), abs=1.5),
        pytest.approx((90, 60), abs=1.5),
        pytest.approx((95, 95), abs=1.5),
        pytest.approx((60, 90), abs=1.5),
    ]
    rules = {rule.name: rule.match for rule in config.events}
    assert rules["plaza-entered"].zone == "plaza"
    assert rules["plaza-left"].event_type == "ZONE_EXIT"
