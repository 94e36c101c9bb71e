"""The production ACL of mosquitto/, proved on a real broker: each service's credentials can
do what the service needs and are refused the rest; anonymous clients are refused."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sightline.broker import LocalMosquitto
from tests.conftest import REPO

USERS = ("driveway", "engine", "frames", "notifier", "homeassistant", "ops")
PASSWORD = "pw-{user}"
MARKER = "homeassistant/status"
_ids = itertools.count()


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMosquitto]:
    root = tmp_path_factory.mktemp("acl")
    passwd = root / "passwd"
    for index, user in enumerate(USERS):
        flags = ["-c"] if index == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *flags, "-b", str(passwd), user, PASSWORD.format(user=user)],
            check=True,
        )
    passwd.chmod(0o600)
    broker = LocalMosquitto(
        root / "broker", password_file=passwd, extra_conf=f"acl_file {REPO / 'mosquitto' / 'acl'}\n"
    )
    broker.start()
    yield broker
    broker.stop()


class Session:
    """A logged-in MQTT v5 client that records what it receives."""

    def __init__(self, broker: LocalMosquitto, user: str | None) -> None:
        self.received: list[str] = []
        self.refused: str | None = None
        self.ready = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"acl-{user}-{next(_ids)}", protocol=paho.MQTTv5
        )
        if user is not None:
            self.client.username_pw_set(user, PASSWORD.format(user=user))
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.ready.wait(5)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = str(reason)
        self.ready.set()

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic_filter, qos=1)
        done.wait(5)

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b"{}", qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _delivered(broker: LocalMosquitto, user: str, topic: str) -> bool:
    """Whether a publish by ``user`` on ``topic`` reaches the ops account.

    A marker published after it (by an account allowed to) tells when to stop waiting.
    """
    ops = Session(broker, "ops")
    ops.subscribe("#")
    sender = Session(broker, user)
    try:
        sender.publish(topic)
        marker_sender = Session(broker, "homeassistant")
        marker_sender.publish(MARKER)
        marker_sender.close()
        deadline = time.monotonic() + 5
        while MARKER not in ops.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert MARKER in ops.received, "the marker never arrived"
        return topic in ops.received
    finally:
        sender.close()
        ops.close()


@pytest.mark.parametrize(
    ("user", "topic", "allowed"),
    [
        ("driveway", "detections/driveway", True),
        ("driveway", "detections/driveway/frame", True),
        ("driveway", "sightline/edge-publisher/driveway/status", True),
        ("driveway", "detections/backyard", False),
        ("driveway", "events/driveway/line_cross", False),
        ("driveway", "homeassistant/sensor/x/y/config", False),
        ("engine", "events/driveway/line_cross", True),
        ("engine", "events/driveway/zone_dwell", True),
        ("engine", "homeassistant/binary_sensor/sightline_driveway/garden/config", True),
        ("engine", "sightline/event-engine/main/status", True),
        ("engine", "sightline/driveway/engine/state", True),
        ("frames", "sightline/driveway/engine/state", False),
        ("engine", "sightline/deadletter/event-engine", True),
        ("engine", "detections/driveway", False),
        ("engine", "events/driveway/snapshot", False),
        ("frames", "events/driveway/snapshot", True),
        ("frames", "sightline/driveway/snapshot/latest", True),
        ("frames", "homeassistant/image/sightline_driveway/snapshot/config", True),
        ("frames", "events/driveway/line_cross", False),
        ("notifier", "sightline/notifier/main/status", True),
        ("notifier", "sightline/deadletter/notifier", True),
        ("notifier", "events/driveway/line_cross", False),
        ("notifier", "detections/driveway", False),
        ("homeassistant", "events/driveway/line_cross", False),
    ],
)
def test_each_service_may_publish_exactly_its_topics(
    acl_broker: LocalMosquitto, user: str, topic: str, allowed: bool
) -> None:
    assert _delivered(acl_broker, user, topic) is allowed


@pytest.mark.parametrize(
    ("user", "topic_filter", "published", "receives"),
    [
        ("engine", "detections/+", "detections/driveway", True),
        ("frames", "detections/+/frame", "detections/driveway/frame", True),
        ("frames", "events/#", "events/driveway/line_cross", True),
        ("notifier", "events/#", "events/driveway/line_cross", True),
        ("notifier", "detections/+", "detections/driveway", False),
        ("driveway", "events/#", "events/driveway/line_cross", False),
        ("homeassistant", "events/#", "events/driveway/line_cross", True),
    ],
)
def test_each_service_reads_exactly_its_topics(
    acl_broker: LocalMosquitto, user: str, topic_filter: str, published: str, receives: bool
) -> None:
    reader = Session(acl_broker, user)
    reader.subscribe(topic_filter)
    publisher_user = "engine" if published.startswith("events/") else "driveway"
    sender = Session(acl_broker, publisher_user)
    try:
        sender.publish(published)
        deadline = time.monotonic() + (3 if receives else 1)
        while published not in reader.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sender.close()
        reader.close()

    assert (published in reader.received) is receives


def test_anonymous_clients_are_refused(acl_broker: LocalMosquitto) -> None:
    session = Session(acl_broker, None)
    session.close()

    assert session.refused is not None
    assert "authori" in session.refused.lower()


def test_the_production_config_names_the_traps_it_avoids() -> None:
    conf = (REPO / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(
        line.split(None, 1)
        for line in conf.splitlines()
        if line and not line.startswith("#") and " " in line
    )

    assert settings["persistence"] == "true"
    assert settings["allow_anonymous"] == "false"
    assert int(settings["autosave_interval"]) <= 5
    assert settings["max_queued_messages"] == "0"  # bounded by max_queued_bytes instead
    assert int(settings["max_queued_bytes"]) > 0
    assert settings["set_tcp_nodelay"] == "true"  # late acks must not meet Nagle
    assert (
        Path(REPO / "mosquitto" / "bridge-edge.conf").read_text().count("topic detections/# out 1")
        == 1
    )
