"""The engine: routes envelopes by device to a :class:`CameraTracker` per (device, camera).

Example:
    >>> from sightline.config import EngineSettings
    >>> engine = Engine(EngineSettings.model_validate({"devices": {"pi": {"camera_id": "porch"}}}))
    >>> engine.device_config("pi") is not None, engine.device_config("stranger")
    (True, None)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from event_engine.camera import CameraTracker, FrameOutcome
from event_engine.scene import Scene
from event_engine.sequence import FrameGapDetector
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from sightline.messages.envelope import DetectionEnvelope
from sightline.messages.sightings import Sightings
from sightline.timestamps import format_timestamp, utc_now

MAX_FRAME_NUMBER = 2**40
"""No frame counter gets there (348 years at 100 fps): a larger number is refused."""


class UnknownDeviceError(LookupError):
    """An envelope from a device that is not configured (and no ``default_device``)."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"source.device_id: unknown device {device_id!r} (not under devices:)")
        self.device_id = device_id


class Engine:
    """Every camera's tracker and state; thread-safe (one lock around each envelope)."""

    def __init__(
        self,
        settings: EngineSettings,
        states: dict[str, CameraState] | None = None,
        gaps: FrameGapDetector | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.states: dict[str, CameraState] = dict(states or {})
        self.gaps = gaps or FrameGapDetector()
        self.lock = threading.Lock()
        self._trackers: dict[tuple[str, str], CameraTracker] = {}
        self._owners: dict[str, str] | None = None  # camera -> its configured device

    def check_geometry(self, width: int = 1920, height: int = 1080) -> list[str]:
        """Problems with the configured lines and zones (self-crossing polygons, ...), if any.

        Shapes in percent scale with the frame, so one nominal size finds them all.
        """
        problems = []
        devices = dict(self.settings.devices)
        if self.settings.default_device is not None:
            devices["default_device"] = self.settings.default_device
        for device_id, config in devices.items():
            try:
                Scene.from_config(config, width, height)
            except ValueError as exc:
                problems.append(f"devices.{device_id}: {exc}")
        return problems

    def replace_device(self, device_id: str, config: DeviceConfig | None) -> None:
        """Swap in a device's new section (None: remove it), between two envelopes.

        The camera's state (tracks, counters, runs) stays; its tracker is built again with
        the new lines, zones and rules on the next envelope.
        """
        with self.lock:
            devices = dict(self.settings.devices)
            if config is None:
                devices.pop(device_id, None)
            else:
                devices[device_id] = config
            self.settings = self.settings.model_copy(update={"devices": devices})
            self._owners = None
            for key in [key for key in self._trackers if key[0] == device_id]:
                del self._trackers[key]

    def device_config(self, device_id: str) -> DeviceConfig | None:
        """The config for ``device_id``: its own, the default one, or None."""
        return self.settings.devices.get(device_id, self.settings.default_device)

    def tracker(self, device_id: str, camera_id: str) -> CameraTracker:
        """The tracker of (device, camera), created on first use.

        Raises:
            UnknownDeviceError: the device is not configured and there is no default.
        """
        key = (device_id, camera_id)
        tracker = self._trackers.get(key)
        if tracker is None:
            config = self.device_config(device_id)
            if config is None:
                raise UnknownDeviceError(device_id)
            state = self.states.setdefault(camera_id, CameraState())
            tracker = CameraTracker(device_id, camera_id, config, state, self.gaps)
            self._trackers[key] = tracker
        return tracker

    def process(
        self, envelope: Sightings | DetectionEnvelope, topic_camera: str | None = None
    ) -> FrameOutcome:
        """Process one envelope that came on ``detections/<topic_camera>`` (None: no topic,
        e.g. a replayed JSON line); a wire model is read as :class:`Sightings` first.

        Raises:
            UnknownDeviceError: see :meth:`tracker`.
            MessageError: the envelope's camera is not the topic's or its device's, its
                timestamp or frame number is absurd (the reason names the field).
        """
        if isinstance(envelope, DetectionEnvelope):
            envelope = Sightings.of(envelope)
        with self.lock:
            camera = self.check(envelope, topic_camera)
            tracker = self.tracker(envelope.source.device_id, camera)
            return tracker.process(envelope, self.clock())

    def check(self, envelope: Sightings, topic_camera: str | None = None) -> str:
        """The camera to file ``envelope`` under, once it passed every check.

        The topic the broker authorised is the identity: a payload that claims another
        camera, a device configured for another camera, or another device than the one
        configured for its camera, is refused.

        Raises:
            UnknownDeviceError, MessageError: see :meth:`process`.
        """
        source = envelope.source
        config = self.device_config(source.device_id)
        if config is None:
            raise UnknownDeviceError(source.device_id)
        if topic_camera is not None and source.camera_id != topic_camera:
            raise MessageError(
                f"source.camera_id: {source.camera_id!r} is not the camera of the topic it "
                f"came on (detections/{topic_camera}); refused"
            )
        camera = self.camera_for(envelope)
        if camera != source.camera_id:
            raise MessageError(
                f"source.camera_id: {source.camera_id!r} is not the camera of device "
                f"{source.device_id!r} ({camera!r} under devices:); refused"
            )
        owner = self.owner(camera)
        if owner is not None and owner != source.device_id:
            # default_device would take it in, and apply its lines to the camera's tracks
            raise MessageError(
                f"source.device_id: {source.device_id!r} is not the device of camera "
                f"{camera!r} (devices.{owner}); refused"
            )
        now = self.clock()
        ahead = now + timedelta(seconds=config.max_clock_ahead_s)
        if source.timestamp > ahead:
            raise MessageError(
                f"source.timestamp: {format_timestamp(source.timestamp)} is more than "
                f"{config.max_clock_ahead_s:g} s ahead of the engine's clock "
                f"({format_timestamp(now)}, max_clock_ahead_s); is the edge's clock right?"
            )
        if source.timestamp < config.not_before:
            raise MessageError(
                f"source.timestamp: {format_timestamp(source.timestamp)} is before "
                f"{format_timestamp(config.not_before)} (not_before): an edge clock that was "
                "never set (no NTP yet?)"
            )
        if envelope.frame.number > MAX_FRAME_NUMBER:
            raise MessageError(
                f"frame.number: {envelope.frame.number} is beyond {MAX_FRAME_NUMBER} "
                "(no frame counter gets there)"
            )
        return camera

    def owner(self, camera: str) -> str | None:
        """The configured device whose camera ``camera`` is, if any (at most one: the
        settings refuse a camera under two devices)."""
        owners = self._owners  # one read: a live change may drop it meanwhile
        if owners is None:
            owners = self._owners = {
                config.camera_id or device_id: device_id
                for device_id, config in self.settings.devices.items()
            }
        return owners.get(camera)

    def camera_for(self, envelope: Sightings) -> str:
        """The camera id the engine files an envelope under: its device's configured camera
        (``camera_id``, else the device id), else (``default_device``) the envelope's own."""
        device_id = envelope.source.device_id
        config = self.settings.devices.get(device_id)
        if config is not None:
            return config.camera_id or device_id
        return envelope.source.camera_id

    def device_of(self, camera: str) -> str | None:
        """The device last seen for ``camera``, else the configured one, else None."""
        state = self.states.get(camera)
        if state is not None and state.device_id is not None:
            return state.device_id
        return self.owner(camera)

    def end_tracks(self, camera: str) -> FrameOutcome | None:
        """End every track of ``camera`` now (its edge went offline or silent); None if it
        has none."""
        with self.lock:
            state = self.states.get(camera)
            device_id = self.device_of(camera)
            if state is None or not state.tracks or device_id is None:
                return None
            if self.device_config(device_id) is None:
                return None
            return self.tracker(device_id, camera).end_all()
