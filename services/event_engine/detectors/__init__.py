"""Detectors: what the engine decides for each event type, found by :class:`EventType`.

A detector watches one camera's tracks where they meet a line or a zone and returns
*occurrences* (see :mod:`event_engine.rules`); the rules then make events of them. Each
detector is a module of this package that decorates its class with :func:`register`: every
module here is imported (``pkgutil``) the first time the registry is asked for, so a new
event type is its :class:`EventType` member with its record (``EVENT_TYPES``), its ACL line
and one module here; no list to edit. A detector that wants settings per line or zone names
a pydantic model (:attr:`Detector.options`): a config's ``zones: [{..., options: {<name>:
{...}}}]`` is checked by it, with errors naming the key path
(``zones[0].options.loitering.seconds: ...``).

A detector instance belongs to one camera's tracker and is built again when its config
changes; it holds only what the config says. What a track remembers lives in the track
(:class:`~event_engine.tracks.TrackState`, :class:`~event_engine.tracks.ZoneVisit`, their
``notes``), so it is checkpointed, follows an id switch and is forgotten with the track.

Example:
    >>> list(registry()) == list(EventType)  # every type has its detector
    True
    >>> detector_for(EventType.ZONE_DWELL).name, detector_for(EventType.LINE_CROSS).name
    ('zone_presence', 'line_cross')
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar, TypeVar

from pydantic import BaseModel

from event_engine.rules import Occurrence
from event_engine.scene import Scene, SceneLine, SceneZone
from event_engine.tracks import CameraState, TrackState
from sightline.config.engine import DeviceConfig, Place, set_detector_options
from sightline.messages.event import EventType, LineRef, ZoneRef


@dataclass(frozen=True, slots=True)
class Frame:
    """The frame being decided: the camera's scene and state, its number and capture time."""

    scene: Scene
    state: CameraState
    number: int
    now: datetime

    def occurrence(
        self,
        event_type: EventType,
        track: TrackState,
        *,
        line: LineRef | None = None,
        zone: ZoneRef | None = None,
        quiet: bool = False,
    ) -> Occurrence:
        """What ``track`` did in this frame, in the camera's current run."""
        return Occurrence(
            event_type,
            track.track_id,
            track.detection,
            self.number,
            self.now,
            line=line,
            zone=zone,
            run_id=self.state.run_id,
            continued_from=track.continued_from,
            quiet=quiet,
        )


class Detector:
    """Decides one or more event types. Override what it watches:

    * :meth:`at_line`: a track whose confirmed side of a line may have changed (its anchor
      is past the line's band, on another side than it was confirmed on), if the line's
      class filter admits it;
    * :meth:`at_zone`: a track inside a zone's polygon, or with a visit of it, if the zone's
      class filter admits it (detectors run in :attr:`order`: ``zone_presence``, at 0,
      keeps the visits the others read);
    * :meth:`ended`: a track ended (lost, timed out, or its edge restarted).
    """

    name: ClassVar[str]
    """Its key under a line's or zone's ``options`` and in a track's ``notes``."""
    event_types: ClassVar[tuple[EventType, ...]]
    """What it decides: each type has exactly one detector."""
    order: ClassVar[int] = 100
    """Detectors run by order, then name."""
    options: ClassVar[type[BaseModel] | None] = None
    """The model of its settings per line or zone (``options.<name>``), if it has any."""
    options_place: ClassVar[Place] = "zone"
    """Where its options go: under ``zones:`` or ``lines:``."""

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config

    def at_line(
        self, track: TrackState, line: SceneLine, side: int, frame: Frame
    ) -> list[Occurrence]:
        """``track``'s anchor is on ``side`` (+1/-1, or ``crossing.UNKNOWN``) of ``line``."""
        return []

    def at_zone(
        self, track: TrackState, zone: SceneZone, inside: bool, frame: Frame
    ) -> list[Occurrence]:
        """``track``'s anchor is ``inside`` the zone's polygon (or not, with a visit)."""
        return []

    def ended(self, track: TrackState, frame: Frame) -> list[Occurrence]:
        """``track`` ended: what that decides (it is forgotten afterwards)."""
        return []

    @classmethod
    def watches(cls, hook: str) -> bool:
        """Whether it overrides ``hook`` (``at_line``, ``at_zone``, ``ended``)."""
        return getattr(cls, hook) is not getattr(Detector, hook)


D = TypeVar("D", bound=type[Detector])

_BY_TYPE: dict[EventType, type[Detector]] = {}
_NAMES: dict[str, type[Detector]] = {}
_loaded = False
_lock = threading.RLock()


def register(detector: D) -> D:
    """Class decorator: ``detector`` decides its :attr:`~Detector.event_types`.

    Raises:
        TypeError: a type already has a detector, or the name is taken.
    """
    name = detector.name
    if name in _NAMES and _NAMES[name] is not detector:
        raise TypeError(f"detector name {name!r} is taken by {_NAMES[name].__qualname__}")
    for kind in detector.event_types:
        other = _BY_TYPE.get(kind)
        if other is not None and other is not detector:
            raise TypeError(f"{kind} is decided by {other.__qualname__} already")
    _NAMES[name] = detector
    for kind in detector.event_types:
        _BY_TYPE[kind] = detector
    return detector


def load() -> None:
    """Import every module of this package once (each registers its detectors).

    Raises:
        RuntimeError: an :class:`EventType` that no module decides.
    """
    global _loaded
    with _lock:
        if _loaded:
            return
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        missing = [kind.value for kind in EventType if kind not in _BY_TYPE]
        if missing:
            raise RuntimeError(
                f"no detector decides {', '.join(missing)}: add a module to "
                "services/event_engine/detectors/ whose class is decorated with @register"
            )
        options: dict[Place, dict[str, type[BaseModel]]] = {"line": {}, "zone": {}}
        for detector in _NAMES.values():
            if detector.options is not None:
                options[detector.options_place][detector.name] = detector.options
        set_detector_options(options)
        _loaded = True


def registry() -> Mapping[EventType, type[Detector]]:
    """Event type -> its detector, in :class:`EventType` order."""
    load()
    return MappingProxyType({kind: _BY_TYPE[kind] for kind in EventType})


def detector_for(event_type: EventType) -> type[Detector]:
    """The detector that decides ``event_type``."""
    return registry()[event_type]


def detectors(config: DeviceConfig) -> list[Detector]:
    """One of each detector for a camera with ``config``, in the order they run."""
    kinds = sorted(set(registry().values()), key=lambda kind: (kind.order, kind.name))
    return [kind(config) for kind in kinds]
