"""The edge's settings: one ``camera:`` as before, or several under ``cameras:``.

One edge process may read several cameras with one model. Each entry of ``cameras`` is a
camera section plus the camera's id (its topics, envelopes and broker user), optionally its
own ROI and broker login. ``camera:`` with ``camera_id`` (or the device id) still works
unchanged and is the plan of a one-camera edge.

Example:
    >>> settings = EdgePublisherSettings.model_validate({"device_id": "jetson-01",
    ...     "cameras": [{"camera_id": "driveway", "url": "a.mp4"},
    ...                 {"camera_id": "porch", "url": "rtsp://cam2/s"}]})
    >>> [(plan.camera_id, plan.own_client) for plan in settings.camera_plans()]
    [('driveway', False), ('porch', True)]
    >>> settings.instance
    'driveway'
    >>> one = EdgePublisherSettings.model_validate({"device_id": "jetson-01"})
    >>> [(plan.camera_id, plan.own_client) for plan in one.camera_plans()]
    [('jetson-01', False)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator

from sightline.config.edge import CameraConfig, EdgeCameraConfig, RoiConfig
from sightline.config.mqtt import MqttConfig
from sightline.config.settings import EdgeSettings
from sightline.errors import ConfigError, TopicError
from sightline.ids import refuse_slug_collisions, validate_camera_id
from sightline.validation import describe_errors


@dataclass(frozen=True)
class CameraPlan:
    """What one camera of this process needs: its id, section, ROI and broker config.

    ``own_client``: the camera publishes through a connection of its own (its own last
    will on ``sightline/edge-publisher/<camera_id>/status``); otherwise through the
    process's connection, whose instance is this camera.
    """

    camera_id: str
    camera: CameraConfig
    roi: RoiConfig | None
    mqtt: MqttConfig
    own_client: bool


class EdgePublisherSettings(EdgeSettings):
    """:class:`~sightline.config.settings.EdgeSettings` plus ``cameras``."""

    cameras: list[EdgeCameraConfig] = Field(
        default_factory=list,
        description="Several cameras in this process (instead of camera/camera_id); each "
        "gets its own reader, tracker, frame numbers, rate limits, run id and status.",
    )

    @model_validator(mode="before")
    @classmethod
    def _instance_is_the_first_camera(cls, data: Any) -> Any:
        # Unless given, the instance (client id, status topic, broker user) is the first
        # camera's, as a one-camera edge's is its camera's.
        if isinstance(data, dict) and "instance" not in data:
            cameras = data.get("cameras")
            if isinstance(cameras, list) and cameras and isinstance(cameras[0], dict):
                first = cameras[0].get("camera_id")
                if isinstance(first, str):
                    return {**data, "instance": first}
        return data

    @model_validator(mode="after")
    def _several_cameras(self) -> Self:
        if not self.cameras:
            return self
        if "camera" in self.model_fields_set or self.camera_id is not None:
            raise ValueError("cameras: give either camera/camera_id or cameras, not both")
        seen: set[str] = set()
        for index, entry in enumerate(self.cameras):
            try:
                validate_camera_id(entry.camera_id, "")
            except TopicError as exc:
                raise ValueError(f"cameras.{index}.camera_id: {exc}") from None
            if entry.camera_id in seen:
                raise ValueError(
                    f"cameras.{index}.camera_id: camera {entry.camera_id!r} is listed twice"
                )
            seen.add(entry.camera_id)
        refuse_slug_collisions(seen, "cameras")
        for index, entry in enumerate(self.cameras):
            if entry.camera_id == self.instance and entry.mqtt is not None:
                raise ValueError(
                    f"cameras.{index}.mqtt: camera {entry.camera_id!r} is this edge's instance "
                    "and logs in with the edge's mqtt section; set its login there"
                )
        return self

    @property
    def camera_ids(self) -> list[str]:
        """Every camera this process reads."""
        return [entry.camera_id for entry in self.cameras] or [self.effective_camera_id]

    def camera_plans(self) -> list[CameraPlan]:
        """One plan per camera, in config order.

        Raises:
            ConfigError: a camera's broker login does not make a valid broker config.
        """
        mqtt = self.effective_mqtt()
        if not self.cameras:
            plan = CameraPlan(self.effective_camera_id, self.camera, self.detector.roi, mqtt, False)
            return [plan]
        return [
            CameraPlan(
                entry.camera_id,
                entry.section(),
                entry.roi or self.detector.roi,
                mqtt if entry.camera_id == self.instance else _camera_mqtt(mqtt, entry, index),
                entry.camera_id != self.instance,
            )
            for index, entry in enumerate(self.cameras)
        ]


def _camera_mqtt(mqtt: MqttConfig, entry: EdgeCameraConfig, index: int) -> MqttConfig:
    """The edge's broker config with the camera's login and client id.

    Example:
        >>> entry = EdgeCameraConfig(camera_id="porch", mqtt={"username": "porch"})
        >>> config = _camera_mqtt(MqttConfig(client_id="edge-1"), entry, 1)
        >>> config.username, config.client_id
        ('porch', 'edge-1-porch')
    """
    update: dict[str, object] = {}
    if mqtt.client_id is not None:
        update["client_id"] = f"{mqtt.client_id}-{entry.camera_id}"
    login = entry.mqtt
    if login is not None:
        if login.username is not None:
            update["username"] = login.username
        if login.password is not None or login.password_file is not None:
            update["password"] = login.password
            update["password_file"] = login.password_file
    if not update:
        return mqtt
    try:
        return MqttConfig.model_validate({**mqtt.model_dump(), **update})
    except ValidationError as exc:
        raise ConfigError(
            [f"cameras.{index}.mqtt: {line}" for line in describe_errors(exc)]
        ) from None
