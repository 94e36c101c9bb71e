"""Handling received messages: one handler at a time, acknowledged in order, memory bounded.

Three threads meet here:

* paho's **network thread** hands each message to :meth:`Handling.receive`. While
  ``limit`` messages are received but not yet acknowledged it *waits* before taking another:
  it then reads nothing more from the socket, so the broker meets TCP back-pressure instead
  of filling our memory (Mosquitto 2.0 does not keep to the Receive Maximum we ask for).
  The broker's answers to our publishes come on the same connection, behind the messages
  held back, so it waits only

  - for the acker while no publish awaits the broker's answer; otherwise only for the
    handler (``limit`` messages not yet handled), and handled ones waiting for their
    acknowledgement keep only a dead letter's excerpt (4 KiB) of their payload;
  - not at all while the handler thread itself waits for the broker's answers (a full
    publish window, or ``PendingPublish.wait``): it must read on for them, past the bound;
  - never longer than half the keep-alive, so that paho still sends acknowledgements and
    pings while a handler is slow (paho writes only from this thread); and once per
    overload: after a wait ran out, up to ``limit`` more messages are taken at once (a
    burst of buffered messages would otherwise hold the thread half a keep-alive each),
    then each waits again (twice the bound at most, and one more per half keep-alive).
    Past that allowance another thread's publish waits with them: memory stays bounded
    whatever is outstanding (a service nearly always has a publish awaiting its answer,
    and the broker's queue for us can be long).
* the **handler** thread runs one handler at a time, in arrival order
  (:meth:`Handling.work`).
* the **acker** thread acknowledges each handled message, in arrival order, once everything
  its handler published is confirmed by the broker (:meth:`Handling.acknowledge`). A publish
  the broker *refused* is not taken as delivered: the message is dead-lettered with the
  refusal as reason and acknowledged once that dead letter is accepted; if the dead letter
  is refused too, nothing more is acknowledged (``publishes_ok`` is False for /healthz) and
  the dead letter is tried again with back-off.

Example:
    >>> bound = UnackedBound(limit=2)
    >>> bound.admit(may_wait=lambda: True, timeout=0.0)
    True
    >>> bound.admit(may_wait=lambda: True, timeout=0.0)
    True
    >>> bound.admit(may_wait=lambda: True, timeout=0.0)   # full: took it after the wait
    False
    >>> bound.admit(may_wait=lambda: True, timeout=60.0)  # within the allowance: no wait
    True
    >>> bound.admit(may_wait=lambda: True, timeout=0.0)  # twice the limit: waits again
    False
    >>> bound.release(); bound.release(); bound.count, bound.peak, bound.overrun
    (3, 5, True)
    >>> bound.release(); bound.release(); bound.count, bound.overrun  # below: over
    (1, False)
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sightline.backoff import Backoff
from sightline.errors import MessageError, RetryLater
from sightline.messages.deadletter import MAX_PAYLOAD_EXCERPT
from sightline.mqtt.pending import Completion

if TYPE_CHECKING:
    from prometheus_client import Counter

    from sightline.mqtt.client import MqttClient

log = logging.getLogger(__name__)

POLL_S = 0.02
"""How often a waiting network thread looks again whether it may read on."""


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message as a handler sees it."""

    topic: str
    payload: bytes
    retain: bool = False
    duplicate: bool = False
    mid: int = 0
    qos: int = 1
    session: int = 0
    """The client's session it came in (:attr:`MqttClient.session`)."""


Handler = Callable[[ReceivedMessage], None]


@dataclass
class Subscription:
    """A topic filter and the handler of what arrives on it."""

    topic_filter: str
    handler: Handler
    name: str


