"""The production ACL of mosquitto/, proved on a real broker: each service's credentials can
do what the service needs and are refused the rest; anonymous clients are refused."""

from __future__ import annotations

import itertools
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sightline.broker import LocalMosquitto
from sightline.ids import RESERVED_CAMERA_IDS
from sightline.messages.event import EVENT_TYPES
from sightline.topics import Topic, Topics
from tests.conftest import REPO
from tests.support.waiting import settle, wait_until

ACL = REPO / "mosquitto" / "acl"
SERVICE_USERS = tuple(
    line.split()[1] for line in ACL.read_text().splitlines() if line.startswith("user ")
)
USERS = ("driveway", *SERVICE_USERS)
PASSWORD = "pw-{user}"
MARKER = "homeassistant/status"
OWN_STATUS = {
    "engine": "sightline/event-engine/main/status",
    "frames": "sightline/frame-store/main/status",
    "notifier": "sightline/notifier/main/status",
    "homeassistant": "homeassistant/status",
    "console": "sightline/console/main/status",
    "driveway": "sightline/edge-publisher/driveway/status",
}
"""A topic each reading account may both write and read: its marker."""
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
    broker = LocalMosquitto(root / "broker", password_file=passwd, extra_conf=f"acl_file {ACL}\n")
    broker.start()
    yield broker
    broker.stop()


class Session:
    """A logged-in MQTT v5 client that records what it receives."""

    def __init__(self, broker: LocalMosquitto, user: str | None) -> None:
        self.received: list[str] = []
        self.acknowledged: dict[int, str] = {}
        self.refused: str | None = None
        self.ready = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"acl-{user}-{next(_ids)}", protocol=paho.MQTTv5
        )
        if user is not None:
            self.client.username_pw_set(user, PASSWORD.format(user=user))
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_publish = self._on_publish
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

    def _on_publish(
        self, client: paho.Client, userdata: object, mid: int, reason: object, properties: object
    ) -> None:
        self.acknowledged[mid] = str(reason)

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic_filter, qos=1)
        done.wait(5)

    def publish(self, topic: str, retain: bool = False) -> str:
        """Publish at QoS 1; the reason code of the broker's PUBACK."""
        info = self.client.publish(topic, b"{}", qos=1, retain=retain)
        info.wait_for_publish(5)
        return self.acknowledged.get(info.mid, "no PUBACK")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _observer(topic: str) -> tuple[str, str, str, str]:
    """An account that may read ``topic`` (ops reads all but its own name's topics), the
    filter it subscribes, and who publishes what marker it also reads."""
    if "/ops" not in topic:
        return "ops", "#", "homeassistant", MARKER
    if topic.endswith("/frame"):
        return "frames", "detections/+/frame", "driveway", "detections/driveway/frame"
    return "engine", topic.replace("/ops", "/+"), "homeassistant", MARKER


def _delivered(broker: LocalMosquitto, user: str, topic: str) -> bool:
    """Whether a publish by ``user`` on ``topic`` is accepted (PUBACK success) and reaches an
    account that may read it; a refused one must be refused both ways.

    A marker published after it (by an account allowed to) tells when to stop waiting.
    """
    observer_user, topic_filter, marker_user, marker = _observer(topic)
    observer = Session(broker, observer_user)
    observer.subscribe(topic_filter)
    observer.subscribe(marker)
    sender = Session(broker, user)
    try:
        acknowledged = sender.publish(topic)
        marker_sender = Session(broker, marker_user)
        marker_sender.publish(marker)
        marker_sender.close()
        wait_until(lambda: marker in observer.received, 5, "the marker", interval=0.02)
        delivered = topic in observer.received
        assert delivered is (acknowledged == "Success"), (acknowledged, delivered)
        if not delivered:
            assert acknowledged == "Not authorized"
        return delivered
    finally:
        sender.close()
        observer.close()


