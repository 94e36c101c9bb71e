"""``sightline-console``: the setup-and-watch page (see docs/console.md).

It subscribes to the envelopes and frames of every camera, the edges' status and stats, the
engine's config state and the events; it serves the page on ``console.host:console.port``
(``127.0.0.1:8090`` by default) and publishes a saved config, retained at QoS 1, to
``sightline/event-engine/config/<camera_id>/set``. The skeleton adds ``/healthz``,
``/metrics`` and the online/offline status with its last will.

Example:
    .. code-block:: console

        $ sightline-console --config console.yaml
        sightline-console: http://127.0.0.1:8090/
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from prometheus_client import Counter, Gauge

from console.board import Board
from console.drafts import set_payload
from console.settings import ConsoleSettings
from console.web import Api, Auth, ConsoleServer
from sightline.atomic import write_bytes
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from sightline.ids import validate_id
from sightline.messages.codec import decode_envelope, decode_event, decode_snapshot
from sightline.mqtt.handling import ReceivedMessage
from sightline.service import EXIT_CONFIG, MainLoop, ServiceContext, argument_parser, run_service
from sightline.topics import Service, Topics

log = logging.getLogger(__name__)

EDGE = Service.EDGE
ENGINE = Service.ENGINE
TICK_S = 1.0
URL_FILE = "url"
"""Under the state dir: the page's address, written at start."""


def config_topic(topics: Topics, camera_id: str, leaf: str) -> str:
    """``sightline/event-engine/config/<camera_id>/<leaf>`` (with the deployment's prefix).

    Example:
        >>> config_topic(Topics(), "street", "set")
        'sightline/event-engine/config/street/set'
        >>> config_topic(Topics(prefix="site-a"), "+", "state")
        'site-a/sightline/event-engine/config/+/state'
    """
    if camera_id != "+":
        validate_id(camera_id, "camera_id")
    levels = ("sightline", ENGINE, "config", camera_id, leaf)
    return "/".join((topics.prefix, *levels) if topics.prefix else levels)


def _levels(topics: Topics, topic: str) -> list[str]:
    if topics.prefix and topic.startswith(topics.prefix + "/"):
        topic = topic[len(topics.prefix) + 1 :]
    return topic.split("/")


def _json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"{what}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MessageError(f"{what}: expected a JSON object")
    return data


class Handlers:
    """The MQTT side: each message into the board (bad ones raise: one dead letter each)."""

    def __init__(self, board: Board, topics: Topics, ctx: ServiceContext) -> None:
        self.board = board
        self.topics = topics
        self.limits = ctx.settings.limits

    def envelope(self, message: ReceivedMessage) -> None:
        """``detections/<camera>`` and ``detections/<camera>/frame``."""
        envelope = decode_envelope(message.payload, self.limits)
        try:
            self.board.envelope(envelope, time.time())
        except ValueError as exc:
            raise MessageError(str(exc)) from None

    def edge(self, message: ReceivedMessage) -> None:
        """``sightline/edge-publisher/<camera>/status`` and ``.../stats``."""
        levels = _levels(self.topics, message.topic)
        camera_id = validate_id(levels[2], "camera_id")
        if not message.payload:
            return  # a retained message cleared
        if levels[3] == "status":
            self.board.edge_status(camera_id, message.payload.decode("utf-8", "replace")[:32])
        else:
            self.board.edge_stats(camera_id, _json_object(message.payload, "stats"))

    def engine_state(self, message: ReceivedMessage) -> None:
        """``sightline/event-engine/config/<camera>/state``."""
        camera_id = validate_id(_levels(self.topics, message.topic)[3], "camera_id")
        if not message.payload:
            return
        state = _json_object(message.payload, "state")
        config = state.get("config")
        if config is not None and not isinstance(config, dict):
            raise MessageError("config: expected a JSON object")
        self.board.engine_state(camera_id, state)

    def event(self, message: ReceivedMessage) -> None:
        """``events/<camera>/<type>`` and ``events/<camera>/snapshot``."""
        _, kind = self.topics.parse_event(message.topic)
        if kind == "snapshot":
            self.board.snapshot(decode_snapshot(message.payload, self.limits))
        else:
            self.board.event(decode_event(message.payload, self.limits))


def publisher(ctx: ServiceContext, timeout_s: float) -> Any:
    """``publish(camera_id, device_id, config)``: retained, QoS 1, confirmed by the broker."""

    def publish(camera_id: str, device_id: str, config: DeviceConfig) -> str | None:
        topic = config_topic(ctx.client.topics, camera_id, "set")
        handle = ctx.client.publish(topic, set_payload(device_id, config), retain=True)
        if not handle.wait(timeout_s):
            return (
                f"broker: {topic} not confirmed within {timeout_s:g}s "
                "(not connected?); it is sent once the broker is back"
            )
        if handle.failed:
            return f"broker: refused {topic} ({handle.failure}); may this user write it (ACL)?"
        return None

    return publish


def build(ctx: ServiceContext[ConsoleSettings]) -> MainLoop:
    """Subscribe the board to the broker, start the page; the loop keeps the heartbeat."""
    section = ctx.settings.console
    topics = ctx.client.topics
    board = Board(section.events_kept)
    handlers = Handlers(board, topics, ctx)
    client = ctx.client
    client.subscribe(topics.all_detections, handlers.envelope, "detections")
    client.subscribe(topics.all_frames, handlers.envelope, "frames")
    edge = "/".join(([topics.prefix] if topics.prefix else []) + ["sightline", EDGE, "+"])
    client.subscribe(f"{edge}/status", handlers.edge, "edge status")
    client.subscribe(f"{edge}/stats", handlers.edge, "edge stats")
    client.subscribe(config_topic(topics, "+", "state"), handlers.engine_state, "engine state")
    client.subscribe(topics.all_events, handlers.event, "events")
    requests = Counter(
        "sightline_console_actions",
        "Saves (saved, invalid, not_confirmed) and logins (ok, refused) on the console's page.",
        ["action", "result"],
        registry=ctx.registry,
    )
    Gauge(
        "sightline_console_cameras", "Cameras the console has heard of.", registry=ctx.registry
    ).set_function(lambda: len(board.cameras(time.time())))
    api = Api(
        board,
        Auth(section.resolved_password()),
        publisher(ctx, section.save_timeout_s),
        counted=lambda action, result: requests.labels(action, result).inc(),
    )
    try:
        server = ConsoleServer(section.host, section.port, api)
    except OSError as exc:
        print(
            f"sightline-console: cannot listen on {section.host}:{section.port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CONFIG) from None
    server.start()
    ctx.on_stop.append(server.stop)
    log.info("console on %s", server.url, extra={"url": server.url})
    print(f"sightline-console: {server.url}", flush=True)
    # where a supervisor (the suite's demo) finds the address, e.g. when the port was 0
    write_bytes(ctx.state_dir / URL_FILE, (server.url + "\n").encode())

    def loop() -> None:
        while not ctx.stopping.wait(TICK_S):
            ctx.heartbeat.beat()

    return loop


def main(argv: list[str] | None = None) -> int:
    """Run the console until SIGTERM; return its exit status."""
    parser = argument_parser("sightline-console", "Sightline console: set up and watch")
    return run_service(Service.CONSOLE, ConsoleSettings, build, argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
