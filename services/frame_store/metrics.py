"""What the frame-store counts, in the service's Prometheus registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class FrameStoreMetrics:
    """Frames kept, snapshots stored or missing, pending events, retention removals."""

    frames: Counter
    snapshots: Counter
    snapshots_missing: Counter
    duplicates: Counter
    pending: Gauge
    retention_removed: Counter
    retention_freed_bytes: Counter

    @classmethod
    def from_registry(cls, registry: CollectorRegistry) -> FrameStoreMetrics:
        """Create the metrics in ``registry``."""
        return cls(
            frames=Counter("sightline_frames_kept", "Frames put in the ring", registry=registry),
            snapshots=Counter(
                "sightline_snapshots_stored", "Snapshots stored and announced", registry=registry
            ),
            snapshots_missing=Counter(
                "sightline_snapshots_missing",
                "Events announced without a frame",
                registry=registry,
            ),
            duplicates=Counter(
                "sightline_snapshot_duplicate_events",
                "Redelivered events ignored",
                registry=registry,
            ),
            pending=Gauge(
                "sightline_snapshot_pending_events",
                "Events waiting for their frame",
                registry=registry,
            ),
            retention_removed=Counter(
                "sightline_retention_removed_snapshots", "Snapshots deleted", registry=registry
            ),
            retention_freed_bytes=Counter(
                "sightline_retention_freed_bytes", "Bytes deleted", registry=registry
            ),
        )
