"""``sightline-frames`` / ``python -m frame_store --config FILE``: the frame-store service.

Example:
    .. code-block:: console

        $ SIGHTLINE_MQTT__URL=mqtt://localhost:1883 sightline-frames --config frames.yaml
"""

from __future__ import annotations

import logging
import sys
import time

from frame_store.metrics import FrameStoreMetrics
from frame_store.service import FrameStore
from sightline.config import FrameStoreSettings
from sightline.service import MainLoop, ServiceContext, argument_parser, run_service

log = logging.getLogger(__name__)

SERVICE = "frame-store"
TICK_S = 0.2
EXIT_CONFIG = 2


def build(ctx: ServiceContext) -> MainLoop:
    """Subscribe the frame-store's handlers; return its loop (expiry and retention)."""
    assert isinstance(ctx.settings, FrameStoreSettings)
    config = ctx.settings.frame_store
    if config.storage.type != "file":
        print(
            "sightline: frame_store.storage.type: 's3' is not available in this build "
            "(no S3 client is installed); use type: file",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CONFIG)
    store = FrameStore(
        config,
        ctx.client,
        ctx.state_dir,
        ctx.settings.limits,
        FrameStoreMetrics.from_registry(ctx.registry),
    )
    store.subscribe()

    def loop() -> None:
        next_retention = 0.0  # at start, then every interval
        while not ctx.stopping.wait(TICK_S):
            ctx.heartbeat.beat()
            try:
                store.expire()
                if time.monotonic() >= next_retention:
                    store.apply_retention()
                    next_retention = time.monotonic() + config.retention.interval_s
            except OSError:
                log.exception("frame-store loop step failed; trying again")

    return loop


def main(argv: list[str] | None = None) -> int:
    """Run the frame-store until SIGTERM/SIGINT; return the exit status."""
    parser = argument_parser(SERVICE, "Sightline frame-store: event snapshots, with retention")
    return run_service(SERVICE, FrameStoreSettings, build, argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
