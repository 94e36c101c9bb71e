"""Every MQTT topic of ``DESIGN.md``, built and parsed in one place.

A :class:`Topic` is a frozen, self-validating value; :class:`Topics` builds the topics of one
deployment, with an optional prefix for shared brokers (``site-a/detections/driveway``).

Example:
    >>> topics = Topics()
    >>> str(topics.detections("driveway"))
    'detections/driveway'
    >>> str(topics.event("driveway", "LINE_CROSS"))
    'events/driveway/line_cross'
    >>> topics.parse_detections("detections/driveway")
    'driveway'
    >>> str(Topics(prefix="site-a").status("event-engine", "main"))
    'site-a/sightline/event-engine/main/status'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paho.mqtt.client import topic_matches_sub

from sightline.errors import TopicError
from sightline.ids import validate_id

MAX_TOPIC_BYTES = 65535


@dataclass(frozen=True)
class Topic:
    """A concrete topic name (no wildcards) that MQTT accepts.

    Raises:
        TopicError: if the name is empty, too long, or holds a wildcard or a NUL.
    """

    value: str

    def __post_init__(self) -> None:
        if not self.value:
            raise TopicError("a topic must not be empty")
        if len(self.value.encode()) > MAX_TOPIC_BYTES:
            raise TopicError(f"topic is longer than {MAX_TOPIC_BYTES} bytes")
        if "+" in self.value or "#" in self.value:
            raise TopicError(f"topic {self.value!r} must not contain wildcards")
        if "\x00" in self.value:
            raise TopicError("a topic must not contain NUL")

    def __str__(self) -> str:
        return self.value

    @property
    def levels(self) -> list[str]:
        """The levels of the topic, split on ``/``."""
        return self.value.split("/")

    def matches(self, topic_filter: str) -> bool:
        """Whether this topic matches an MQTT filter such as ``events/+/snapshot``.

        Example:
            >>> Topic("events/driveway/line_cross").matches("events/#")
            True
            >>> Topic("events/driveway/snapshot").matches("events/+/line_cross")
            False
        """
        return bool(topic_matches_sub(topic_filter, self.value))


class Service(StrEnum):
    """The services of the suite, as they name themselves in topics."""

    EDGE = "edge-publisher"
    ENGINE = "event-engine"
    NOTIFIER = "notifier"
    FRAMES = "frame-store"
    CONSOLE = "console"
    SUITE = "suite"

    @property
    def command(self) -> str:
        """The console script that runs it.

        Example:
            >>> Service.ENGINE.command, Service.SUITE.command
            ('sightline-engine', 'sightline')
        """
        return _COMMANDS[self]

    @property
    def module(self) -> str:
        """The Python package that runs it (``python -m <module>``).

        Example:
            >>> Service.ENGINE.module
            'event_engine'
        """
        return _MODULES[self]


_COMMANDS = {
    Service.EDGE: "sightline-edge",
    Service.ENGINE: "sightline-engine",
    Service.NOTIFIER: "sightline-notifier",
    Service.FRAMES: "sightline-frames",
    Service.CONSOLE: "sightline-console",
    Service.SUITE: "sightline",
}
_MODULES = {
    Service.EDGE: "edge_publisher",
    Service.ENGINE: "event_engine",
    Service.NOTIFIER: "notifier",
    Service.FRAMES: "frame_store",
    Service.CONSOLE: "console",
    Service.SUITE: "suite",
}


@dataclass(frozen=True)
class Topics:
    """The topics of one deployment.

    Args:
        prefix: prepended to every Sightline topic (not to Home Assistant's), without a
            trailing slash; empty for the names of ``DESIGN.md``.
        discovery_prefix: Home Assistant's discovery prefix.
    """

    prefix: str = ""
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        for name, value in (("prefix", self.prefix), ("discovery_prefix", self.discovery_prefix)):
            if value and (value.startswith("/") or value.endswith("/")):
                raise TopicError(f"{name} {value!r} must not start or end with '/'")
            if "+" in value or "#" in value:
                raise TopicError(f"{name} {value!r} must not contain wildcards")
        if not self.discovery_prefix:
            raise TopicError("discovery_prefix must not be empty")

    def _join(self, *levels: str) -> str:
        return "/".join((self.prefix, *levels)) if self.prefix else "/".join(levels)

    def _strip(self, topic: str) -> list[str] | None:
        if self.prefix:
            head = self.prefix + "/"
            if not topic.startswith(head):
                return None
            topic = topic[len(head) :]
        return topic.split("/")

    # -- building ---------------------------------------------------------------------------

    def detections(self, camera_id: str) -> Topic:
        """``detections/<camera_id>``: one detection envelope per processed frame."""
        return Topic(self._join("detections", validate_id(camera_id, "camera_id")))

    def frames(self, camera_id: str) -> Topic:
        """``detections/<camera_id>/frame``: the envelope plus the JPEG."""
        return Topic(self._join("detections", validate_id(camera_id, "camera_id"), "frame"))

    def event(self, camera_id: str, event_type: str) -> Topic:
        """``events/<camera_id>/<event_type in lower case>``."""
        kind = validate_id(str(event_type).lower(), "event_type")
        return Topic(self._join("events", validate_id(camera_id, "camera_id"), kind))

    def snapshot(self, camera_id: str) -> Topic:
        """``events/<camera_id>/snapshot``: the frame-store's announcement."""
        return Topic(self._join("events", validate_id(camera_id, "camera_id"), "snapshot"))

    def latest_snapshot(self, camera_id: str) -> Topic:
        """``sightline/<camera_id>/snapshot/latest``: retained JPEG for Home Assistant."""
        return Topic(
            self._join("sightline", validate_id(camera_id, "camera_id"), "snapshot", "latest")
        )

    def engine_state(self, camera_id: str) -> Topic:
        """``sightline/<camera_id>/engine/state``: retained counts for Home Assistant."""
        return Topic(
            self._join("sightline", validate_id(camera_id, "camera_id"), "engine", "state")
        )

    def status(self, service: str, instance: str) -> Topic:
        """``sightline/<service>/<instance>/status``: ``online`` / ``offline``, retained."""
        return Topic(
            self._join(
                "sightline",
                validate_id(service, "service"),
                validate_id(instance, "instance"),
                "status",
            )
        )

    def stats(self, service: str, instance: str) -> Topic:
        """``sightline/<service>/<instance>/stats``: retained JSON figures (an edge's fps...)."""
        return Topic(
            self._join(
                "sightline",
                validate_id(service, "service"),
                validate_id(instance, "instance"),
                "stats",
            )
        )

    def deadletter(self, service: str) -> Topic:
        """``sightline/deadletter/<service>``."""
        return Topic(self._join("sightline", "deadletter", validate_id(service, "service")))

    def discovery(self, component: str, node_id: str, object_id: str) -> Topic:
        """``homeassistant/<component>/<node_id>/<object_id>/config``."""
        return Topic(
            "/".join(
                (
                    self.discovery_prefix,
                    validate_id(component, "component"),
                    validate_id(node_id, "node_id"),
                    validate_id(object_id, "object_id"),
                    "config",
                )
            )
        )

    @property
    def homeassistant_status(self) -> Topic:
        """``homeassistant/status``: Home Assistant's birth (``online``) and will."""
        return Topic(f"{self.discovery_prefix}/status")

    # -- subscription filters ---------------------------------------------------------------

    @property
    def all_detections(self) -> str:
        """Filter for every camera's envelopes (not the frames)."""
        return self._join("detections", "+")

    @property
    def all_frames(self) -> str:
        """Filter for every camera's frames."""
        return self._join("detections", "+", "frame")

    @property
    def all_events(self) -> str:
        """Filter for every event and snapshot announcement."""
        return self._join("events", "#")

    # -- parsing ----------------------------------------------------------------------------

    def parse_detections(self, topic: str) -> str:
        """The camera id of a ``detections/<camera_id>`` topic.

        Raises:
            TopicError: if the topic is not a detections topic of this deployment.
        """
        levels = self._strip(topic)
        if levels is None or len(levels) != 2 or levels[0] != "detections":
            raise TopicError(f"{topic!r} is not a detections/<camera_id> topic")
        return validate_id(levels[1], "camera_id")

    def parse_frames(self, topic: str) -> str:
        """The camera id of a ``detections/<camera_id>/frame`` topic."""
        levels = self._strip(topic)
        if levels is None or len(levels) != 3 or levels[0] != "detections" or levels[2] != "frame":
            raise TopicError(f"{topic!r} is not a detections/<camera_id>/frame topic")
        return validate_id(levels[1], "camera_id")

    def parse_event(self, topic: str) -> tuple[str, str]:
        """``(camera_id, kind)`` of an ``events/<camera_id>/<kind>`` topic; kind may be
        an event type in lower case or ``snapshot``."""
        levels = self._strip(topic)
        if levels is None or len(levels) != 3 or levels[0] != "events":
            raise TopicError(f"{topic!r} is not an events/<camera_id>/<type> topic")
        return validate_id(levels[1], "camera_id"), validate_id(levels[2], "event_type")
