"""``sightline-frames`` / ``python -m frame_store --config FILE``: the frame-store service.

Example:
    .. code-block:: console

        $ SIGHTLINE_MQTT__URL=mqtt://localhost:1883 sightline-frames --config frames.yaml
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from frame_store.metrics import FrameStoreMetrics
from frame_store.service import FrameStore
from frame_store.storage import FileStore, PictureStore, check_writable
from sightline.config import FrameStoreSettings
from sightline.config.frames import FileStorage, S3Storage
from sightline.service import (
    MainLoop,
    ServiceContext,
    argument_parser,
    config_exit,
    run_service,
)
from sightline.topics import Service

log = logging.getLogger(__name__)

SERVICE = Service.FRAMES
TICK_S = 0.2
T = TypeVar("T")


def build(ctx: ServiceContext[FrameStoreSettings]) -> MainLoop:
    """Subscribe the frame-store's handlers; return its loop (expiry and retention)."""
    config = ctx.settings.frame_store
    pictures = usable("frame_store.storage", lambda: open_store(config.storage))
    for directory in (ctx.state_dir / "pending", ctx.state_dir / "announced"):
        usable("state_dir", partial(check_writable, directory))
    store = usable(
        "state_dir",
        lambda: FrameStore(
            config,
            ctx.client,
            ctx.state_dir,
            ctx.settings.limits,
            FrameStoreMetrics.from_registry(ctx.registry),
            pictures,
        ),
    )
    store.subscribe()
    ctx.health_checks["storage"] = lambda: store.healthy

    def loop() -> None:
        next_retention = 0.0  # at start, then every interval
        while not ctx.stopping.wait(TICK_S):
            ctx.heartbeat.beat()
            if store.may_expire():
                with contextlib.suppress(OSError):  # said once per episode, retried
                    store.expire()
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + config.retention.interval_s
                try:
                    store.apply_retention()
                except OSError as exc:
                    log.warning(
                        "retention failed; trying again in %gs: %s",
                        config.retention.interval_s,
                        exc,
                    )

    return loop


def usable(key: str, start: Callable[[], T]) -> T:
    """``start()``, or one line on stderr naming ``key`` and the directory, and exit 2."""
    try:
        return start()
    except OSError as exc:
        config_exit("sightline", [f"{key}: {exc}"])


def open_store(storage: FileStorage | S3Storage) -> PictureStore:
    """The store the ``storage`` section names; an S3 bucket is checked to be reachable.

    Raises:
        StorageError: the bucket is missing or cannot be reached with these credentials.
    """
    if isinstance(storage, S3Storage):
        from frame_store.s3 import S3Store  # boto3 is only needed for S3

        s3 = S3Store.from_config(storage)
        s3.check()
        return s3
    files = FileStore(storage.root)
    files.check()
    return files


def main(argv: list[str] | None = None) -> int:
    """Run the frame-store until SIGTERM/SIGINT; return the exit status."""
    parser = argument_parser(SERVICE, "Sightline frame-store: event snapshots, with retention")
    return run_service(SERVICE, FrameStoreSettings, build, argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
