"""The notifier on a disk that fills up or turns read-only: nothing acknowledged that was not
written, nothing lost, nothing sent twice, and it says why it holds.

Real parts: a small tmpfs (``mount -t tmpfs``, root needed) holds the notifier's state and
JSON log; a real Mosquitto; a real SMTP server (aiosmtpd); the notifier as a real process.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sightline.messages import Event, encode
from tests.notifier.notifier_process import STATUS_TOPIC, NotifierProcess
from tests.notifier.support import (
    SmtpServer,
    event_topic,
    fill,
    make_event,
    remount,
    small_disk,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.service_process import status_now
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted at the end."""
    with small_disk(tmp_path / "disk") as mountpoint:
        yield mountpoint


@pytest.fixture
def notifier(
    broker: Broker, smtp: SmtpServer, tmp_path: Path, disk: Path
) -> Iterator[NotifierProcess]:
    """The notifier with its state and JSON log on ``disk`` (its own log stays off it)."""
    process = NotifierProcess(broker, smtp, tmp_path)
    process.state_dir = disk / "state"
    process.env["SIGHTLINE_STATE_DIR"] = str(process.state_dir)
    process.env["SIGHTLINE_MQTT__RECONNECT_MAX_S"] = "2"  # the retry back-off, kept short
    section = {
        "snapshot_wait_s": 0,
        "json_log": {"directory": str(disk / "log"), "per_day": False},
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout_s": 5},
        "email": {"to": ["home@example.com"], "rate_limit_per_hour": 1000},
        "digests": [{"name": "default", "every": "1h"}],
    }
    process.config.write_text(yaml.safe_dump({"notifier": section}))
    yield process
    process.close()


def events(first: int, count: int) -> list[Event]:
    return [make_event(n, immediate=True, snapshot=False) for n in range(first, first + count)]


def send(broker: Broker, batch: list[Event]) -> None:
    publish(broker.host, broker.port, event_topic(batch[0]), [encode(e) for e in batch])


def logged(disk: Path) -> Counter[str]:
    path = disk / "log" / "events.jsonl"
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["event_id"] for line in path.read_text().splitlines() if line)


def mailed(smtp: SmtpServer) -> Counter[str]:
    return Counter(str(m["X-Sightline-Event-Id"]) for m in list(smtp.inbox.messages))


def health(notifier: NotifierProcess) -> tuple[int, dict[str, object]]:
    status, body = notifier.healthz()
    return status, json.loads(body) if body.strip().startswith(b"{") else {}


def dead_letters(collector: Collector) -> list[str]:
    return [m.topic for m in collector.on("sightline/deadletter/notifier")]


def test_a_full_disk_holds_the_events_says_why_and_loses_or_doubles_nothing_once_freed(
    broker: Broker,
    collector: Collector,
    smtp: SmtpServer,
    notifier: NotifierProcess,
    disk: Path,
) -> None:
    before, during = events(1, 5), events(100, 10)
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))
    send(broker, before)
    wait_until(lambda: len(mailed(smtp)) == 5, 30, "the first e-mails")

    filler = fill(disk)
    send(broker, during)
    wait_until(lambda: health(notifier)[0] == 503, 30, "/healthz failing")
    assert health(notifier)[1].get("failing") == ["state"]
    assert "sightline_notifier_state_writable 0.0" in notifier.metrics_text()
    wait_until(
        lambda: (
            "sightline_mqtt_handler_retries_total 3.0" in notifier.metrics_text()
            or notifier.log_text().count("asked to retry") >= 3
        ),
        30,
        "a few retries",
    )
    assert sum(logged(disk).values()) < 15  # held, not acknowledged as done
    assert len(mailed(smtp)) < 15

    filler.unlink()

    wanted = Counter(e.event_id for e in before + during)
    wait_until(lambda: logged(disk) == wanted, 60, "every event in the JSON log")
    wait_until(lambda: mailed(smtp) == wanted, 60, "every e-mail")
    wait_until(lambda: health(notifier)[0] == 200, 30, "/healthz ok again")
    text = notifier.log_text()
    assert text.count("No space left on device; holding new events") == 1  # once per episode
    assert "writes work again" in text
    assert "Traceback" not in text
    assert dead_letters(collector) == []
    assert notifier.stop() == 0
    assert logged(disk) == wanted
    assert mailed(smtp) == wanted


def test_a_read_only_disk_holds_the_events_until_it_is_writable_and_a_read_only_start_says_so(
    broker: Broker,
    collector: Collector,
    smtp: SmtpServer,
    notifier: NotifierProcess,
    disk: Path,
) -> None:
    before, during = events(1, 3), events(200, 5)
    notifier.start()
    collector.wait_for(status_now(STATUS_TOPIC, b"online"))
    send(broker, before)
    wait_until(lambda: len(mailed(smtp)) == 3, 30, "the first e-mails")

    remount(disk, "ro")
    send(broker, during)
    wait_until(lambda: health(notifier)[0] == 503, 30, "/healthz failing")
    assert sum(logged(disk).values()) == 3
    remount(disk, "rw")

    wanted = Counter(e.event_id for e in before + during)
    wait_until(lambda: logged(disk) == wanted, 60, "every event in the JSON log")
    wait_until(lambda: mailed(smtp) == wanted, 60, "every e-mail")
    wait_until(lambda: health(notifier)[0] == 200, 30, "/healthz ok again")
    assert "Read-only file system; holding new events" in notifier.log_text()
    assert notifier.stop() == 0

    remount(disk, "ro")
    log_start = len(notifier.log_text())
    notifier.start()
    status = notifier.wait(30)
    remount(disk, "rw")
    said = notifier.log_text()[log_start:]
    assert status == 73
    assert said.strip().splitlines() == [
        f"sightline-notifier: cannot write its state directory {notifier.state_dir}: "
        "Read-only file system"
    ]
    assert logged(disk) == wanted
    assert mailed(smtp) == wanted
    assert dead_letters(collector) == []
