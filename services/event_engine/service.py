"""The live engine: ``detections/+`` from the broker, events back to it.

As one of several replicas (``SIGHTLINE_REPLICAS__COUNT``, see
:mod:`event_engine.partition`) it subscribes to the ``detections/<camera>`` of the
configured cameras it owns, and keeps their state in the directory the replicas share.

Example:
    .. code-block:: python

        run_service("event-engine", EngineSettings, build, argv, parser)
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from event_engine.announce import DiscoveryAnnouncer
from event_engine.checkpoint import Checkpoint
from event_engine.discovery import (
    EDGE_SERVICE,
    DiscoveryConfig,
    discovery_configs,
    discovery_problems,
)
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.metrics import EngineMetrics
from event_engine.partition import (
    REFRESH_EVERY_S,
    CameraFiles,
    Claims,
    Replay,
    ReplicaError,
    ReplicaMetrics,
    Replicas,
)
from event_engine.reconfigure import CONFIG_DIR, Reconfigurer, SavedChanges, config_topic
from event_engine.saving import CheckpointScheduler, StateStore, WholeFile
from event_engine.sequence import FrameGapDetector, GapMetrics
from event_engine.state_publisher import StatePublisher
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.errors import MessageError, TopicError
from sightline.mqtt import Completion, MqttClient, ReceivedMessage
from sightline.service import EXIT_STATE_DIR, MainLoop, ServiceContext, config_exit
from sightline.threads import start_critical
from sightline.topics import Topics
from sightline.writes import probe_writable

log = logging.getLogger(__name__)

STATE_FILE = "engine-state.json"
CAMERAS_DIR = "cameras"
"""Per-camera checkpoints under the state dir, for replicas given no shared directory."""
DISCOVERY_FILE = "discovery-topics.json"
FLUSH_EVERY_S = 0.1
"""State is checkpointed at least this often while it changes, and always on a clean stop.
An envelope that changed it is acknowledged only after the checkpoint, so this bounds the
delay of acknowledgements."""
URGENT_SHARE = 2
"""A checkpoint is written at once when ``mqtt.receive_maximum / URGENT_SHARE`` changes wait
for it: the messages held unacknowledged never fill the receive window (which would stop
the broker's deliveries until the next timed checkpoint)."""
STATE_EVERY_S = 1.0
"""Counts for Home Assistant are published at most this often."""
TICK_S = 0.25
"""How often the wall-clock timer looks for edges gone offline or silent."""
MAX_TOPICS = 4096
"""Topics whose camera a replica remembers, at most."""


def edge_topic_filter(topics: Topics, kind: str) -> str:
    """``sightline/edge-publisher/+/<kind>`` (with the deployment's prefix)."""
    example = str(topics.status(EDGE_SERVICE, "x"))
    return example[: -len("x/status")] + "+/" + kind


def config_error(message: str) -> NoReturn:
    """Say ``message`` on stderr and exit as for a bad configuration."""
    config_exit("sightline-engine", message.splitlines())


def load_checkpoint(checkpoint: Checkpoint) -> dict[str, CameraState]:
    """The single engine's saved states; exits (for the supervisor to try again) when the
    disk refuses to read them, instead of starting fresh over them."""
    try:
        return checkpoint.load()
    except OSError as exc:
        log.error("cannot read the checkpoint %s: %s", checkpoint.path, exc)
        print(
            f"sightline-engine: cannot read its checkpoint {checkpoint.path} "
            f"({exc.strerror or exc}); not starting fresh over it",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_STATE_DIR) from None


def build(ctx: ServiceContext[EngineSettings]) -> MainLoop:
    """Subscribe the envelope handler, set up discovery, return the checkpointing loop."""
    settings = ctx.settings
    client = ctx.client
    problem = probe_writable(ctx.state_dir, full_ok=True)  # a full disk: wait for space
    if problem is not None:
        config_error(
            f"state_dir {ctx.state_dir} is not writable ({problem}); the engine keeps its "
            "checkpoint there (set state_dir or SIGHTLINE_STATE_DIR)"
        )
    try:
        replicas = Replicas.from_environment()
    except ReplicaError as exc:
        config_error(str(exc))
    checkpoint = Checkpoint(ctx.state_dir / STATE_FILE)
    partitioned = replicas.count > 1 or replicas.checkpoint_dir is not None
    engine = Engine(
        settings,
        None if partitioned else load_checkpoint(checkpoint),
        FrameGapDetector(GapMetrics.from_registry(client.metrics.registry)),
    )
    problems = engine.check_geometry()
    if settings.homeassistant.enabled:
        problems += discovery_problems(settings, client.topics)
    if problems:
        config_error("\n".join(problems))
    # Live changes (the console's config/<camera>/set, SIGHUP, an edited YAML file).
    reconfigurer = Reconfigurer(
        engine,
        SavedChanges(ctx.state_dir / CONFIG_DIR),
        publish=publish_on(client),
        topics=client.topics,
        config_path=getattr(ctx.args, "config", None),
    )
    reconfigurer.restore()
    handler = EnvelopeHandler(
        engine,
        publish=publish_on(client),
        reject=client.dead_letter,
        topics=client.topics,
        limits=settings.limits,
        metrics=EngineMetrics(ctx.registry),
    )
    store: StateStore = WholeFile(checkpoint)
    claims = None
    if partitioned:
        files = CameraFiles(
            replicas.checkpoint_dir or ctx.state_dir / CAMERAS_DIR, client.client_id
        )
        claims = Claims(replicas, files, engine)
        claims.metrics = ReplicaMetrics(ctx.registry)
        claims.legacy = load_checkpoint(checkpoint)
        claims.replay = replay_on(client, handler)
        handler.claim = claims
        store = files
    checkpoints = CheckpointScheduler(
        engine,
        store,
        FLUSH_EVERY_S,
        urgent_after=max(1, client.config.receive_maximum // URGENT_SHARE),
    )
    checkpoints.on_failure = handler.metrics.checkpoint_failures.inc
    checkpoints.on_recovered = handler.connected  # listening again: silence counts from now
    handler.checkpoints = checkpoints
    handler.hold = client.ack_after
    if claims is not None:
        saves = checkpoints
        claims.durable = lambda camera: client.ack_after(saves.changed(camera))
    handler.stopping = ctx.stopping
    ctx.health_checks["checkpoint"] = checkpoints.writes.ok
    if settings.homeassistant.enabled:
        handler.states = StatePublisher(engine, publish_on(client), client.topics, STATE_EVERY_S)

    checks: dict[int, ReceivedMessage] = {}  # checks of waiting cameras, by identity
    camera_of = TopicCameras(client.topics)

    def on_envelope(message: ReceivedMessage) -> None:
        if claims is not None and not message.retain:
            checkpoints.wait_until_saved(ctx.stopping)  # keep nothing while saving fails
            check = checks.pop(id(message), None) is message
            camera = camera_of(message.topic)
            if camera is not None and claims.offer(camera, None if check else message.payload):
                return  # kept for a camera another replica still holds, or a check
        handler.handle(message.topic, message.payload, retain=message.retain)

    def ask_checks() -> None:
        """Queue a look at the file of each waiting camera on the handler thread."""
        assert claims is not None
        bound = client.handling.bound
        if bound.count >= bound.limit:
            return  # busy: the waiting cameras' own envelopes look meanwhile
        for camera in claims.due_checks():
            message = ReceivedMessage(str(client.topics.detections(camera)), b"", qos=0)
            checks[id(message)] = message
            client.handling.receive(message)

    configured = {device.camera_id or device_id for device_id, device in settings.devices.items()}
    cameras = {camera for camera in configured if replicas.owns(camera)}

    def on_edge_status(message: ReceivedMessage) -> None:
        camera = message.topic.split("/")[-2]
        # bounded: known cameras only (and, as a replica, its own)
        known = engine.device_of(camera) is not None or camera in engine.states
        if known and replicas.owns(camera):
            handler.edge_status(camera, message.payload)

    def on_config_set(message: ReceivedMessage) -> None:
        reconfigurer.on_set(message.topic, message.payload, message.retain)

    subscribe_detections(
        client, replicas, cameras, settings.default_device is not None, on_envelope
    )
    client.subscribe(edge_topic_filter(client.topics, "status"), on_edge_status, "edge-status")
    client.subscribe(config_topic(client.topics, "+", "set"), on_config_set, "config")
    client.on_connect_hooks.append(lambda session_present: handler.connected())
    client.on_connect_hooks.append(lambda session_present: reconfigurer.publish_all())
    signal.signal(signal.SIGHUP, lambda signum, frame: reconfigurer.request_reload())
    if settings.homeassistant.enabled:
        announce = home_assistant(ctx, engine, handler.states, replicas, claims)
        reconfigurer.on_change.append(announce)
    start_saving(ctx, handler, checkpoints, claims)

    def loop() -> None:
        refreshed = time.monotonic()
        while not ctx.stopping.wait(TICK_S):
            ctx.heartbeat.beat()
            handler.tick(client.connected)
            reconfigurer.poll()
            if claims is not None:
                ask_checks()
                claims.tidy()
                if time.monotonic() - refreshed > REFRESH_EVERY_S:
                    claims.refresh()
                    refreshed = time.monotonic()

    return loop


def home_assistant(
    ctx: ServiceContext,
    engine: Engine,
    states: StatePublisher | None,
    replicas: Replicas,
    claims: Claims | None,
) -> Callable[[], None]:
    """Announce the discovery configs of the cameras this replica owns (all of them for a
    single engine), available while this replica says ``online``, and publish their counts,
    on each connect and each time Home Assistant comes online; a camera that moved here
    from another replica is announced again when it is taken. The configs of cameras that
    other replicas own are never removed (only those of cameras no longer configured): a
    camera's entities stay in Home Assistant while it moves. Returns the announcing
    function, for live changes of lines, zones and rules."""
    client = ctx.client
    assert states is not None
    availability = str(client.status_topic)

    def configs(owned: bool, camera: str | None = None) -> list[DiscoveryConfig]:
        settings = engine.settings
        devices = {
            device_id: device
            for device_id, device in settings.devices.items()
            if replicas.owns(device.camera_id or device_id) == owned
            and camera in (None, device.camera_id or device_id)
        }
        return discovery_configs(
            settings.model_copy(update={"devices": devices}), client.topics, availability
        )

    announcer = DiscoveryAnnouncer(client, [], ctx.state_dir / DISCOVERY_FILE)

    def announce() -> None:
        # the configs follow live changes of lines, zones and rules
        announcer.configs = configs(owned=True)
        announcer.keep = {config.topic for config in configs(owned=False)}
        announcer.announce()
        for device_id, device in engine.settings.devices.items():
            camera = device.camera_id or device_id
            if replicas.owns(camera):
                states.publish(device_id, camera)

    def moved_here(camera: str) -> None:
        for config in configs(owned=True, camera=camera):
            client.publish(config.topic, config.encode(), retain=True)

    def on_ha_status(message: ReceivedMessage) -> None:
        if message.payload.strip() == b"online":
            announce()

    client.on_connect_hooks.append(lambda session_present: announce())
    client.subscribe(str(client.topics.homeassistant_status), on_ha_status, "ha-status")
    if claims is not None:
        claims.on_move.append(moved_here)
    return announce


def start_saving(
    ctx: ServiceContext,
    handler: EnvelopeHandler,
    checkpoints: CheckpointScheduler,
    claims: Claims | None,
) -> None:
    """Checkpoints run on their own thread until the client has handled and acknowledged
    its last message: acknowledgements wait for them, also while the service stops. A
    refused write is retried (``handler.flush``); anything else that kills the thread ends
    the process, so that a supervisor restarts it instead of leaving it stalled. On a clean
    stop a replica then lets go of its cameras."""
    saver_stop = threading.Event()

    def keep_saving() -> None:
        while not saver_stop.is_set():
            checkpoints.wait_due(FLUSH_EVERY_S / 2)
            handler.flush(force=False)

    saver = start_critical(keep_saving, "checkpoint")

    def stop_saving() -> None:
        saver_stop.set()
        saver.join()
        handler.flush()
        if claims is not None and checkpoints.failed is None:
            # the next owner of each camera may take it at once (of each whose last
            # changes are saved: see Claims.release)
            claims.release(checkpoints.unsaved())

    ctx.on_stop.append(stop_saving)


class TopicCameras:
    """The camera of a ``detections/<camera>`` topic, None for any other (the handler says
    what is wrong with it); remembered per topic (at most :data:`MAX_TOPICS`).

    >>> cameras = TopicCameras(Topics())
    >>> cameras("detections/porch"), cameras("detections/porch/x"), len(cameras.known)
    ('porch', None, 2)
    """

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.known: dict[str, str | None] = {}

    def __call__(self, topic: str) -> str | None:
        known = self.known
        try:
            return known[topic]
        except KeyError:
            pass
        try:
            camera: str | None = self.topics.parse_detections(topic)
        except TopicError:
            camera = None
        if len(known) >= MAX_TOPICS:  # bounded: topics are not ours to choose
            known.clear()
        known[topic] = camera
        return camera


def replay_on(client: MqttClient, handler: EnvelopeHandler) -> Replay:
    """Runs an envelope kept for a camera through ``handler`` (on the handler thread, as
    part of the message being handled); returns what its acknowledgement would have waited
    for. A bad one is dead-lettered, as it would have been when it arrived."""

    def replay(camera: str, payload: bytes) -> list[Completion]:
        topic = str(client.topics.detections(camera))
        before = len(client.handling.awaited)
        kept = ReceivedMessage(topic, payload)
        try:
            handler.handle(topic, payload)
        except MessageError as exc:
            return [client.handling.dead_letter(kept, exc.reason, kind=type(exc).__name__)]
        except Exception as exc:  # as for a live one: that envelope, not the camera, fails
            log.exception("handler failed on a kept envelope of %s", camera)
            reason = f"{type(exc).__name__}: {exc}"
            return [client.handling.dead_letter(kept, reason, kind="handler_error")]
        return client.handling.awaited[before:]

    return replay


def publish_on(client: MqttClient) -> Callable[[str, Any, bool], object]:
    """``publish(topic, payload, retain)`` on ``client``."""
    return lambda topic, payload, retain: client.publish(topic, payload, retain=retain)


def subscribe_detections(
    client: MqttClient,
    replicas: Replicas,
    cameras: set[str],
    wildcard: bool,
    handler: Callable[[ReceivedMessage], None],
) -> None:
    """``detections/+`` for a single engine; for a replica, ``detections/<camera>`` per
    camera it owns, or ``detections/+`` if a ``default_device`` takes cameras no config
    lists (the replica then leaves the envelopes of cameras it does not own alone)."""
    if replicas.count == 1 or wildcard:
        client.subscribe(client.topics.all_detections, handler, "detections")
        return
    for camera in sorted(cameras):
        client.subscribe(str(client.topics.detections(camera)), handler, "detections")
    log.info(
        "replica %d of %d: subscribed to %d camera(s)",
        replicas.index,
        replicas.count,
        len(cameras),
        extra={"cameras": sorted(cameras)},
    )
