"""Typed configuration: one small module per section, validated by pydantic-settings.

YAML (``--config FILE``) plus ``SIGHTLINE_*`` environment variables nested with ``__``
(``SIGHTLINE_MQTT__URL=mqtt://broker:1883``), secrets from files (``password_file``).
"""

from __future__ import annotations

from sightline.config.base import Anchor, HealthConfig, LogConfig, StrictModel
from sightline.config.edge import CameraConfig, DetectorConfig, FramePublishConfig, RoiConfig
from sightline.config.engine import (
    DeviceConfig,
    HomeAssistantConfig,
    LineConfig,
    MatchConfig,
    RuleConfig,
    ZoneConfig,
)
from sightline.config.frames import FrameStoreSection, RetentionConfig, RingConfig
from sightline.config.loader import load_config, read_yaml
from sightline.config.mqtt import MqttConfig, MqttTransport, TlsConfig
from sightline.config.notifier import DigestConfig, NotifierSection, SmtpConfig
from sightline.config.settings import (
    EdgeSettings,
    EngineSettings,
    FrameStoreSettings,
    NotifierSettings,
    ServiceSettings,
    SuiteSettings,
)

__all__ = [
    "Anchor",
    "CameraConfig",
    "DetectorConfig",
    "DeviceConfig",
    "DigestConfig",
    "EdgeSettings",
    "EngineSettings",
    "FramePublishConfig",
    "FrameStoreSection",
    "FrameStoreSettings",
    "HealthConfig",
    "HomeAssistantConfig",
    "LineConfig",
    "LogConfig",
    "MatchConfig",
    "MqttConfig",
    "MqttTransport",
    "NotifierSection",
    "NotifierSettings",
    "RetentionConfig",
    "RingConfig",
    "RoiConfig",
    "RuleConfig",
    "ServiceSettings",
    "SmtpConfig",
    "StrictModel",
    "SuiteSettings",
    "TlsConfig",
    "ZoneConfig",
    "load_config",
    "read_yaml",
]
