"""What tracks remember of a line or zone holds only for the shape it was measured against.

A track's side of a line, its cool-downs there, its visit of a zone: each was decided
against one shape and one set of settings. Each camera's state records a fingerprint of
every line and zone (:attr:`~event_engine.tracks.CameraState.shapes`), saved in the same
checkpoint as the tracks' memory. Whenever a camera's config is applied to its state (at
start-up, after a live change or an edited YAML, and when a checkpoint from before such a
change is loaded), the memory of every line or zone whose fingerprint differs, or that is
gone, is forgotten: a moved line never counts a crossing nobody made, whichever way the
change and the state met. A state with no fingerprints yet (new, or from a checkpoint
written before they were kept) takes the config's as they are.

Example:
    >>> from sightline.config.engine import DeviceConfig
    >>> from event_engine.tracks import CameraState, TrackState
    >>> old = DeviceConfig.model_validate(
    ...     {"lines": [{"type": "vertical", "position_pct": 50, "name": "gate"}]})
    >>> state = CameraState()
    >>> reconcile(state, old)
    >>> sorted(state.shapes)
    ['line:gate']
    >>> state.tracks[1] = TrackState(1, None, 0, None, sides={"gate": -1})  # type: ignore[arg-type]
    >>> reconcile(state, old)  # the same line: the side stays
    >>> state.tracks[1].sides
    {'gate': -1}
    >>> moved = DeviceConfig.model_validate(
    ...     {"lines": [{"type": "vertical", "position_pct": 60, "name": "gate"}]})
    >>> reconcile(state, moved)
    >>> state.tracks[1].sides
    {}
"""

from __future__ import annotations

import hashlib

from event_engine.tracks import CameraState
from sightline.config.engine import DeviceConfig, LineConfig, ZoneConfig

LINE, ZONE = "line:", "zone:"
"""Prefixes of the fingerprints' keys (a line and a zone may share a name)."""


def fingerprints(config: DeviceConfig) -> dict[str, str]:
    """``line:<name>`` / ``zone:<name>`` -> a fingerprint of that line's or zone's config."""
    shapes = {LINE + line.label: _digest(line) for line in config.lines}
    shapes.update({ZONE + zone.label: _digest(zone) for zone in config.zones})
    return shapes


def reconcile(state: CameraState, config: DeviceConfig) -> None:
    """Forget what ``state``'s tracks remember of lines and zones that changed since its
    fingerprints were taken, then take ``config``'s (see the module's docstring)."""
    now = fingerprints(config)
    known = state.shapes
    if known == now:
        return
    if known:
        stale = {key for key, value in known.items() if now.get(key) != value}
        forget(
            state,
            lines={key.removeprefix(LINE) for key in stale if key.startswith(LINE)},
            zones={key.removeprefix(ZONE) for key in stale if key.startswith(ZONE)},
        )
    state.shapes = now


def forget(state: CameraState, lines: set[str], zones: set[str]) -> None:
    """Drop each track's side and cool-downs of ``lines`` and its visits of ``zones``."""
    if not lines and not zones:
        return
    for track in state.tracks.values():
        for name in lines:
            track.sides.pop(name, None)
        for key in [k for k in track.line_quiet_until if k.split("|", 1)[0] in lines]:
            del track.line_quiet_until[key]
        for name in zones:
            track.zones.pop(name, None)


def _digest(shape: LineConfig | ZoneConfig) -> str:
    return hashlib.sha256(shape.model_dump_json().encode()).hexdigest()[:16]
