"""The live engine: ``detections/+`` from the broker, events back to it.

Example:
    .. code-block:: python

        run_service("event-engine", EngineSettings, build, argv, parser)
"""

from __future__ import annotations

import sys
import threading

from event_engine.announce import DiscoveryAnnouncer
from event_engine.checkpoint import Checkpoint
from event_engine.discovery import discovery_configs
from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from event_engine.metrics import EngineMetrics
from sightline.config import EngineSettings
from sightline.mqtt import ReceivedMessage
from sightline.sequence import FrameGapDetector
from sightline.service import EXIT_CONFIG, MainLoop, ServiceContext

STATE_FILE = "engine-state.json"
DISCOVERY_FILE = "discovery-topics.json"
FLUSH_EVERY_S = 0.1
"""State is checkpointed at most this often while running, and always on a clean stop. An
envelope that changed it is acknowledged only after the checkpoint, so this bounds the delay
of acknowledgements (and, with ``mqtt.receive_maximum`` in flight, the rate)."""
STATE_EVERY_S = 1.0
"""Counts for Home Assistant are published at most this often."""


def build(ctx: ServiceContext) -> MainLoop:
    """Subscribe the envelope handler, set up discovery, return the checkpointing loop."""
    settings = ctx.settings
    assert isinstance(settings, EngineSettings)
    client = ctx.client
    checkpoint = Checkpoint(ctx.state_dir / STATE_FILE)
    engine = Engine(settings, checkpoint.load(), FrameGapDetector(client.metrics))
    problems = engine.check_geometry()
    if problems:
        print("sightline: " + "\n".join(problems), file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
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

    def on_envelope(message: ReceivedMessage) -> None:
        handler.handle(message.topic, message.payload)

    client.subscribe(client.topics.all_detections, on_envelope, "detections")
    if settings.homeassistant.enabled:
        announcer = DiscoveryAnnouncer(
            client,
            discovery_configs(settings, client.topics, str(client.status_topic)),
            ctx.state_dir / DISCOVERY_FILE,
        )

        def announce() -> None:
            announcer.announce()
            for device_id, device in settings.devices.items():
                handler.publish_state(device_id, device.camera_id or device_id)

        def on_ha_status(message: ReceivedMessage) -> None:
            if message.payload.strip() == b"online":
                announce()

        client.on_connect_hooks.append(lambda session_present: announce())
        client.subscribe(str(client.topics.homeassistant_status), on_ha_status, "ha-status")

    # Checkpoints run on their own thread until the client has handled and acknowledged
    # its last message: acknowledgements wait for them, also while the service stops.
    saver_stop = threading.Event()

    def keep_saving() -> None:
        while not saver_stop.wait(FLUSH_EVERY_S / 2):
            handler.flush(force=False)

    saver = threading.Thread(target=keep_saving, name="checkpoint", daemon=True)
    saver.start()

    def stop_saving() -> None:
        saver_stop.set()
        saver.join()
        handler.flush()

    ctx.on_stop.append(stop_saving)

    def loop() -> None:
        while not ctx.stopping.wait(0.5):
            if saver.is_alive():
                ctx.heartbeat.beat()

    return loop
