"""Publishes handed to paho, and the broker's acknowledgements of them.

paho may report an acknowledgement before the caller has registered the message id, so the
tracker remembers early ones.

Example:
    >>> tracker = PublishTracker()
    >>> tracker.complete(7)           # the broker was faster than us
    >>> tracker.register(7).done
    True
    >>> handle = tracker.register(8)
    >>> handle.done, tracker.outstanding
    (False, 1)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class Completion:
    """Something a message's acknowledgement waits for: a publish the broker must confirm,
    a checkpoint that must reach the disk (see ``MqttClient.ack_after``)."""

    def __init__(self) -> None:
        self._done = threading.Event()

    def mark_done(self) -> None:
        """It is done: wake whoever waits."""
        self._done.set()

    @property
    def done(self) -> bool:
        """Whether it is done."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until done; False on timeout."""
        return self._done.wait(timeout)


class PendingPublish(Completion):
    """A publish handed to paho; done once the broker has acknowledged it."""

    def __init__(self, mid: int) -> None:
        super().__init__()
        self.mid = mid


@dataclass
class PublishTracker:
    """Maps paho's message ids to PendingPublish, tolerating acks that beat registration."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[int, PendingPublish] = field(default_factory=dict)
    early: set[int] = field(default_factory=set)

    def register(self, mid: int) -> PendingPublish:
        handle = PendingPublish(mid)
        with self.lock:
            if mid in self.early:
                self.early.discard(mid)
                handle.mark_done()
            else:
                self.pending[mid] = handle
        return handle

    def complete(self, mid: int) -> None:
        with self.lock:
            handle = self.pending.pop(mid, None)
            if handle is None:
                self.early.add(mid)
        if handle is not None:
            handle.mark_done()

    @property
    def outstanding(self) -> int:
        with self.lock:
            return len(self.pending)
