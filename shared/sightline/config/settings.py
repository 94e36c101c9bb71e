"""The top-level config of each service, as read from YAML and ``SIGHTLINE_*`` variables.

Each service has one settings class; ``mode: local`` (:class:`SuiteSettings`) holds them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sightline.config.base import HealthConfig, LogConfig, default_instance
from sightline.config.console import ConsoleSection
from sightline.config.edge import CameraConfig, DetectorConfig, FramePublishConfig
from sightline.config.engine import (
    DeviceConfig,
    HomeAssistantConfig,
    LineConfig,
    RuleConfig,
    ZoneConfig,
)
from sightline.config.frames import FrameStoreSection
from sightline.config.mqtt import TRANSPORTS_IMPLEMENTED, MqttConfig, MqttTransport, Transport
from sightline.config.notifier import NotifierSection
from sightline.errors import ConfigError, TopicError, TransportError
from sightline.ids import Identifier, refuse_slug_collisions, validate_camera_id
from sightline.messages.base import MessageLimits
from sightline.validation import describe_errors


class ServiceSettings(BaseSettings):
    """What every service has: broker, logs, health, state, instance name."""

    model_config = SettingsConfigDict(
        env_prefix="SIGHTLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        nested_model_default_partial_update=True,
        hide_input_in_errors=True,  # an input may be a secret; describe_errors names the key
    )

    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    state_dir: Path | None = Field(
        default=None, description="Where state survives restarts; default ./var/<service>."
    )
    instance: Identifier = Field(
        default_factory=default_instance,
        description="Names this replica in its client id and status topic; keep it stable.",
    )
    max_payload_bytes: int = Field(default=1_048_576, ge=1024, description="Larger is refused.")
    max_detections: int = Field(default=1_000, ge=1, description="Per envelope.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init arguments; environment variables override it.
        return (env_settings, init_settings, file_secret_settings)

    @property
    def limits(self) -> MessageLimits:
        """What this service accepts on the wire."""
        return MessageLimits(
            max_payload_bytes=self.max_payload_bytes, max_detections=self.max_detections
        )

    def effective_mqtt(self) -> MqttConfig:
        """The broker config, with the seed's ``output``/``input`` forms folded in."""
        return self.mqtt


def _fold_transport(mqtt: MqttConfig, transport: Transport | None, key: str) -> MqttConfig:
    if transport is None:
        return mqtt
    if transport.type not in TRANSPORTS_IMPLEMENTED:
        raise TransportError(
            f"{key}.type: transport {transport.type!r} is not implemented; "
            f"available: {', '.join(TRANSPORTS_IMPLEMENTED)}"
        )
    assert isinstance(transport, MqttTransport)
    update: dict[str, object] = {}
    if transport.broker:
        update["url"] = transport.broker
    if transport.password is not None:
        if mqtt.password is not None or mqtt.password_file is not None:
            raise ConfigError(
                [
                    f"{key}.broker: holds a password and mqtt.password or mqtt.password_file "
                    "is set too; give it once"
                ]
            )
        update["password"] = transport.password
    if transport.prefix:
        update["topic_prefix"] = transport.prefix
    try:
        return MqttConfig.model_validate({**mqtt.model_dump(), **update})
    except ValidationError as exc:
        raise ConfigError([f"{key}.broker: {line}" for line in describe_errors(exc)]) from None


def _check_cameras(cameras: list[tuple[str, str, str]], key: str) -> None:
    """``cameras``: ``(key path, owner, camera id)``, e.g. ``("devices.jetson-01.camera_id",
    "device 'jetson-01'", "driveway")``. Each camera id is no service's user name, none is used
    twice, no two are one Home Assistant id (the error names ``key``)."""
    owner: dict[str, str] = {}
    for path, who, camera in cameras:
        try:
            validate_camera_id(camera, "")
        except TopicError as exc:
            raise ValueError(f"{path}: {exc}") from None
        if camera in owner:
            raise ValueError(f"{path}: camera {camera!r} already belongs to {owner[camera]}")
        owner[camera] = who
    refuse_slug_collisions([camera for _, _, camera in cameras], key)


