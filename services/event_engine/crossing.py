"""Line crossings of one track: hysteresis so jitter counts once, and a cool-down.

A track's side of a line is confirmed only once its anchor is ``margin`` past the line; a
crossing is a change of confirmed side. Inside the band around the line, or where a
polyline does not reach, the side stays what it was -- so a box that jitters on the line,
or a track lost on one side and re-acquired on the other, counts once.

Example:
    >>> import numpy as np
    >>> sides_of(np.array([12.0, -3.0, -9.0, np.nan]), 8, 8).tolist()
    [1, 0, -1, 0]
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from event_engine.geometry import LineGeometry
from event_engine.tracks import TrackState
from sightline.messages.event import Direction


def sides_of(
    distances: npt.NDArray[np.float64], margin_negative: float, margin_positive: float
) -> npt.NDArray[np.int8]:
    """+1 / -1 where a signed distance is clearly on one side; 0 in the band or undefined.

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
    return result


def observe_line(
    track: TrackState, line: LineGeometry, side: int, now: datetime, cooldown_s: float
) -> Direction | None:
    """Feed one confirmed side (+1/-1; 0 changes nothing) of ``track`` to ``line``.

    Returns the direction when the side changed, unless the same track crossed in the same
    direction less than ``cooldown_s`` ago (the side is updated either way).
    """
    if side == 0:
        return None
    previous = track.sides.get(line.name)
    track.sides[line.name] = side
    if previous is None or previous == side:
        return None
    direction = line.forward if side > 0 else line.backward
    key = f"{line.name}|{direction}"
    quiet_until = track.line_quiet_until.get(key)
    if quiet_until is not None and now < quiet_until:
        return None
    track.line_quiet_until[key] = now + timedelta(seconds=cooldown_s)
    return direction
