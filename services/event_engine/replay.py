"""``--replay FILE``: recorded envelopes through the live code path, events on stdout.

Input lines are envelope JSON (the edge's ``--record``) or ``mosquitto_sub -v`` lines
(``topic payload``); blank lines are skipped.

Example:
    .. code-block:: shell

        sightline-engine --config processor.yaml --replay detections.jsonl > events.jsonl
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel

from event_engine.engine import Engine
from event_engine.handler import EnvelopeHandler
from sightline.config import EngineSettings
from sightline.errors import MessageError
from sightline.messages import encode

log = logging.getLogger(__name__)


def replay_lines(lines: Iterator[str]) -> Iterator[tuple[str | None, bytes]]:
    """``(topic, payload)`` per non-blank line of either input form (topic None for a bare
    envelope: no topic vouches for its camera)."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            yield None, text.encode()
        else:
            topic, _, payload = text.partition(" ")
            yield topic, payload.encode()


def replay(settings: EngineSettings, path: Path, out: TextIO) -> int:
    """Run the envelopes of ``path`` through the engine and write each event to ``out``.

    Returns:
        The number of events written.
    """
    written = 0

    def publish(topic: str, payload: BaseModel | bytes, retain: bool) -> None:
        nonlocal written
        if isinstance(payload, BaseModel):
            out.write(encode(payload).decode() + "\n")
            written += 1

    def reject(topic: str, payload: bytes, reason: str) -> None:  # an unknown device
        log.warning("dead letter: %s", reason, extra={"topic": topic})

    handler = EnvelopeHandler(Engine(settings), publish, reject, limits=settings.limits)
    with path.open(encoding="utf-8") as source:
        for number, (topic, payload) in enumerate(replay_lines(source), start=1):
            try:
                handler.handle(topic, payload)
            except MessageError as exc:
                log.warning("line %d: %s", number, exc.reason)
    out.flush()
    return written
