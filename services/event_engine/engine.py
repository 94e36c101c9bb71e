"""The engine: routes envelopes by device to a :class:`CameraTracker` per (device, camera).

Example:
    >>> from sightline.config import EngineSettings
    >>> engine = Engine(EngineSettings.model_validate({"devices": {"pi": {"camera_id": "porch"}}}))
    >>> engine.device_config("pi") is not None, engine.device_config("stranger")
    (True, None)
"""

from __future__ import annotations

import threading

from event_engine.camera import CameraTracker, FrameOutcome
from event_engine.scene import Scene
from event_engine.tracks import CameraState
from sightline.config import EngineSettings
from sightline.config.engine import DeviceConfig
from sightline.messages.envelope import DetectionEnvelope
from sightline.sequence import FrameGapDetector


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
    ) -> None:
        self.settings = settings
        self.states: dict[str, CameraState] = dict(states or {})
        self.gaps = gaps or FrameGapDetector()
        self.lock = threading.Lock()
        self._trackers: dict[tuple[str, str], CameraTracker] = {}

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

    def process(self, envelope: DetectionEnvelope) -> FrameOutcome:
        """Process one envelope.

        Raises:
            UnknownDeviceError: see :meth:`tracker`.
        """
        with self.lock:
            camera = self.camera_for(envelope)
            return self.tracker(envelope.source.device_id, camera).process(envelope)

    def camera_for(self, envelope: DetectionEnvelope) -> str:
        """The camera id the engine files an envelope under: the device config's, else the
        envelope's own."""
        config = self.settings.devices.get(envelope.source.device_id)
        if config is not None and config.camera_id is not None:
            return config.camera_id
        return envelope.source.camera_id
