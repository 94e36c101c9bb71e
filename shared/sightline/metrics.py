"""Prometheus metrics of the shared parts (the MQTT client); services add their own.

Each service owns a :class:`prometheus_client.CollectorRegistry`, so several services (or
tests) in one process never collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ClientMetrics:
    """What the MQTT client counts."""

    registry: CollectorRegistry
    connected: Gauge
    received: Counter
    handled: Counter
    dead_letters: Counter
    retries: Counter
    published: Counter
    dropped: Counter
    queue_depth: Gauge
    handle_seconds: Histogram
    publish_refused: Counter
    unacked: Gauge

    @classmethod
    def from_registry(cls, registry: CollectorRegistry) -> ClientMetrics:
        """Create the client's metrics in ``registry``."""
        return cls(
            registry=registry,
            connected=Gauge(
                "sightline_mqtt_connected", "1 while connected to the broker", registry=registry
            ),
            received=Counter(
                "sightline_mqtt_received", "Messages received", ["subscription"], registry=registry
            ),
            handled=Counter(
                "sightline_mqtt_handled", "Messages handled and acknowledged", registry=registry
            ),
            dead_letters=Counter(
                "sightline_dead_letters",
                "Messages refused with a dead letter",
                ["kind"],
                registry=registry,
            ),
            retries=Counter(
                "sightline_mqtt_handler_retries", "Handler asked to retry later", registry=registry
            ),
            published=Counter(
                "sightline_mqtt_published", "Messages handed to the broker", registry=registry
            ),
            dropped=Counter(
                "sightline_publish_dropped",
                "Messages dropped because the publish queue was full",
                ["kind"],
                registry=registry,
            ),
            queue_depth=Gauge(
                "sightline_publish_queue_depth",
                "Messages waiting for the broker",
                registry=registry,
            ),
            handle_seconds=Histogram(
                "sightline_mqtt_handle_seconds",
                "Time in a message handler",
                registry=registry,
                buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5),
            ),
            publish_refused=Counter(
                "sightline_mqtt_publish_refused",
                "Publishes the broker answered with a failure reason code (e.g. Not authorized)",
                ["reason"],
                registry=registry,
            ),
            unacked=Gauge(
                "sightline_mqtt_unacked",
                "Messages received and not yet acknowledged (bounded by mqtt.receive_maximum)",
                registry=registry,
            ),
        )
