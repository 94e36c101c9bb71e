"""One jittered exponential back-off for every retry loop ("full jitter").

The n-th wait (from 0) is drawn uniformly from ``[0, min(cap_s, base_s * 2**n)]``: retries
spread out instead of arriving together (many edges after a broker restart), and the
ceiling still doubles up to ``cap_s``. :meth:`Backoff.reset` after a success starts over.
Randomness and the clock are injected, so tests need neither sleeps nor luck.

Example:
    >>> now = [100.0]
    >>> backoff = Backoff(base_s=1.0, cap_s=8.0, random=lambda: 0.5, clock=lambda: now[0])
    >>> [backoff.next_delay() for _ in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    >>> backoff.reset()
    >>> backoff.fail()   # the wait starts now; ready() once it has passed
    0.5
    >>> backoff.ready()
    False
    >>> now[0] += 0.5
    >>> backoff.ready()
    True
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """A retry schedule: full jitter over a doubling ceiling, capped.

    Attributes:
        base_s: the first ceiling.
        cap_s: the largest ceiling.
        random: a uniform draw in ``[0, 1)`` (``random.random``).
        clock: seconds, monotonic (``time.monotonic``), for :meth:`fail`/:meth:`ready`.
        attempt: failures since the last :meth:`reset`.
    """

    base_s: float = 1.0
    cap_s: float = 30.0
    random: Callable[[], float] = _random.random
    clock: Callable[[], float] = time.monotonic
    attempt: int = 0
    _retry_at: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("need 0 < base_s <= cap_s")

    def ceiling(self, attempt: int) -> float:
        """The largest wait after ``attempt`` failures: ``min(cap_s, base_s * 2**attempt)``.

        >>> Backoff(base_s=0.5, cap_s=10).ceiling(3)
        4.0
        """
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 62))

    def next_delay(self) -> float:
        """The wait before the next try (and count this failure)."""
        delay = self.random() * self.ceiling(self.attempt)
        self.attempt += 1
        return delay

    def fail(self) -> float:
        """A try failed: the next one is due after :meth:`next_delay`; return that wait."""
        delay = self.next_delay()
        self._retry_at = self.clock() + delay
        return delay

    def ready(self) -> bool:
        """Whether the wait chosen by the last :meth:`fail` has passed."""
        return self.clock() >= self._retry_at

    def reset(self) -> None:
        """A try succeeded: the next failure waits at most ``base_s`` again."""
        self.attempt = 0
        self._retry_at = 0.0
