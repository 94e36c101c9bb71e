"""Sightline's schema package: messages, topics, config, the MQTT client, logs and health.

Every Sightline service imports this package and nothing else of another service, so the
contract between services (``DESIGN.md``) lives here in one place.
"""

from __future__ import annotations

__version__ = "0.1.0"
