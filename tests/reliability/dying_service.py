"""A service whose worker thread dies, run as a real process by tests/reliability/test_bursts.py.

``DIE_IN=handler``: the handler raises and so does its dead letter (as when paho ran out of
message ids); ``DIE_IN=acker``: acknowledging raises. Either way the process must end with
status 70 (:data:`sightline.threads.EXIT_THREAD_DIED`) instead of running on, stuck.
"""

from __future__ import annotations

import os

from sightline.config import ServiceSettings
from sightline.mqtt import PendingPublish, ReceivedMessage
from sightline.service import MainLoop, ServiceContext, run_service


def build(ctx: ServiceContext) -> MainLoop | None:
    where = os.environ.get("DIE_IN", "handler")

    def handle(message: ReceivedMessage) -> None:
        if where == "handler":
            raise RuntimeError("cannot handle this")

    def no_dead_letter(
        topic: str, payload: bytes, reason: str, *, size: int | None = None
    ) -> PendingPublish:
        raise RuntimeError("paho refused to publish: out of message ids")

    def no_ack(message: ReceivedMessage) -> None:
        raise RuntimeError("the acknowledgement could not be sent")

    ctx.client.dead_letter = no_dead_letter  # type: ignore[method-assign]
    if where == "acker":
        ctx.client.ack = no_ack  # type: ignore[method-assign]
    ctx.client.subscribe(ctx.client.topics.all_detections, handle)
    return None


def main() -> int:
    return run_service("dying", ServiceSettings, build)


if __name__ == "__main__":
    raise SystemExit(main())
