"""Publishes the Home Assistant discovery configs, and removes the ones no longer configured.

The topics published last time are remembered in a file under the state directory, so a
zone, line or camera dropped from the config gets an empty retained config (HA removes it).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from event_engine.discovery import DiscoveryConfig
from sightline.atomic import write_json
from sightline.mqtt import MqttClient

log = logging.getLogger(__name__)


class DiscoveryAnnouncer:
    """Announces ``configs`` on ``client``; ``record`` remembers what was announced."""

    def __init__(self, client: MqttClient, configs: list[DiscoveryConfig], record: Path) -> None:
        self.client = client
        self.configs = configs
        self.record = record
        self.keep: set[str] = set()
        """Topics never emptied although not in ``configs`` (a replica: the configs of
        cameras another replica owns)."""

    def _previous(self) -> set[str]:
        try:
            return set(json.loads(self.record.read_text()))
        except (OSError, ValueError):
            return set()

    def announce(self) -> None:
        """Publish every config (retained) and an empty retained config for removed ones."""
        current = {config.topic for config in self.configs}
        for topic in sorted(self._previous() - current - self.keep):
            self.client.publish(topic, b"", retain=True)
        for config in self.configs:
            self.client.publish(config.topic, config.encode(), retain=True)
        try:
            write_json(self.record, sorted(current))
        except OSError as exc:  # only needed to remove configs dropped later: not fatal
            log.warning(
                "cannot record the discovery topics in %s: %s",
                self.record,
                exc.strerror or exc,
                extra={"path": str(self.record)},
            )
        log.info("home assistant discovery published", extra={"configs": len(self.configs)})
