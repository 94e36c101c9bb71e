"""Line crossings of one track: hysteresis so jitter counts once, unknown past a line's ends,
and a cool-down that quiets the event but never the count.

A track's side of a line is confirmed only once its anchor is ``margin`` past the line; a
crossing is a change of confirmed side. Inside the band around the line the side stays
what it was -- so a box that jitters on the line counts once -- and so it does while the
track is not seen at all: lost on one side and re-acquired on the other counts once. Past a
polyline's free end (further than its reach) the side is :data:`UNKNOWN`: the track forgets
its side there, so walking around the end is not a crossing.

Example:
    >>> import numpy as np
    >>> sides_of(np.array([12.0, -3.0, -9.0, np.nan]), 8, 8).tolist()
    [1, 0, -1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from event_engine.geometry import LineGeometry
from event_engine.tracks import TrackState
from sightline.messages.event import Direction

UNKNOWN = 2
"""The side of an anchor the line does not reach (past a polyline's free end)."""


@dataclass(frozen=True, slots=True)
class Crossing:
    """A change of confirmed side: its direction, and whether the line's cool-down quiets
    its event (it is counted either way)."""

    direction: Direction
    quiet: bool = False


def sides_of(
    distances: npt.NDArray[np.float64], margin_negative: float, margin_positive: float
) -> npt.NDArray[np.int8]:
    """+1 / -1 where a signed distance is clearly on one side; 0 in the band; :data:`UNKNOWN`
    where it is undefined (NaN: past a polyline's end).

    A margin of 0 (a line on the frame's edge) counts the line itself as that side.
    """
    with np.errstate(invalid="ignore"):
        positive = (
            distances >= margin_positive if margin_positive == 0 else distances > margin_positive
        )
        negative = (
            distances <= -margin_negative if margin_negative == 0 else distances < -margin_negative
        )
    result: npt.NDArray[np.int8] = positive.astype(np.int8) - negative.astype(np.int8)
    result[np.isnan(distances)] = UNKNOWN
    return result


def observe_line(
    track: TrackState, line: LineGeometry, side: int, now: datetime, cooldown_s: float
) -> Crossing | None:
    """Feed one side (+1/-1; 0 changes nothing; :data:`UNKNOWN` forgets it) of ``track`` to
    ``line``.

    Returns the crossing when the confirmed side changed; it is ``quiet`` when the same
    track crossed in the same direction less than ``cooldown_s`` ago (the cool-down then
    is not extended by a quiet crossing).
    """
    if side == 0:
        return None
    if side == UNKNOWN:
        track.sides.pop(line.name, None)
        return None
    previous = track.sides.get(line.name)
    track.sides[line.name] = side
    if previous is None or previous == side:
        return None
    direction = line.forward if side > 0 else line.backward
    key = f"{line.name}|{direction}"
    quiet_until = track.line_quiet_until.get(key)
    if quiet_until is not None and now < quiet_until:
        return Crossing(direction, quiet=True)
    track.line_quiet_until[key] = now + timedelta(seconds=cooldown_s)
    return Crossing(direction)
