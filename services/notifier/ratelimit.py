"""At most N immediate e-mails per rule in any hour, so a busy driveway does not flood.

Example:
    >>> limiter = RateLimiter(per_hour=2)
    >>> [limiter.try_acquire("gate", now) for now in (0.0, 1.0, 2.0, 3601.0)]
    [True, True, False, True]
"""

from __future__ import annotations

from collections import defaultdict, deque

HOUR_S = 3600.0


class RateLimiter:
    """A sliding one-hour window per rule."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._sent: defaultdict[str, deque[float]] = defaultdict(deque)

    def try_acquire(self, rule: str, now: float) -> bool:
        """True (and counted) if ``rule`` may send now."""
        window = self._sent[rule]
        while window and window[0] <= now - HOUR_S:
            window.popleft()
        if len(window) >= self.per_hour:
            return False
        window.append(now)
        return True

    def release(self, rule: str) -> None:
        """Give back the last acquisition (the e-mail did not go out)."""
        if self._sent[rule]:
            self._sent[rule].pop()

    def remember(self, rule: str, at: float) -> None:
        """Count an e-mail sent before a restart."""
        self._sent[rule].append(at)
        self._sent[rule] = deque(sorted(self._sent[rule]))
