"""Which run of its edge a frame belongs to: a redelivery, the next frame, or a restart.

A *run* is one life of an edge process: frame numbers count up from where it started and
its tracker's ids are its own. An envelope names its run in ``source.run_id`` (our edges);
a seed-format edge names none, and the engine derives one from the first frame it saw of
the run (``@<capture time>#<frame number>``). The run identity goes into every event id,
so a new crossing after an edge restart never reuses an old crossing's id, while a
redelivered envelope is classified against the same run and gets the same ids.

Without a run id, a run is the chain of ``(frame number, capture time)`` pairs the engine
processed; both only grow within a run. A few samples of the chain (at offsets 0, 1, 2, 4,
8, ... from its first frame, and its last frame) are kept: a redelivered frame lies between
two samples in number *and* time; a frame of a restarted edge (numbers from 0 again, with a
clock that moved on or fell back) does not.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2025, 1, 15, tzinfo=UTC)
    >>> runs = RunBook()
    >>> def feed(number, moment):
    ...     decided = runs.classify(number, moment, None)
    ...     runs.accept(decided, number, moment)
    ...     return decided.kind.value
    >>> [feed(n, t0 + timedelta(seconds=n)) for n in (0, 1, 2)]
    ['next', 'next', 'next']
    >>> feed(1, t0 + timedelta(seconds=1))      # redelivered
    'duplicate'
    >>> window = ReorderWindow(frames=50, seconds=5.0)
    >>> runs.accept(runs.classify(4, t0 + timedelta(seconds=4), None), 4, t0 + timedelta(seconds=4))
    >>> runs.classify(3, t0 + timedelta(seconds=3), None, window).kind  # arrived after 4
    <Order.LATE: 'late'>
    >>> restart = runs.classify(0, t0 - timedelta(hours=1), None)  # clock behind after a reboot
    >>> restart.kind, restart.clock_back
    (<Order.RESTART: 'restart'>, True)
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

PAST_RUNS = 4
"""Ended runs remembered per camera, to recognise their late redeliveries."""


@dataclass(frozen=True, slots=True)
class ReorderWindow:
    """How late a frame of the current run may arrive and still be used: at most
    ``frames`` numbers behind the last frame processed and ``seconds`` before it."""

    frames: int = 0
    seconds: float = 0.0


NO_REORDER = ReorderWindow()
"""Late frames are duplicates (what a caller that names no window gets)."""


class Order(StrEnum):
    """How a frame relates to what the engine processed of its camera."""

    NEXT = "next"
    LATE = "late"
    """A frame of the current run never processed, behind the last one but within the
    reorder window: news for the tracks it is news for."""
    DUPLICATE = "duplicate"
    RESTART = "restart"


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the epoch (exact, for comparisons)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def derived_run_id(number: int, moment: datetime) -> str:
    """The run id of a seed-format edge's run that started with frame ``number`` at
    ``moment`` (``@`` never appears in an explicit id).

    >>> derived_run_id(0, datetime(2025, 1, 15, 14, 30, tzinfo=UTC))
    '@2025-01-15T14:30:00+00:00#0'
    """
    return f"@{moment.astimezone(UTC).isoformat()}#{number}"


@dataclass(slots=True)
class Run:
    """One run (or one segment of it, after its clock stepped back) of a camera's edge."""

    run_id: str
    explicit: bool
    marks: list[tuple[int, int]] = field(default_factory=list)
    """``(frame number, capture time in µs)`` samples; the first is the run's first frame."""
    last: tuple[int, int] = (0, 0)
    """The last frame processed."""
    seen: list[int] = field(default_factory=list)
    """Frame numbers processed within the reorder window behind :attr:`last` (sorted)."""
    seen_from: int | None = None
    """:attr:`seen` is complete from this number on; every frame below it, and (None: a
    checkpoint from before late frames) every frame up to :attr:`last`, counts as seen."""
    stepped: tuple[int, int, int] | None = None
    """The run's clock last fell back between frames ``(before, its µs, after)``: the last
    frame processed on the old clock and the first one on the new (see :meth:`stale`)."""

    @classmethod
    def start(cls, run_id: str, explicit: bool, number: int, moment: int) -> Run:
        """A run whose first frame is ``number`` at ``moment`` (µs)."""
        return cls(run_id, explicit, [(number, moment)], (number, moment), [number], number)

    def late(self, number: int, moment: int, window: ReorderWindow) -> bool:
        """Whether ``(number, moment)``, at or below :attr:`last`, is a frame of this run
        never processed that arrived within ``window``."""
        if self.seen_from is None or number <= self.seen_from or number in self.seen:
            return False
        behind_us = self.last[1] - moment
        return self.last[0] - number <= window.frames and 0 <= behind_us <= round(
            window.seconds * 1_000_000
        )

    def see(self, number: int, window: ReorderWindow) -> None:
        """Remember ``number`` as processed; forget numbers beyond the window."""
        if self.seen_from is None:
            self.seen_from, self.seen = number, []
        seen = self.seen
        if not seen or number > seen[-1]:
            seen.append(number)
        elif number not in seen:
            insort(seen, number)
        floor = self.last[0] - window.frames
        if seen[0] < floor:
            del seen[: bisect_left(seen, floor)]

    def stale(self, number: int, moment: int) -> bool:
        """Whether ``(number, moment)`` is a frame the edge captured before its clock fell
        back, arriving after the first frame on the new clock: numbered between the two,
        stamped at or after the old clock's last frame. Its time cannot be compared with
        the new clock's, so it is dropped; taken for a new run it would end every track
        twice (out and back). The gap between the two frames is a few numbers at most
        (:meth:`~event_engine.camera.CameraTracker` refuses a jump on a clock that fell
        back), so no later frame of any run falls in it and nothing is muted.

        >>> run = Run("r", True, stepped=(4, 3_600_000_000, 6))
        >>> run.stale(5, 3_600_040_000), run.stale(5, 40_000), run.stale(7, 3_600_040_000)
        (True, False, False)
        """
        if self.stepped is None:
            return False
        before, then, after = self.stepped
        return before < number < after and moment >= then

    def holds(self, number: int, moment: int) -> bool:
        """Whether ``(number, moment)`` may be a frame of this run already processed."""
        if number > self.last[0]:
            return False
        lo = hi = None
        for mark in [*self.marks, self.last]:
            if mark[0] <= number:
                lo = mark
            if mark[0] >= number and hi is None:
                hi = mark
        if lo is None or hi is None or not lo[1] <= moment <= hi[1]:
            return False
        return all(mark[1] == moment for mark in (lo, hi) if mark[0] == number)

    def extends(self, number: int, moment: int) -> bool:
        """Whether ``(number, moment)`` can be this run's next frame (both grew)."""
        return number > self.last[0] and moment >= self.last[1]

    def advance(self, number: int, moment: int, window: ReorderWindow) -> None:
        """Record ``(number, moment)`` as processed; keep a sample at doubling offsets."""
        first, latest = self.marks[0][0], self.marks[-1][0]
        if number - first >= max(1, 2 * (latest - first)):
            self.marks.append((number, moment))
        self.last = (number, moment)
        self.see(number, window)