class UnackedBound:
    """Counts messages received and not yet acknowledged; :meth:`admit` waits at ``limit``."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.count = 0
        self.peak = 0
        self.overrun = False
        """True once a wait timed out, until the count is below the limit again: meanwhile
        up to ``limit`` more messages are taken at once (one wait for a burst, not one per
        message: the caller, paho's network thread, writes nothing while it waits); past
        twice the limit each waits again, so memory stays bounded while a handler is stuck
        and the broker keeps sending (QoS 0 is not held back by the Receive Maximum)."""
        self._cond = threading.Condition()

    def admit(self, may_wait: Callable[[], bool], timeout: float) -> bool:
        """Count one more message, first waiting while the count is at the limit and
        ``may_wait()`` holds, for ``timeout`` seconds at most (not at all within an
        overrun's allowance, see :attr:`overrun`). False if the wait ran out."""
        deadline = time.monotonic() + timeout
        within = True
        with self._cond:
            while self.count >= self.limit:
                if self.overrun and self.count < 2 * self.limit:
                    break  # the overload's allowance
                if not may_wait():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    within = False
                    self.overrun = True
                    break
                self._cond.wait(min(remaining, POLL_S))
            self.count += 1
            self.peak = max(self.peak, self.count)
        return within

    def release(self) -> None:
        """One message is acknowledged (or given up to be redelivered)."""
        with self._cond:
            self.count -= 1
            if self.count < self.limit:
                self.overrun = False
            self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class Handled:
    """A handled message waiting for its acknowledgement. Only what a dead letter carries
    of its payload is kept (``size`` is the whole payload's)."""

    message: ReceivedMessage
    size: int
    completions: list[Completion]

    @classmethod
    def of(cls, message: ReceivedMessage, completions: list[Completion]) -> Handled:
        """Keep ``message`` for its acknowledgement, its payload cut to a dead letter's
        excerpt.

        >>> Handled.of(ReceivedMessage("t", b"x" * 5000), []).message.payload == b"x" * 4096
        True
        """
        size = len(message.payload)
        if size > MAX_PAYLOAD_EXCERPT:
            message = dataclasses.replace(message, payload=message.payload[:MAX_PAYLOAD_EXCERPT])
        return cls(message, size, completions)


class Handling:
    """The inbox, the handler thread and the acker thread of one :class:`MqttClient`."""

    def __init__(self, client: MqttClient, limit: int) -> None:
        self.client = client
        self.bound = UnackedBound(limit)
        # Read when scraped, not set twice for every message.
        client.metrics.unacked.set_function(lambda: self.bound.count)
        self.inbox: queue.Queue[ReceivedMessage | None] = queue.Queue()
        self.acks: queue.Queue[Handled | None] = queue.Queue()
        self.worker_done = threading.Event()
        self.acker_done = threading.Event()
        self.worker_ident: int | None = None
        self.awaited: list[Completion] = []
        self.inbox_peak = 0
        """The most messages ever received and not yet handled (at most ``limit``, see above)."""
        self.publishes_ok = True
        """False while a dead letter for a refused publish is refused too (for /healthz)."""
        self._received: dict[str, Counter] = {}

    # -- network thread ---------------------------------------------------------------------

    def receive(self, message: ReceivedMessage) -> None:
        """Take a message from paho, first waiting for room (see the module's docstring)."""
        client = self.client
        overrun = self.bound.overrun  # only this thread starts one
        within = self.bound.admit(self._may_wait, timeout=client.config.keepalive_s / 2)
        if not within:
            log.log(
                logging.DEBUG if overrun else logging.WARNING,  # said once per overrun
                "handling is slow: took message %d over the bound of %d unacknowledged so "
                "that the connection stays alive (up to twice the bound at once, then one "
                "each half keep-alive)",
                self.bound.count,
                self.bound.limit,
            )
        self.inbox.put(message)
        self.inbox_peak = max(self.inbox_peak, self.inbox.qsize())

    def _may_wait(self) -> bool:
        client = self.client
        if client.stopping.is_set():
            return False
        if self.inbox.qsize() >= self.bound.limit:
            # unless the handler itself waits for the broker's answers (a full publish
            # window, a publish it must see confirmed): they come after what we hold back
            return not client.tracker.waits_for_broker(self.worker_ident)
        return client.tracker.outstanding == 0  # else the broker's confirmations must be read

    # -- handler thread ---------------------------------------------------------------------

    def on_worker(self) -> bool:
        """Whether the caller runs on the handler thread."""
        return threading.get_ident() == self.worker_ident

    def work(self) -> None:
        """The handler thread: one message at a time until stopped."""
        self.worker_ident = threading.get_ident()
        client = self.client
        try:
            while True:
                try:
                    message = self.inbox.get(timeout=0.2)
                except queue.Empty:
                    if client.stopping.is_set():
                        return
                    continue
                if message is None or time.monotonic() > client.stop_deadline:
                    return
                self.handle(message)
        finally:
            self.worker_done.set()

    def handle(self, message: ReceivedMessage) -> None:
        """Run the message's handler (dead letter if it fails), then queue the ack."""
        client = self.client
        sub = client.dispatch(message)
        if sub is None:  # a retained message on a filter we no longer have
            self.acks.put(Handled.of(message, []))
            return
        received = self._received.get(sub.name)
        if received is None:  # one labelled child per subscription, looked up once
            received = self._received[sub.name] = client.metrics.received.labels(sub.name)
        received.inc()
        backoff: Backoff | None = None  # made on the first retry only: off the hot path
        while True:
            self.awaited = []
            started = time.perf_counter()
            try:
                sub.handler(message)
            except RetryLater as exc:
                client.metrics.retries.inc()
                if client.stopping.is_set():
                    log.info("stopping: leaving a message to be redelivered: %s", exc)
                    return  # not acknowledged: the broker redelivers it
                if backoff is None:
                    backoff = Backoff(
                        client.config.reconnect_min_s,
                        max(client.config.reconnect_min_s, client.config.reconnect_max_s),
                    )
                delay = backoff.next_delay()
                log.warning("handler asked to retry in %.1fs: %s", delay, exc)
                client.stopping.wait(delay)
                continue
            except MessageError as exc:
                self.dead_letter(message, exc.reason, kind=type(exc).__name__)
            except Exception as exc:
                log.exception("handler failed on %s", message.topic, extra={"topic": message.topic})
                self.dead_letter(message, f"{type(exc).__name__}: {exc}", kind="handler_error")
            finally:
                client.metrics.handle_seconds.observe(time.perf_counter() - started)
            break
        # Acknowledged by the acker thread, in arrival order, once the broker has what the
        # handler published: the worker goes on with the next message meanwhile.
        self.acks.put(Handled.of(message, self.awaited))
        self.awaited = []

    def dead_letter(
        self, message: ReceivedMessage, reason: str, kind: str, size: int | None = None
    ) -> Completion:
        """Log, count and publish a dead letter for ``message`` (whose payload was ``size``
        bytes before it was cut to an excerpt, if it was)."""
        size = len(message.payload) if size is None else size
        log.warning(
            "dead letter: %s",
            reason,
            extra={"topic": message.topic, "reason": reason, "payload_size": size},
        )
        self.client.metrics.dead_letters.labels(kind).inc()
        return self.client.dead_letter(message.topic, message.payload, reason, size=size)

    # -- acker thread -----------------------------------------------------------------------

    def acknowledge(self) -> None:
        """The acker thread: acknowledge handled messages in order, never a refused one."""
        client = self.client
        try:
            while (item := self.acks.get()) is not None:
                if not self._confirmed(item.completions):
                    return  # stopping with the broker away: left to be redelivered
                failed = [c for c in item.completions if c.failed]
                if failed and not self._dead_letter_refused(item, failed):
                    return  # stopping: left unacknowledged, to be redelivered
                client.ack(item.message)
                self.bound.release()
                client.metrics.handled.inc()
        finally:
            self.acker_done.set()

    def _confirmed(self, completions: list[Completion]) -> bool:
        client = self.client
        for handle in completions:
            while not handle.wait(1.0):
                if client.stopping.is_set() and (
                    not client.connected or time.monotonic() > client.stop_deadline
                ):
                    log.warning("stopping before the broker confirmed a publish: not acking")
                    return False
        return True

    def _dead_letter_refused(self, item: Handled, failed: list[Completion]) -> bool:
        """Dead-letter a message whose handler's publishes were refused; True once the dead
        letter is accepted, False if stopping first (the message stays unacknowledged)."""
        client = self.client
        message = item.message
        reason = "; ".join(f"{c.describe()} refused: {c.failure}" for c in failed)
        backoff = Backoff(
            client.config.reconnect_min_s,
            max(client.config.reconnect_min_s, client.config.reconnect_max_s),
        )
        while True:
            letter = self.dead_letter(message, reason, kind="publish_refused", size=item.size)
            if not self._confirmed([letter]):
                return False
            if not letter.failed:
                if not self.publishes_ok:
                    log.warning("dead letters are accepted again: acknowledging again")
                    self.publishes_ok = True
                return True
            self.publishes_ok = False
            delay = backoff.next_delay()
            log.error(
                "the dead letter for a message on %s was refused too (%s): not acknowledging "
                "it or anything after it; trying again in %.1fs",
                message.topic,
                letter.failure,
                delay,
                extra={"topic": message.topic, "reason": reason},
            )
            if client.stopping.wait(delay):
                return False
