"""The edge-publisher's own Prometheus metrics (the client counts publishes and drops)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class EdgeMetrics:
    """What the capture and inference loop counts."""

    frames_processed: Counter
    detections: Counter
    frames_published: Counter
    frames_skipped: Counter
    source_dropped: Gauge
    source_reconnects: Gauge
    tracks_remembered: Gauge
    inference_seconds: Histogram

    @classmethod
    def from_registry(cls, registry: CollectorRegistry) -> EdgeMetrics:
        """Create the metrics in ``registry``."""
        return cls(
            frames_processed=Counter(
                "sightline_edge_frames_processed",
                "Frames run through the detector",
                registry=registry,
            ),
            detections=Counter(
                "sightline_edge_detections", "Objects detected", ["class_name"], registry=registry
            ),
            frames_published=Counter(
                "sightline_edge_jpeg_frames", "JPEG frames queued for publishing", registry=registry
            ),
            frames_skipped=Counter(
                "sightline_edge_jpeg_skipped",
                "JPEG frames not published: encoder_busy (behind) or offline (no broker)",
                ["reason"],
                registry=registry,
            ),
            source_dropped=Gauge(
                "sightline_edge_source_stale_dropped",
                "Live frames replaced by a newer one before inference took them",
                registry=registry,
            ),
            source_reconnects=Gauge(
                "sightline_edge_source_reconnects",
                "Times the camera was reopened",
                registry=registry,
            ),
            tracks_remembered=Gauge(
                "sightline_edge_tracks_remembered", "Tracks in the edge's memory", registry=registry
            ),
            inference_seconds=Histogram(
                "sightline_edge_inference_seconds",
                "Detector + tracker time per frame",
                buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
                registry=registry,
            ),
        )
