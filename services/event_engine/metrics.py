"""The engine's Prometheus metrics.

Counters are exposed with Prometheus' ``_total`` suffix (``sightline_engine_events_total``).
Camera and rule labels are bounded by the config: envelopes of unconfigured devices are
refused before anything is counted per camera.

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> metrics = EngineMetrics(registry)
    >>> metrics.edge_status("driveway", "offline")
    >>> registry.get_sample_value("sightline_engine_edge_online", {"camera": "driveway"})
    0.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from sightline.messages.event import Event


class EngineMetrics:
    """Counters the engine keeps, registered in the service's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.envelopes = Counter(
            "sightline_engine_envelopes",
            "Envelopes by outcome (next, duplicate, restart, unknown_device)",
            ["outcome"],
            registry=registry,
        )
        self.events = Counter(
            "sightline_engine_events",
            "Events published, by event type, camera and rule",
            ["event_type", "camera", "rule"],
            registry=registry,
        )
        self.checkpoint_failures = Counter(
            "sightline_engine_checkpoint_failures",
            "Checkpoint writes the disk refused (full, read-only, ...); retried with back-off",
            registry=registry,
        )
        self.unknown_devices = Counter(
            "sightline_engine_unknown_device_envelopes",
            "Envelopes from devices that are not configured",
            ["device_id"],
            registry=registry,
        )
        self.last_envelope = Gauge(
            "sightline_engine_camera_last_envelope_timestamp_seconds",
            "Wall-clock time (Unix seconds) the engine last received an envelope of the camera",
            ["camera"],
            registry=registry,
        )
        self._last_envelope: dict[str, Gauge] = {}
        self.edge_online = Gauge(
            "sightline_engine_edge_online",
            "1 while the camera's edge says online, 0 after it said offline (its last will); "
            "absent for an edge that never reported a status",
            ["camera"],
            registry=registry,
        )

    def event_published(self, event: Event) -> None:
        """Count one published event."""
        self.events.labels(str(event.event_type), event.camera_id, event.rule).inc()

    def heard(self, camera: str) -> None:
        """An envelope of ``camera`` arrived now."""
        child = self._last_envelope.get(camera)
        if child is None:  # one labelled child per camera, looked up once (every envelope)
            child = self._last_envelope[camera] = self.last_envelope.labels(camera)
        child.set_to_current_time()

    def edge_status(self, camera: str, status: str) -> None:
        """The camera's edge said ``status`` (``online`` or ``offline``)."""
        self.edge_online.labels(camera).set(1 if status == "online" else 0)
