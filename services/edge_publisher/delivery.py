"""What an edge never delivered: counted at exit, after the client gave up on the broker.

Only envelopes go through the publish queue as essential messages, so the queue's
``essential`` drops are exactly the envelopes it dropped; what is still queued when the
client has stopped is sorted by topic. JPEG frames due while the broker was away were
never queued (they would only crowd out envelopes): they count as undelivered too.

Example:
    >>> from sightline.mqtt.queue import PublishQueue
    >>> outbox = PublishQueue(maxsize=2)
    >>> for n in range(3):
    ...     outbox.put("detections/cam", b"envelope")
    >>> outbox.put("detections/cam/frame", b"jpeg", droppable=True)
    >>> lost = count_undelivered(outbox, "detections/cam", "detections/cam/frame", 4)
    >>> lost.envelopes, lost.envelopes_queued, lost.frames
    (3, 2, 5)

What the client handed to paho can still be lost: refused by the broker (its ACL, a
quota), or never answered before the client stopped; the client's tracker counts both by
topic:

    >>> refused = {"detections/cam": 7}
    >>> count_undelivered(PublishQueue(1), "detections/cam", "x", refused=refused).envelopes
    7
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sightline.mqtt.queue import PublishQueue


@dataclass(frozen=True)
class Undelivered:
    """Envelopes and JPEG frames that never reached the broker."""

    envelopes_dropped: int
    envelopes_queued: int
    frames_dropped: int
    frames_queued: int
    frames_offline: int = 0
    envelopes_refused: int = 0
    envelopes_unconfirmed: int = 0
    frames_refused: int = 0
    frames_unconfirmed: int = 0

    @property
    def envelopes(self) -> int:
        """Envelopes lost: dropped from the full queue, still queued at exit, refused by the
        broker, or sent and never confirmed."""
        return (
            self.envelopes_dropped
            + self.envelopes_queued
            + self.envelopes_refused
            + self.envelopes_unconfirmed
        )

    @property
    def frames(self) -> int:
        """JPEG frames lost: due while offline, dropped from the full queue (with the odd
        stats message), still queued at exit, refused, or never confirmed."""
        return (
            self.frames_offline
            + self.frames_dropped
            + self.frames_queued
            + self.frames_refused
            + self.frames_unconfirmed
        )

    def __bool__(self) -> bool:
        return self.envelopes + self.frames > 0

    def as_fields(self) -> dict[str, int]:
        """The figures, for a structured log line."""
        return {
            "undelivered_envelopes": self.envelopes,
            "undelivered_frames": self.frames,
            "envelopes_dropped": self.envelopes_dropped,
            "envelopes_queued_at_exit": self.envelopes_queued,
            "frames_dropped": self.frames_dropped,
            "frames_queued_at_exit": self.frames_queued,
            "frames_due_while_offline": self.frames_offline,
            "envelopes_refused": self.envelopes_refused,
            "envelopes_unconfirmed": self.envelopes_unconfirmed,
            "frames_refused": self.frames_refused,
            "frames_unconfirmed": self.frames_unconfirmed,
        }


def count_undelivered(
    outbox: PublishQueue,
    envelope_topic: str,
    frame_topic: str,
    frames_offline: int = 0,
    refused: Mapping[str, int] | None = None,
    unconfirmed: Mapping[str, int] | None = None,
) -> Undelivered:
    """Empty ``outbox`` (call it once nothing sends any more) and count what was lost;
    ``frames_offline``: JPEG frames not queued because the broker was away; ``refused``,
    ``unconfirmed``: by topic, what the broker refused or never answered."""
    refused, unconfirmed = refused or {}, unconfirmed or {}
    queued = {envelope_topic: 0, frame_topic: 0}
    while (item := outbox.get(timeout=0)) is not None:
        if item.topic in queued:
            queued[item.topic] += 1
    return Undelivered(
        envelopes_dropped=outbox.dropped["essential"],
        envelopes_queued=queued[envelope_topic],
        frames_dropped=outbox.dropped["droppable"],
        frames_queued=queued[frame_topic],
        frames_offline=frames_offline,
        envelopes_refused=refused.get(envelope_topic, 0),
        envelopes_unconfirmed=unconfirmed.get(envelope_topic, 0),
        frames_refused=refused.get(frame_topic, 0),
        frames_unconfirmed=unconfirmed.get(frame_topic, 0),
    )
