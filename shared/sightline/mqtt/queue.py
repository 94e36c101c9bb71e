"""A bounded, never-blocking publish queue: the camera never waits for the network.

When full, the oldest droppable item (a frame) goes first, then the oldest envelope; what
is kept leaves in the order it came in.

Example:
    >>> queue = PublishQueue(maxsize=2)
    >>> queue.put("detections/cam", b"1")
    >>> queue.put("detections/cam/frame", b"jpeg", droppable=True)
    >>> queue.put("detections/cam", b"2")
    >>> [queue.get(0).payload, queue.get(0).payload], queue.dropped
    ([b'1', b'2'], {'droppable': 1, 'essential': 0})
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class QueuedMessage:
    """A message waiting for the broker."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    droppable: bool


class PublishQueue:
    """Bounded FIFO with two drop classes; thread-safe; ``put`` never blocks."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._essential: deque[QueuedMessage] = deque()
        self._droppable: deque[QueuedMessage] = deque()
        self._seq = 0
        self._cond = threading.Condition()
        self.dropped = {"droppable": 0, "essential": 0}

    def __len__(self) -> int:
        with self._cond:
            return len(self._essential) + len(self._droppable)

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        droppable: bool = False,
    ) -> None:
        """Add a message; if the queue is full, drop the oldest frame, else the oldest
        envelope, and count it."""
        with self._cond:
            if len(self._essential) + len(self._droppable) >= self.maxsize:
                if self._droppable:
                    self._droppable.popleft()
                    self.dropped["droppable"] += 1
                elif droppable:
                    self.dropped["droppable"] += 1
                    return
                else:
                    self._essential.popleft()
                    self.dropped["essential"] += 1
            self._seq += 1
            item = QueuedMessage(self._seq, topic, payload, qos, retain, droppable)
            (self._droppable if droppable else self._essential).append(item)
            self._cond.notify()

    def counts(self) -> dict[str, int]:
        """How many messages of each class wait: ``{"essential": n, "droppable": m}``."""
        with self._cond:
            return {"essential": len(self._essential), "droppable": len(self._droppable)}

    def get(self, timeout: float | None) -> QueuedMessage | None:
        """The oldest message, waiting up to ``timeout`` seconds; None if there is none."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._essential and not self._droppable:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if not self._droppable or (
                self._essential and self._essential[0].seq < self._droppable[0].seq
            ):
                return self._essential.popleft()
            return self._droppable.popleft()

    def requeue_front(self, item: QueuedMessage) -> None:
        """Put back a message that could not be handed over (it keeps its place)."""
        with self._cond:
            (self._droppable if item.droppable else self._essential).appendleft(item)
            self._cond.notify()