@dataclass(frozen=True, slots=True)
class Classified:
    """What :meth:`RunBook.classify` decided, and why (for the log)."""

    kind: Order
    run_id: str
    clock_back: bool = False
    """The frame's capture time is before the last frame's: an edge clock that fell back."""
    resumed: int | None = None
    """Index in :attr:`RunBook.past` of a run the engine had left (a stray envelope of
    another run came between) that goes on with this frame."""


@dataclass(slots=True)
class RunBook:
    """A camera's current run and a few ended ones; :meth:`classify` then :meth:`accept`."""

    current: Run | None = None
    past: list[Run] = field(default_factory=list)

    @property
    def last(self) -> tuple[int, int] | None:
        """``(frame number, µs)`` of the last frame processed, if any."""
        return self.current.last if self.current is not None else None

    def classify(
        self,
        number: int,
        moment: datetime,
        run_id: str | None,
        window: ReorderWindow = NO_REORDER,
    ) -> Classified:
        """Classify frame ``number`` captured at ``moment`` of run ``run_id`` (None: a
        seed-format edge). Changes nothing: call :meth:`accept` to take a NEXT, LATE or
        RESTART frame."""
        at = micros(moment)
        current = self.current
        if current is None:
            return Classified(Order.NEXT, run_id or derived_run_id(number, moment))
        back = at < current.last[1]
        if (run_id is None or run_id == current.run_id) and current.stale(number, at):
            return Classified(Order.DUPLICATE, current.run_id)
        if run_id is not None:
            if run_id == current.run_id:
                if number > current.last[0]:
                    return Classified(Order.NEXT, run_id, clock_back=back)
                if at > current.last[1]:
                    # Numbered before the last frame but captured after it: no redelivery
                    # looks like that. The last number was a poison (or the edge's count
                    # went back): the run goes on from here, its tracks end, never muted.
                    return Classified(Order.RESTART, run_id)
                late = current.late(number, at, window)
                return Classified(Order.LATE if late else Order.DUPLICATE, run_id)
            for index, run in enumerate(self.past):
                if run.run_id == run_id:
                    if number <= run.last[0]:
                        return Classified(Order.DUPLICATE, run_id)
                    return Classified(Order.RESTART, run_id, clock_back=back, resumed=index)
            return Classified(Order.RESTART, run_id, clock_back=back)
        if not current.explicit:
            if current.extends(number, at):
                return Classified(Order.NEXT, current.run_id)
            if current.holds(number, at):
                late = current.late(number, at, window)
                return Classified(Order.LATE if late else Order.DUPLICATE, current.run_id)
        for index, run in enumerate(self.past):
            if run.explicit:
                continue
            if run.holds(number, at):
                return Classified(Order.DUPLICATE, run.run_id)
            if run.extends(number, at):
                return Classified(Order.RESTART, run.run_id, clock_back=back, resumed=index)
        if not current.explicit and number > current.last[0]:
            # Numbers go on but the clock fell back (NTP stepped it): the same run.
            return Classified(Order.NEXT, current.run_id, clock_back=True)
        return Classified(Order.RESTART, derived_run_id(number, moment), clock_back=back)

    def accept(
        self,
        decided: Classified,
        number: int,
        moment: datetime,
        window: ReorderWindow = NO_REORDER,
    ) -> None:
        """Take a NEXT, LATE or RESTART frame as processed (a DUPLICATE changes nothing)."""
        at = micros(moment)
        current = self.current
        if decided.kind is Order.DUPLICATE:
            return
        if decided.kind is Order.LATE:
            if current is not None:
                current.see(number, window)
            return
        if current is None or decided.kind is Order.RESTART:
            resumed = self.past.pop(decided.resumed) if decided.resumed is not None else None
            if current is not None:
                self.past = [current, *self.past][:PAST_RUNS]
            if resumed is not None:
                resumed.advance(number, at, window)
                self.current = resumed
            else:
                self.current = Run.start(decided.run_id, decided.run_id[:1] != "@", number, at)
            return
        if decided.clock_back:
            stepped = (*current.last, number)
            if not current.explicit:
                # A new segment of the same run: the old one is kept for its redeliveries.
                self.past = [current, *self.past][:PAST_RUNS]
                self.current = Run.start(current.run_id, False, number, at)
                self.current.stepped = stepped
                return
            current.stepped = stepped
        current.advance(number, at, window)
