"""The console under the shipped broker ACL: as the user ``console`` it reads what the page
shows and its save is accepted; under an account the ACL does not let write ``.../set``, the
save is refused by the broker and the page says so instead of claiming it was saved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.broker import LocalMosquitto
from tests.console.feed import engine_device
from tests.console.support import SET_TOPIC, ConsoleProcess, running
from tests.support.broker import acl_broker, password
from tests.support.mqtt import Collector, publish
from tests.support.waiting import wait_until

USERS = ("console", "notifier", "ops", "street")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    started = acl_broker(tmp_path / "acl", USERS)
    try:
        yield started
    finally:
        started.stop()


def _console(broker: LocalMosquitto, tmp_path: Path, user: str) -> ConsoleProcess:
    return ConsoleProcess(
        broker,  # type: ignore[arg-type]
        tmp_path / user,
        None,
        SIGHTLINE_MQTT__USERNAME=user,
        SIGHTLINE_MQTT__PASSWORD=password(user),
    )


def _draft() -> dict[str, object]:
    return {"device_id": "street-pi", "config": {**engine_device(), "camera_id": "street"}}


def test_the_console_account_may_save(broker: LocalMosquitto, tmp_path: Path) -> None:
    (tmp_path / "console").mkdir()
    ops = Collector(broker.host, broker.port, "#", username="ops", password=password("ops"))
    try:
        with running(_console(broker, tmp_path, "console")) as console:
            status = b"online"
            publish(
                broker.host,
                broker.port,
                "sightline/edge-publisher/street/status",
                [status],
                retain=True,
                username="street",
                password=password("street"),
            )
            # it may read the edge's status: the camera appears
            wait_until(
                lambda: json.loads(console.request("api/cameras")[1])["cameras"],
                20,
                "the console lists the camera from its edge status",
            )
            code, body = console.request("api/cameras/street/save", _draft())
            assert code == 200, body
            seen = ops.wait_for(lambda ms: any(m.topic == SET_TOPIC for m in ms))
    finally:
        ops.close()
    assert (
        json.loads(next(m for m in seen if m.topic == SET_TOPIC).payload)["device_id"]
        == "street-pi"
    )


def test_another_account_is_refused_and_the_page_says_so(
    broker: LocalMosquitto, tmp_path: Path
) -> None:
    (tmp_path / "notifier").mkdir()
    with running(_console(broker, tmp_path, "notifier")) as console:
        code, body = console.request("api/cameras/street/save", _draft())
    assert code == 503
    answer = json.loads(body)
    assert answer["ok"] is False
    assert "refused sightline/event-engine/config/street/set" in answer["errors"][0]
    assert "saved" not in answer
