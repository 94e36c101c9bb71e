"""The engine's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


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
            "sightline_engine_events", "Events published", ["event_type"], registry=registry
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