@pytest.mark.parametrize(
    ("user", "topic", "allowed"),
    [
        ("driveway", "detections/driveway", True),
        ("driveway", "detections/driveway/frame", True),
        ("driveway", "sightline/edge-publisher/driveway/status", True),
        ("driveway", "sightline/edge-publisher/driveway/stats", True),
        ("driveway", "detections/backyard", False),
        ("driveway", "detections/backyard/frame", False),
        ("driveway", "sightline/edge-publisher/backyard/status", False),
        ("driveway", "sightline/edge-publisher/backyard/stats", False),
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
        # only the console changes a camera's config live; the engine answers
        ("console", "sightline/event-engine/config/driveway/set", True),
        ("console", "sightline/console/main/status", True),
        ("console", "sightline/event-engine/config/driveway/state", False),
        ("console", "events/driveway/line_cross", False),
        ("engine", "sightline/event-engine/config/driveway/state", True),
        ("engine", "sightline/event-engine/config/driveway/set", False),
        ("homeassistant", "sightline/event-engine/config/driveway/set", False),
        ("driveway", "sightline/event-engine/config/driveway/set", False),
        ("notifier", "sightline/event-engine/config/driveway/set", False),
        ("frames", "sightline/event-engine/config/driveway/set", False),
        *[
            (service, topic.format(name), False)
            for service in SERVICE_USERS
            for name in (service, "driveway")
            for topic in (
                "detections/{}",
                "detections/{}/frame",
                "sightline/edge-publisher/{}/status",
                "sightline/edge-publisher/{}/stats",
            )
        ],
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
        # Home Assistant's birth message: both services with discovery configs announce again
        ("frames", "homeassistant/status", "homeassistant/status", True),
        ("engine", "homeassistant/status", "homeassistant/status", True),
        ("notifier", "homeassistant/status", "homeassistant/status", False),
        ("frames", "events/#", "events/driveway/line_cross", True),
        ("notifier", "events/#", "events/driveway/line_cross", True),
        ("notifier", "detections/+", "detections/driveway", False),
        ("driveway", "events/#", "events/driveway/line_cross", False),
        ("homeassistant", "events/#", "events/driveway/line_cross", True),
        ("console", "events/#", "events/driveway/line_cross", True),
        ("console", "detections/+", "detections/driveway", True),
        ("console", "detections/+/frame", "detections/driveway/frame", True),
        (
            "engine",
            "sightline/edge-publisher/+/status",
            "sightline/edge-publisher/driveway/status",
            True,
        ),
        (
            "engine",
            "sightline/edge-publisher/+/stats",
            "sightline/edge-publisher/driveway/stats",
            True,
        ),
        ("homeassistant", "sightline/#", "sightline/edge-publisher/driveway/stats", True),
        (
            "notifier",
            "sightline/edge-publisher/+/stats",
            "sightline/edge-publisher/driveway/stats",
            False,
        ),
        (
            "frames",
            "sightline/edge-publisher/+/status",
            "sightline/edge-publisher/driveway/status",
            False,
        ),
    ],
)
def test_each_service_reads_exactly_its_topics(
    acl_broker: LocalMosquitto, user: str, topic_filter: str, published: str, receives: bool
) -> None:
    reader = Session(acl_broker, user)
    reader.subscribe(topic_filter)
    marker = OWN_STATUS[user]
    reader.subscribe(marker)
    publisher_user = "engine" if published.startswith("events/") else "driveway"
    if published.startswith("homeassistant/"):
        publisher_user = "homeassistant"
    sender = Session(acl_broker, publisher_user)
    try:
        assert sender.publish(published) == "Success"
        # No topic is readable by every account, but each may write and read its own status.
        # The PUBACK above came after Mosquitto routed the message; the reader's own marker,
        # published after it, reaches the reader's session behind it: once the marker is in,
        # a refused read is the absence of the message (the allowed cases prove the order).
        assert reader.publish(marker) == "Success"
        wait_until(lambda: marker in reader.received, 5, "the reader's marker", interval=0.02)
    finally:
        sender.close()
        reader.close()

    assert (published in reader.received) is receives


def test_the_engine_reads_an_edges_retained_stats_published_before_it_subscribed(
    acl_broker: LocalMosquitto,
) -> None:
    edge = Session(acl_broker, "driveway")
    acknowledged = edge.publish("sightline/edge-publisher/driveway/stats", retain=True)
    assert acknowledged in ("Success", "No matching subscribers")
    edge.close()
    engine = Session(acl_broker, "engine")
    try:
        engine.subscribe("sightline/edge-publisher/+/stats")
        settle(lambda: bool(engine.received), 3, interval=0.02)
    finally:
        engine.close()

    assert engine.received == ["sightline/edge-publisher/driveway/stats"]


EVENT_TOPICS = [str(Topics().event("driveway", kind)) for kind in EVENT_TYPES]
"""One topic per registered event type, as the engine publishes it."""


def _acl_rules() -> dict[str, list[tuple[str, str]]]:
    """``user -> [(access, topic filter)]`` of the ACL (``pattern`` lines under ``""``)."""
    rules: dict[str, list[tuple[str, str]]] = {"": []}
    user = ""
    for line in ACL.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules[user] = []
        elif words[0] in ("topic", "pattern"):
            access, topic = (words[1], words[2]) if len(words) == 3 else ("readwrite", words[1])
            rules["" if words[0] == "pattern" else user].append((access, topic))
    return rules


@pytest.mark.parametrize("topic", EVENT_TOPICS)
def test_the_acl_grants_every_registered_event_type_to_the_engine_alone(topic: str) -> None:
    writers = {
        user
        for user, lines in _acl_rules().items()
        for access, topic_filter in lines
        if access in ("write", "readwrite") and Topic(topic).matches(topic_filter)
    }
    assert writers == {"engine"}, f"mosquitto/acl: {topic} is written by {writers or 'nobody'}"


@pytest.mark.parametrize(("user", "topic"), list(itertools.product(USERS, EVENT_TOPICS)))
def test_only_the_engine_may_publish_each_registered_event_type(
    acl_broker: LocalMosquitto, user: str, topic: str
) -> None:
    assert _delivered(acl_broker, user, topic) is (user == "engine")


def test_every_service_user_of_the_acl_is_a_reserved_camera_id() -> None:
    # an edge logs in with its camera id: a camera named after a service would be it
    assert set(SERVICE_USERS) == RESERVED_CAMERA_IDS


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
