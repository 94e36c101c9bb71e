"""What the frame-store counts, in the service's Prometheus registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class FrameStoreMetrics:
    """Frames kept, snapshots stored or missing, pending events, retention removals, failed
    writes, cameras served, the size of the pictures announcements carry.

    No metric has a camera or device label: an unknown id can never add a series."""

    frames: Counter
    snapshots: Counter
    snapshots_missing: Counter
    duplicates: Counter
    pending: Gauge
    retention_removed: Counter
    retention_freed_bytes: Counter
    write_failures: Counter
    storage_writable: Gauge
    cameras: Gauge
    announced_image_bytes: Histogram
    announced_without_image: Counter

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
            write_failures=Counter(
                "sightline_snapshot_write_failures",
                "Writes of pictures or state that failed and are retried (disk full, read-only)",
                registry=registry,
            ),
            storage_writable=_gauge_at(
                Gauge(
                    "sightline_snapshot_storage_writable",
                    "1 while writes succeed, 0 from a failed write until one succeeds",
                    registry=registry,
                ),
                1,
            ),
            cameras=Gauge(
                "sightline_frame_store_cameras",
                "Cameras served (each has a frame ring and a Home Assistant entity)",
                registry=registry,
            ),
            announced_image_bytes=Histogram(
                "sightline_snapshot_announced_image_bytes",
                "Size of the JPEG an announcement carries",
                buckets=(25e3, 50e3, 100e3, 150e3, 200e3, 300e3, 500e3, 700e3),
                registry=registry,
            ),
            announced_without_image=Counter(
                "sightline_snapshot_announced_without_image",
                "Stored snapshots announced without their picture (disabled or too large)",
                registry=registry,
            ),
        )


def _gauge_at(gauge: Gauge, value: float) -> Gauge:
    gauge.set(value)
    return gauge