class EdgeSettings(ServiceSettings):
    """The edge-publisher (the seed's edge/Jetson config)."""

    mode: Literal["edge"] | None = Field(default=None, description="The seed's mode key.")
    device_id: Identifier = Field(default_factory=default_instance, description="This device.")
    camera_id: Identifier | None = Field(default=None, description="Default: device_id.")
    camera: CameraConfig = Field(default_factory=CameraConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    frames: FramePublishConfig = Field(default_factory=FramePublishConfig)
    output: Transport | None = Field(default=None, description="The seed's output block.")

    @model_validator(mode="after")
    def _instance_is_the_camera(self) -> Self:
        # An edge is one camera: its status topic and client id name that camera, which is
        # also its broker user name in mosquitto/acl.
        if "instance" not in self.model_fields_set:
            self.instance = self.effective_camera_id
        _check_cameras([self._own_camera()], "camera_id")
        return self

    def _own_camera(self) -> tuple[str, str, str]:
        path = "camera_id" if self.camera_id else "device_id"
        return path, f"device {self.device_id!r}", self.effective_camera_id

    @property
    def effective_camera_id(self) -> str:
        """``camera_id``, or the device id when none is given."""
        return self.camera_id or self.device_id

    def effective_mqtt(self) -> MqttConfig:
        """``mqtt`` with ``output: {type: mqtt, broker, topic}`` folded in.

        Raises:
            TransportError: ``output.type`` names a transport that is not implemented.
        """
        return _fold_transport(self.mqtt, self.output, "output")


class EngineSettings(ServiceSettings):
    """The event-engine (the seed's processor config)."""

    mode: Literal["processor"] | None = Field(default=None, description="The seed's mode key.")
    input: Transport | None = Field(default=None, description="The seed's input block.")
    devices: dict[Identifier, DeviceConfig] = Field(
        default_factory=dict, description="Per edge device: camera, lines, zones, rules."
    )
    default_device: DeviceConfig | None = Field(
        default=None, description="Used for devices not listed; unknown ones are refused if unset."
    )
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)

    @model_validator(mode="after")
    def _unique_cameras(self) -> Self:
        _check_cameras(_device_cameras(self.devices), "devices")
        return self

    def effective_mqtt(self) -> MqttConfig:
        """``mqtt`` with ``input: {type: mqtt, broker}`` folded in."""
        return _fold_transport(self.mqtt, self.input, "input")


def _device_cameras(devices: dict[str, DeviceConfig]) -> list[tuple[str, str, str]]:
    return [
        (
            f"devices.{device_id}" + (".camera_id" if device.camera_id else ""),
            f"device {device_id!r}",
            device.camera_id or device_id,
        )
        for device_id, device in devices.items()
    ]


class NotifierSettings(ServiceSettings):
    """The notifier."""

    notifier: NotifierSection = Field(default_factory=NotifierSection)


class FrameStoreSettings(ServiceSettings):
    """The frame-store."""

    frame_store: FrameStoreSection = Field(default_factory=FrameStoreSection)
    max_payload_bytes: int = Field(
        default=MessageLimits.for_frames().max_payload_bytes,
        ge=1024,
        description="Largest frame message (base64 JPEG); events are held to the default 1 MiB.",
    )


class SuiteSettings(EdgeSettings):
    """``mode: local``: every service on one box, from one file.

    The edge's keys sit at the top (as in the seed's ``jetson-local.yaml``); ``lines``,
    ``zones`` and ``events`` at the top are this device's, and more devices may be listed
    under ``devices:``.
    """

    mode: Literal["local"] | None = Field(default=None, description="The seed's mode key.")  # type: ignore[assignment]
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    events: list[RuleConfig] = Field(default_factory=list)
    devices: dict[Identifier, DeviceConfig] = Field(default_factory=dict)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    notifier: NotifierSection = Field(default_factory=NotifierSection)
    frame_store: FrameStoreSection = Field(default_factory=FrameStoreSection)
    console: ConsoleSection = Field(default_factory=ConsoleSection)
    broker: Literal["embedded", "external"] = Field(
        default="embedded",
        description="embedded: start a private Mosquitto on localhost unless mqtt.url is set "
        "in the file or environment; external: always use mqtt.url.",
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> Self:
        cameras = _device_cameras(self.devices)
        if self.device_id not in self.devices:
            cameras.insert(0, self._own_camera())
        _check_cameras(cameras, "devices")
        return self

    def own_device(self) -> DeviceConfig:
        """This box's device: the top-level lines, zones and rules."""
        return DeviceConfig(
            camera_id=self.effective_camera_id,
            lines=self.lines,
            zones=self.zones,
            events=self.events,
        )
