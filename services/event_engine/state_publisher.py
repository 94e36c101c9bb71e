"""Publishing each camera's retained counts for Home Assistant, at most every ``every_s``.

Example:
    >>> from sightline.config import EngineSettings
    >>> from event_engine.tracks import CameraState
    >>> sent = []
    >>> engine = Engine(EngineSettings.model_validate({"devices": {"pi": {"camera_id": "porch"}}}))
    >>> states = StatePublisher(engine, lambda topic, body, retain: sent.append(topic))
    >>> engine.states["porch"] = CameraState()
    >>> states.changed("pi", "porch"); states.flush(); sent
    ['sightline/porch/engine/state']
    >>> states.seen("pi", "porch"); states.flush(); sent  # nobody came or went
    ['sightline/porch/engine/state']
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from event_engine.discovery import camera_state, object_counts
from event_engine.engine import Engine
from sightline.topics import Topics

PublishRetained = Callable[[str, bytes, bool], object]
"""``publish(topic, payload, retain)``."""


class StatePublisher:
    """The retained JSON state per camera that Home Assistant's entities read.

    Args:
        engine: whose states are published.
        publish: the MQTT client's publish.
        topics: the deployment's topics.
        every_s: publish changed counts at most this often.
    """

    def __init__(
        self,
        engine: Engine,
        publish: PublishRetained,
        topics: Topics | None = None,
        every_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.topics = topics or Topics()
        self.every_s = every_s
        self._publish = publish
        self._changed: set[tuple[str, str]] = set()
        self._seen: set[tuple[str, str]] = set()
        self._objects: dict[str, dict[str, int]] = {}
        """Per camera, the per-class counts last published or looked at."""
        self._at = float("-inf")

    def objects_moved(self, camera: str) -> bool:
        """Whether the objects ``camera`` tracks per class changed since last asked (the
        per-class counts move without any zone or line event: someone walks in)."""
        state = self.engine.states.get(camera)
        if state is None:
            return False
        with self.engine.lock:
            objects = object_counts(state)
        if objects == self._objects.get(camera):
            return False
        self._objects[camera] = objects
        return True

    def changed(self, device_id: str, camera: str) -> None:
        """``camera``'s counts (or run) changed: publish them when due."""
        self._changed.add((device_id, camera))

    def seen(self, device_id: str, camera: str) -> None:
        """An envelope of ``camera`` changed no zone or line: its per-class counts may
        still have moved; :meth:`flush` looks (once per camera, not once per envelope)."""
        self._seen.add((device_id, camera))

    def flush(self, force: bool = True) -> None:
        """Publish the counts that changed, if due (always if ``force``)."""
        now = time.monotonic()
        if not force and now - self._at < self.every_s:
            return
        self._at = now
        while self._seen:  # pop: the handler thread may add meanwhile
            device_id, camera = self._seen.pop()
            if (device_id, camera) not in self._changed and self.objects_moved(camera):
                self._changed.add((device_id, camera))
        while self._changed:
            self.publish(*self._changed.pop())

    def publish(self, device_id: str, camera: str) -> None:
        """Publish one camera's retained counts now."""
        device = self.engine.device_config(device_id)
        state = self.engine.states.get(camera)
        if device is None or state is None:
            return
        with self.engine.lock:
            body = json.dumps(camera_state(device, state), separators=(",", ":")).encode()
            self._objects[camera] = object_counts(state)
        self._publish(str(self.topics.engine_state(camera)), body, True)
