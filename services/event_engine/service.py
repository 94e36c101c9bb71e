"""The live engine: ``detections/+`` from the broker, events back to it.

Example:
    .. code-block:: python

        run_service("event-engine", EngineSettings, build, argv, parser)
"""

from __future__ import annotations

import signal
import sys
import threading

from event_engine.announce import DiscoveryAnnouncer
from event_engine.checkpoint import Checkpoint
from event_engine.discovery import EDGE_SERVICE, discovery_configs
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.metrics import EngineMetrics
from event_engine.reconfigure import CONFIG_DIR, Reconfigurer, SavedChanges, config_topic
from sightline.config import EngineSettings
from sightline.mqtt import ReceivedMessage
from sightline.sequence import FrameGapDetector
from sightline.service import EXIT_CONFIG, MainLoop, ServiceContext
from sightline.threads import start_critical
from sightline.topics import Topics
from sightline.writes import probe_writable

STATE_FILE = "engine-state.json"
DISCOVERY_FILE = "discovery-topics.json"
FLUSH_EVERY_S = 0.1
"""State is checkpointed at most this often while running, and always on a clean stop. An
envelope that changed it is acknowledged only after the checkpoint, so this bounds the delay
of acknowledgements (and, with ``mqtt.receive_maximum`` in flight, the rate)."""
STATE_EVERY_S = 1.0
"""Counts for Home Assistant are published at most this often."""
TICK_S = 0.25
"""How often the wall-clock timer looks for edges gone offline or silent."""


def edge_topic_filter(topics: Topics, kind: str) -> str:
    """``sightline/edge-publisher/+/<kind>`` (with the deployment's prefix)."""
    example = str(topics.status(EDGE_SERVICE, "x"))
    return example[: -len("x/status")] + "+/" + kind


def build(ctx: ServiceContext) -> MainLoop:
    """Subscribe the envelope handler, set up discovery, return the checkpointing loop."""
    settings = ctx.settings
    assert isinstance(settings, EngineSettings)
    client = ctx.client
    problem = probe_writable(ctx.state_dir, full_ok=True)  # a full disk: wait for space
    if problem is not None:
        print(
            f"sightline: state_dir {ctx.state_dir} is not writable ({problem}); the engine "
            "keeps its checkpoint there (set state_dir or SIGHTLINE_STATE_DIR)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CONFIG)
    checkpoint = Checkpoint(ctx.state_dir / STATE_FILE)
    engine = Engine(settings, checkpoint.load(), FrameGapDetector(client.metrics))
    problems = engine.check_geometry()
    if problems:
        print("sightline: " + "\n".join(problems), file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    # Live changes (the console's config/<camera>/set, SIGHUP, an edited YAML file).
    reconfigurer = Reconfigurer(
        engine,
        SavedChanges(ctx.state_dir / CONFIG_DIR),
        publish=lambda topic, payload, retain: client.publish(topic, payload, retain=retain),
        topics=client.topics,
        config_path=getattr(ctx.args, "config", None),
    )
    reconfigurer.restore()
    handler = EnvelopeHandler(
        engine,
        publish=lambda topic, payload, retain: client.publish(topic, payload, retain=retain),
        reject=client.dead_letter,
        topics=client.topics,
        limits=settings.limits,
        metrics=EngineMetrics(ctx.registry),
        checkpoint=checkpoint,
        publish_state=settings.homeassistant.enabled,
        flush_every_s=FLUSH_EVERY_S,
        hold=client.ack_after,
        state_every_s=STATE_EVERY_S,
    )
    handler.stopping = ctx.stopping
    ctx.health_checks["checkpoint"] = handler.writes.ok

    def on_envelope(message: ReceivedMessage) -> None:
        handler.handle(message.topic, message.payload, retain=message.retain)

    def on_edge_status(message: ReceivedMessage) -> None:
        camera = message.topic.split("/")[-2]
        # bounded: known cameras only
        if engine.device_of(camera) is not None or camera in engine.states:
            handler.edge_status(camera, message.payload)

    def on_config_set(message: ReceivedMessage) -> None:
        reconfigurer.on_set(message.topic, message.payload, message.retain)

    client.subscribe(client.topics.all_detections, on_envelope, "detections")
    client.subscribe(edge_topic_filter(client.topics, "status"), on_edge_status, "edge-status")
    client.subscribe(config_topic(client.topics, "+", "set"), on_config_set, "config")
    client.on_connect_hooks.append(lambda session_present: handler.connected())
    client.on_connect_hooks.append(lambda session_present: reconfigurer.publish_all())
    signal.signal(signal.SIGHUP, lambda signum, frame: reconfigurer.request_reload())
    if settings.homeassistant.enabled:
        announcer = DiscoveryAnnouncer(
            client,
            discovery_configs(engine.settings, client.topics, str(client.status_topic)),
            ctx.state_dir / DISCOVERY_FILE,
        )

        def announce() -> None:
            # the configs follow live changes of lines, zones and rules
            announcer.configs = discovery_configs(
                engine.settings, client.topics, str(client.status_topic)
            )
            announcer.announce()
            for device_id, device in engine.settings.devices.items():
                handler.publish_state(device_id, device.camera_id or device_id)

        reconfigurer.on_change.append(announce)

        def on_ha_status(message: ReceivedMessage) -> None:
            if message.payload.strip() == b"online":
                announce()

        client.on_connect_hooks.append(lambda session_present: announce())
        client.subscribe(str(client.topics.homeassistant_status), on_ha_status, "ha-status")

    # Checkpoints run on their own thread until the client has handled and acknowledged
    # its last message: acknowledgements wait for them, also while the service stops. A
    # refused write is retried (handler.flush); anything else that kills the thread ends
    # the process, so that a supervisor restarts it instead of leaving it stalled.
    saver_stop = threading.Event()

    def keep_saving() -> None:
        while not saver_stop.wait(FLUSH_EVERY_S / 2):
            handler.flush(force=False)

    saver = start_critical(keep_saving, "checkpoint")

    def stop_saving() -> None:
        saver_stop.set()
        saver.join()
        handler.flush()

    ctx.on_stop.append(stop_saving)

    def loop() -> None:
        while not ctx.stopping.wait(TICK_S):
            ctx.heartbeat.beat()
            handler.tick(client.connected)
            reconfigurer.poll()

    return loop
