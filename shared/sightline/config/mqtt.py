"""How a service reaches the broker: ``mqtt:`` and the seed's ``output:``/``input:`` shapes."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from sightline.config.base import ExistingFile, StrictModel, read_secret

TRANSPORTS_IMPLEMENTED = ("mqtt",)


class TlsConfig(StrictModel):
    """TLS towards the broker (on by default for ``mqtts://``)."""

    enabled: bool | None = Field(default=None, description="Default: on for mqtts:// URLs.")
    ca_file: ExistingFile | None = Field(
        default=None, description="CA bundle; the system's if unset."
    )
    cert_file: ExistingFile | None = Field(
        default=None, description="Client certificate (mutual TLS)."
    )
    key_file: ExistingFile | None = Field(default=None, description="Client key (mutual TLS).")
    insecure: bool = Field(default=False, description="Skip host name checks (tests only).")


class MqttConfig(StrictModel):
    """The broker connection every service shares (env ``SIGHTLINE_MQTT__URL`` etc.)."""

    url: str = Field(
        default="mqtt://localhost:1883", description="mqtt://host:port or mqtts://host:port."
    )
    username: str | None = Field(default=None, description="Broker user name.")
    password: SecretStr | None = Field(
        default=None, description="Broker password; prefer password_file."
    )
    password_file: ExistingFile | None = Field(
        default=None, description="File whose first line is the broker password."
    )
    client_id: str | None = Field(
        default=None,
        max_length=128,
        description="Stable client id; default sightline-<service>-<instance>. Must be stable "
        "across restarts or the persistent session is lost.",
    )
    tls: TlsConfig = Field(default_factory=TlsConfig)
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keep-alive.")
    session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long the broker keeps this client's session (and its queued "
        "messages) while it is offline.",
    )
    receive_maximum: int = Field(
        default=200, ge=1, le=65535, description="Unacknowledged QoS 1 messages in flight to us."
    )
    topic_prefix: str = Field(default="", description="Prefix of every Sightline topic.")
    discovery_prefix: str = Field(default="homeassistant", description="Home Assistant's.")
    publish_queue_size: int = Field(
        default=10_000, ge=10, description="Messages buffered while the broker is away."
    )
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect delay.")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"{url!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"{url!r}: no host name")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError(f"{url!r}: invalid port") from None
        return url

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("password: give password or password_file, not both")
        return self

    @property
    def host(self) -> str:
        """The broker's host name."""
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 for mqtts)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if self.use_tls else 1883)

    @property
    def use_tls(self) -> bool:
        """Whether to speak TLS."""
        if self.tls.enabled is not None:
            return self.tls.enabled
        return urlsplit(self.url).scheme in ("mqtts", "ssl")

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` when that is given."""
        return read_secret(self.password, self.password_file)


class MqttTransport(StrictModel):
    """The seed's ``output: {type: mqtt, broker, topic, qos}`` / ``input: {type: mqtt, broker}``."""

    type: Literal["mqtt"]
    broker: str | None = Field(default=None, description="Same as mqtt.url.")
    topic: str = Field(
        default="detections/{camera_id}",
        description="Envelope topic; only [<prefix>/]detections/{camera_id} is supported.",
    )
    qos: Literal[1] = Field(default=1, description="Sightline delivers at least once: QoS 1.")

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str) -> str:
        if not topic.endswith("detections/{camera_id}"):
            raise ValueError(
                f"{topic!r}: must be detections/{{camera_id}}, optionally after a prefix"
            )
        return topic

    @property
    def prefix(self) -> str:
        """The topic prefix the template implies."""
        return self.topic[: -len("detections/{camera_id}")].rstrip("/")


class RedisTransport(StrictModel):
    """The seed's Redis Streams shape. Valid config, but not implemented: a service refuses it."""

    type: Literal["redis"]
    redis_url: str
    stream: str = "detections"
    consumer_group: str | None = None


class ZmqTransport(StrictModel):
    """The seed's ZeroMQ shape. Valid config, but not implemented: a service refuses it."""

    type: Literal["zmq"]
    endpoint: str
    pattern: Literal["push", "pull", "pub", "sub"] = "push"


Transport = Annotated[MqttTransport | RedisTransport | ZmqTransport, Field(discriminator="type")]
