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

Every camera of an edge publishes through an MQTT client of its own (or the process's);
:class:`CameraClients` puts each client's metrics on ``/metrics`` with a ``camera`` label:

    >>> from sightline.metrics import ClientMetrics
    >>> clients = CameraClients(registry)
    >>> for camera in ("driveway", "porch"):
    ...     client = ClientMetrics.from_registry(CollectorRegistry())
    ...     client.connected.set(camera == "driveway")
    ...     clients.add(camera, client.registry)
    >>> registry.get_sample_value("sightline_mqtt_connected", {"camera": "porch"})
    0.0
    >>> registry.get_sample_value("sightline_mqtt_connected", {"camera": "driveway"})
    1.0
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

CAMERA_LABEL = "camera"


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

    def count_classes(self, class_names: Iterable[str]) -> None:
        """Count one frame's detections by class (one labelled child per class in the frame,
        not one look-up per detection).

        Example:
            >>> registry = CollectorRegistry()
            >>> metrics = EdgeMetrics.from_registry(registry)
            >>> metrics.count_classes(["person", "car", "person"])
            >>> registry.get_sample_value(
            ...     "sightline_edge_detections_total", {"class_name": "person"})
            2.0
        """
        for class_name, count in Tally(class_names).items():
            self.detections.labels(class_name).inc(count)

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


class CameraClients(Collector):
    """The metrics of every camera's MQTT client, each sample labelled ``camera``.

    Each client keeps its metrics in a registry of its own; this collector, registered
    once in the service's registry, serves them as one family per metric name (so
    ``sum(sightline_mqtt_published_total)`` still counts the whole edge).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._clients: list[tuple[str, CollectorRegistry]] = []
        registry.register(self)

    def add(self, camera_id: str, client_registry: CollectorRegistry) -> None:
        """Serve the metrics in ``client_registry`` as camera ``camera_id``'s."""
        self._clients.append((camera_id, client_registry))

    def collect(self) -> Iterable[Metric]:
        """One family per name, the samples of every camera's client."""
        families: dict[str, Metric] = {}
        for camera_id, client_registry in self._clients:
            for family in client_registry.collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = Metric(family.name, family.documentation, family.type, family.unit)
                    families[family.name] = merged
                merged.samples.extend(
                    sample._replace(labels={**sample.labels, CAMERA_LABEL: camera_id})
                    for sample in family.samples
                )
        return list(families.values())


def move_metrics(metrics: object, source: CollectorRegistry) -> CollectorRegistry:
    """Move the metrics held by the dataclass ``metrics`` out of ``source`` into a registry
    of their own (returned): the process client's, to be served labelled by camera.

    Example:
        >>> from sightline.metrics import ClientMetrics
        >>> shared = CollectorRegistry()
        >>> client = ClientMetrics.from_registry(shared)
        >>> own = move_metrics(client, shared)
        >>> shared.get_sample_value("sightline_mqtt_connected"), own.get_sample_value(
        ...     "sightline_mqtt_connected")
        (None, 0.0)
    """
    target = CollectorRegistry()
    for item in fields(metrics):  # type: ignore[arg-type]
        collector = getattr(metrics, item.name)
        if isinstance(collector, MetricWrapperBase):
            source.unregister(collector)
            target.register(collector)
    return target
