"""The edge-publisher's own Prometheus metrics (the client counts publishes and drops).

The camera reader keeps its own running totals of reconnects and stale frames;
:meth:`EdgeMetrics.observe_source` turns them into counters (``..._total``), so
``rate()`` and ``increase()`` work on them.

Example:
    >>> registry = CollectorRegistry()
    >>> metrics = EdgeMetrics.from_registry(registry)
    >>> metrics.observe_source(stale_dropped=5, reconnects=1)
    >>> metrics.observe_source(stale_dropped=7, reconnects=1)
    >>> registry.get_sample_value("sightline_edge_source_stale_dropped_total")
    7.0
    >>> registry.get_sample_value("sightline_edge_source_reconnects_total")
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class EdgeMetrics:
    """What the capture and inference loop counts."""

    frames_processed: Counter
    detections: Counter
    frames_published: Counter
    frames_skipped: Counter
    source_dropped: Counter
    source_reconnects: Counter
    tracks_remembered: Gauge
    inference_seconds: Histogram
    _source_seen: dict[str, int] = field(default_factory=dict, compare=False)

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
            source_dropped=Counter(
                "sightline_edge_source_stale_dropped",
                "Live frames replaced by a newer one before inference took them",
                registry=registry,
            ),
            source_reconnects=Counter(
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

    def observe_source(self, stale_dropped: int, reconnects: int) -> None:
        """Advance the counters to the reader's running totals (a smaller total is a new
        reader: its whole total is new)."""
        for name, counter, total in (
            ("stale_dropped", self.source_dropped, stale_dropped),
            ("reconnects", self.source_reconnects, reconnects),
        ):
            seen = self._source_seen.get(name, 0)
            step = total - seen if total >= seen else total
            if step:
                counter.inc(step)
            self._source_seen[name] = total
