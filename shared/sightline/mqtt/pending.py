"""Publishes handed to paho, and the broker's acknowledgements of them.

paho may report an acknowledgement before the caller has registered the message id, so the
tracker remembers early ones. An acknowledgement may also be a refusal (an MQTT v5 reason
code such as "Not authorized"): the publish is then *failed*, never taken as delivered.

Example:
    >>> tracker = PublishTracker()
    >>> tracker.complete(7)           # the broker was faster than us
    >>> tracker.register(7, "a/b").done
    True
    >>> handle = tracker.register(8, "a/c")
    >>> handle.done, tracker.outstanding
    (False, 1)
    >>> tracker.complete(8, failure="Not authorized (0x87)")
    >>> handle.done, handle.failure
    (True, 'Not authorized (0x87)')
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class Completion:
    """Something a message's acknowledgement waits for: a publish the broker must confirm,
    a checkpoint that must reach the disk (see ``MqttClient.ack_after``).

    It ends either done (:meth:`mark_done`) or failed (:meth:`mark_failed`, with a reason);
    a failed one is never taken as done by whoever acknowledges upstream.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self.failure: str | None = None

    def mark_done(self) -> None:
        """It is done: wake whoever waits."""
        self._done.set()

    def mark_failed(self, reason: str) -> None:
        """It will never be done: record why, and wake whoever waits."""
        self.failure = reason
        self._done.set()

    @property
    def done(self) -> bool:
        """Whether it has ended (done or failed)."""
        return self._done.is_set()

    @property
    def failed(self) -> bool:
        """Whether it ended in failure (see :attr:`failure`)."""
        return self.failure is not None

    def describe(self) -> str:
        """What it is, for a log line or a dead letter's reason."""
        return type(self).__name__

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it has ended; False on timeout."""
        return self._done.wait(timeout)


class PendingPublish(Completion):
    """A publish handed to paho; done once the broker has accepted it, failed if the broker
    answered with a failure reason code."""

    def __init__(self, mid: int, topic: str = "", tracker: PublishTracker | None = None) -> None:
        super().__init__()
        self.mid = mid
        self.topic = topic
        self._tracker = tracker

    def describe(self) -> str:
        """``publish to <topic>``."""
        return f"publish to {self.topic}"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the broker has answered; False on timeout."""
        if self._tracker is None or self.done:
            return super().wait(timeout)
        with self._tracker.waiting_for_broker():
            return super().wait(timeout)


Refused = Callable[[PendingPublish], None]


MAX_REFUSED_TOPICS = 1000
"""Topics :attr:`PublishTracker.refused` counts one by one (topics are not all ours)."""


@dataclass
class PublishTracker:
    """Maps paho's message ids to PendingPublish, tolerating acks that beat registration.

    ``on_refused`` is called (outside the lock) once for each publish the broker refused, as
    soon as both the refusal and the topic are known.
    """

    on_refused: Refused | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: dict[int, PendingPublish] = field(default_factory=dict)
    early: dict[int, str | None] = field(default_factory=dict)
    waiting: Counter[int] = field(default_factory=Counter)
    """Threads (by ident) waiting now for the broker's answers."""
    refused: Counter[str] = field(default_factory=Counter)
    """Publishes the broker refused, by topic (at most :data:`MAX_REFUSED_TOPICS` topics;
    the others counted under ``""``)."""
    refused_at: float | None = None
    """When (``time.monotonic()``) the broker last refused a publish: a client with no
    handler to dead-letter for, an edge, says so on /healthz (:meth:`refused_within`)."""

    def register(self, mid: int, topic: str = "") -> PendingPublish:
        """Track the publish paho numbered ``mid``."""
        handle = PendingPublish(mid, topic, self)
        with self.cond:
            if mid in self.early:
                failure = self.early.pop(mid)
                if failure is None:
                    handle.mark_done()
                else:
                    handle.mark_failed(failure)
            else:
                self.pending[mid] = handle
        if handle.done:  # answered before it was registered
            self._answered(handle)
        return handle

    def _answered(self, handle: PendingPublish) -> None:
        """Count ``handle``'s answer, then say a refusal (outside the lock)."""
        with self.cond:
            if handle.failed:
                self.refused_at = time.monotonic()
                topic = handle.topic
                if topic not in self.refused and len(self.refused) >= MAX_REFUSED_TOPICS:
                    topic = ""
                self.refused[topic] += 1
        if handle.failed and self.on_refused is not None:
            self.on_refused(handle)

    def refused_within(self, seconds: float) -> bool:
        """Whether the broker refused a publish in the last ``seconds``."""
        at = self.refused_at
        return at is not None and time.monotonic() - at < seconds

    def unconfirmed(self) -> Counter[str]:
        """Publishes handed to paho and not answered yet, by topic."""
        with self.cond:
            return Counter(handle.topic for handle in self.pending.values())

    def complete(self, mid: int, failure: str | None = None) -> None:
        """The broker acknowledged ``mid`` (refused it if ``failure`` is given)."""
        with self.cond:
            handle = self.pending.pop(mid, None)
            if handle is None:
                self.early[mid] = failure
            self.cond.notify_all()
        if handle is None:
            return
        if failure is None:
            handle.mark_done()
        else:
            handle.mark_failed(failure)
        self._answered(handle)

    def wait_below(self, limit: int, timeout: float) -> bool:
        """Wait until fewer than ``limit`` publishes are outstanding; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            if len(self.pending) < limit:
                return True
        with self.waiting_for_broker(), self.cond:
            while len(self.pending) >= limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    @contextlib.contextmanager
    def waiting_for_broker(self) -> Iterator[None]:
        """Mark the calling thread as waiting for the broker's answers meanwhile."""
        ident = threading.get_ident()
        with self.cond:
            self.waiting[ident] += 1
        try:
            yield
        finally:
            with self.cond:
                self.waiting[ident] -= 1
                if not self.waiting[ident]:
                    del self.waiting[ident]

    def waits_for_broker(self, ident: int | None) -> bool:
        """Whether the thread ``ident`` waits now for the broker's answers."""
        with self.cond:
            return ident in self.waiting

    @property
    def outstanding(self) -> int:
        """Publishes handed to paho and not acknowledged yet."""
        with self.cond:
            return len(self.pending)
