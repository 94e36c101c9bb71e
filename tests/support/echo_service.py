"""A minimal consumer on the shared service runner, run as a real process by the tests.

It reads envelopes on ``detections/+`` for the cameras in ``ECHO_CAMERAS`` (others are
refused as unknown), waits ``ECHO_DELAY_S`` (a slow handler), and publishes
``echo/<camera>/<frame number>``. ``/healthz`` also checks that what startup built is out of
the collector's full passes (``startup-frozen``).
"""

from __future__ import annotations

import gc
import os
import time

from sightline.config import ServiceSettings
from sightline.errors import MessageError
from sightline.messages import decode_envelope
from sightline.mqtt import ReceivedMessage
from sightline.service import MainLoop, ServiceContext, run_service


def build(ctx: ServiceContext) -> MainLoop | None:
    cameras = set(os.environ.get("ECHO_CAMERAS", "cam").split(","))
    delay = float(os.environ.get("ECHO_DELAY_S", "0"))

    def handle(message: ReceivedMessage) -> None:
        envelope = decode_envelope(message.payload, ctx.settings.limits)
        if envelope.camera_id not in cameras:
            raise MessageError(f"source.camera_id: unknown camera {envelope.camera_id!r}")
        time.sleep(delay)
        ctx.client.publish(f"echo/{envelope.camera_id}/{envelope.frame.number}", b"done")

    ctx.client.subscribe(ctx.client.topics.all_detections, handle)
    if os.environ.get("ECHO_UNHEALTHY"):
        ctx.health_checks["echo"] = lambda: False
    ctx.health_checks["startup-frozen"] = lambda: gc.get_freeze_count() > 0
    return None


def main() -> int:
    return run_service("echo", ServiceSettings, build)


if __name__ == "__main__":
    raise SystemExit(main())
