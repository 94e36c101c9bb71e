"""Which events of a digest get a photo: the most telling ones, spread over the period.

A digest shows at most ``max_photos`` pictures. Taking the first ones fills them all from
the first minutes of a busy period, often the same car twice. Instead:

1. one candidate per track (camera, rule, track): the event whose object is seen best,
   scored by confidence and the size of its box;
2. the places are shared out between rules, round robin, so a quiet rule is not drowned
   by a busy one;
3. within a rule, its share is spread over time (:func:`spread`): the best of each slice
   of the time its events span;
4. the chosen are shown in time order.

Example:
    >>> c = [Candidate("a", 10.0 * i, "car-in", ("cam", i), 0.5 + i / 100) for i in range(10)]
    >>> c.append(Candidate("p", 55.0, "person-in", ("cam", 99), 0.9))
    >>> [(chosen.event_id, chosen.at) for chosen in choose_photos(c, 3)]
    [('a', 40.0), ('p', 55.0), ('a', 90.0)]
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import groupby

from sightline.messages import Event


@dataclass(frozen=True)
class Candidate:
    """An event that has a photo, as the choice sees it."""

    event_id: str
    at: float
    """When it happened (epoch seconds)."""
    rule: str
    track: Hashable
    """Events of one track share it: at most one of them is shown."""
    score: float
    """How well the object is seen (higher is better)."""

    @classmethod
    def of(cls, event: Event) -> Candidate:
        """The candidate of ``event``: scored by confidence and the square root of its box's
        area (a large, sure detection reads best; a box twice as wide is not twice as good).
        """
        box = event.object.bbox
        area = max(0.0, box.x2 - box.x1) * max(0.0, box.y2 - box.y1)
        return cls(
            event.event_id,
            event.timestamp.timestamp(),
            event.rule,
            (event.camera_id, event.rule, event.object.track_id),
            event.object.confidence * math.sqrt(area),
        )


def best_per_track(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The best-scored candidate of each track (the earliest on a tie), in time order.

    Example:
        >>> best_per_track([Candidate("a", 1, "r", 1, 0.5), Candidate("b", 2, "r", 1, 0.7)])
        [Candidate(event_id='b', at=2, rule='r', track=1, score=0.7)]
    """
    best: dict[Hashable, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: (c.at, c.event_id)):
        kept = best.get(candidate.track)
        if kept is None or candidate.score > kept.score:
            best[candidate.track] = candidate
    return sorted(best.values(), key=lambda c: (c.at, c.event_id))


def shares(sizes: dict[str, int], places: int) -> dict[str, int]:
    """``places`` shared out round robin between rules with ``sizes`` candidates each.

    Example:
        >>> shares({"busy": 40, "quiet": 1, "some": 3}, 6)
        {'busy': 3, 'quiet': 1, 'some': 2}
    """
    share = dict.fromkeys(sizes, 0)
    while places > 0 and any(share[rule] < sizes[rule] for rule in sizes):
        for rule in sorted(sizes):
            if places > 0 and share[rule] < sizes[rule]:
                share[rule] += 1
                places -= 1
    return share


def spread(candidates: Sequence[Candidate], count: int) -> list[Candidate]:
    """``count`` of ``candidates`` spread over their time span: the span is cut into
    ``count`` equal slices and the best of each slice is taken; places left by empty slices
    go to the candidates farthest in time from those already taken (a burst of events in the
    first minutes gets one photo, not all of them).

    Example:
        >>> burst = [Candidate(f"b{i}", i, "r", i, 1.0 + i / 10) for i in range(10)]
        >>> later = [Candidate("l1", 1800, "r", 98, 0.5), Candidate("l2", 3500, "r", 99, 0.5)]
        >>> [x.event_id for x in spread(burst + later, 3)]
        ['b9', 'l1', 'l2']
        >>> [x.event_id for x in spread(burst + later, 4)]
        ['b9', 'l1', 'l2', 'b0']
    """
    ordered = sorted(candidates, key=lambda c: (c.at, c.event_id))
    if count >= len(ordered):
        return ordered
    if count <= 0:
        return []
    first, span = ordered[0].at, (ordered[-1].at - ordered[0].at) or 1.0
    slices: dict[int, list[Candidate]] = {}
    for candidate in ordered:
        slices.setdefault(min(count - 1, int((candidate.at - first) / span * count)), []).append(
            candidate
        )
    chosen = [max(group, key=lambda c: c.score) for _, group in sorted(slices.items())]
    rest = [c for c in ordered if c not in chosen]
    while len(chosen) < count and rest:
        farthest = max(rest, key=lambda c: (min(abs(c.at - x.at) for x in chosen), c.score))
        chosen.append(farthest)
        rest.remove(farthest)
    return chosen


def choose_photos(candidates: Sequence[Candidate], places: int) -> list[Candidate]:
    """The candidates to show, at most ``places``, in time order (see the module docstring)."""
    tracks = best_per_track(candidates)
    by_rule = {
        rule: list(group)
        for rule, group in groupby(
            sorted(tracks, key=lambda c: (c.rule, c.at)), key=lambda c: c.rule
        )
    }
    share = shares({rule: len(group) for rule, group in by_rule.items()}, places)
    chosen = [c for rule, group in by_rule.items() for c in spread(group, share[rule])]
    return sorted(chosen, key=lambda c: (c.at, c.event_id))
