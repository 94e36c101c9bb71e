"""What the notifier counts beyond the MQTT client: duplicates, missing photos, bad files.

Example:
    >>> metrics = NotifierMetrics()
    >>> metrics.duplicates.inc()
    >>> metrics.duplicates._value.get()
    1.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class NotifierMetrics:
    """The notifier's own counters (unregistered when no registry is given, as in tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.duplicates = Counter(
            "sightline_notifier_duplicates",
            "Events dropped because every action they ask for was already done (redelivery).",
            registry=registry,
        )
        self.photos_missing = Counter(
            "sightline_notifier_photos_missing",
            "E-mailed events without their photo, by the internal reason.",
            ["reason"],
            registry=registry,
        )
        self.bad_state_files = Counter(
            "sightline_notifier_bad_state_files",
            "Unreadable state files set aside as <name>.bad, by kind.",
            ["kind"],
            registry=registry,
        )
