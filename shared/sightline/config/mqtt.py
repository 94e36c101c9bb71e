"""How a service reaches the broker: ``mqtt:`` and the seed's ``output:``/``input:`` shapes.

A user name and password written into the URL (``mqtt://edge:s3cret@broker``) are used, as
if given as ``username`` and ``password``, and taken out of the URL: the URL as stored,
shown, dumped or logged never holds the password, nor does any config error.

Example:
    >>> config = MqttConfig(url="mqtt://edge:s3cret@broker:1883")
    >>> config.url, config.username, config.resolved_password()
    ('mqtt://broker:1883', 'edge', 's3cret')
    >>> "s3cret" in repr(config) + str(config.model_dump())
    False
    >>> masked("mqtt://edge:s3cret@broker")
    'mqtt://edge:***@broker'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from sightline.config.base import ExistingFile, StrictModel, read_secret

TRANSPORTS_IMPLEMENTED = ("mqtt",)


def masked(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        scheme, userinfo = "", head
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{tail}"


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user info, user name, password)``, percent-decoded.

    >>> split_credentials("mqtts://a%40b:p%3Aw@host:8883/")
    ('mqtts://host:8883/', 'a@b', 'p:w')
    >>> split_credentials("mqtt://host")
    ('mqtt://host', None, None)
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None, None
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url, None, None
    user, colon, password = userinfo.partition(":")
    clean = f"{scheme}://{hostport}{slash}{path}"
    return clean, unquote(user) if user else None, unquote(password) if colon else None


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

    model_config = ConfigDict(hide_input_in_errors=True)

    url: str = Field(
        default="mqtt://localhost:1883",
        description="mqtt://host:port or mqtts://host:port; a user:password@ in it is used as "
        "username and password (prefer password_file).",
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
        default=200,
        ge=1,
        le=65535,
        description="Messages received and not yet acknowledged, at most: asked of the broker "
        "and kept to by the client itself (Mosquitto 2.0 does not).",
    )
    topic_prefix: str = Field(default="", description="Prefix of every Sightline topic.")
    discovery_prefix: str = Field(default="homeassistant", description="Home Assistant's.")
    publish_queue_size: int = Field(
        default=10_000, ge=10, description="Messages buffered while the broker is away."
    )
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect delay.")

    @model_validator(mode="before")
    @classmethod
    def _credentials_from_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        url, user, password = split_credentials(data["url"])
        if user is None and password is None:
            return data
        data = {**data, "url": url}
        if user is not None:
            given = data.get("username")
            if given is not None and given != user:
                raise ValueError(
                    f"username: {given!r} differs from the user name {user!r} in url; give it once"
                )
            data["username"] = user
        if password is not None:
            if data.get("password") is not None or data.get("password_file") is not None:
                raise ValueError(
                    "password: url holds a password and password or password_file is set too; "
                    "give it once (password_file is best)"
                )
            data["password"] = password
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        shown = masked(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"{shown!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"{shown!r}: no host name")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError(f"{shown!r}: invalid port") from None
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

    model_config = ConfigDict(hide_input_in_errors=True)

    type: Literal["mqtt"]
    broker: str | None = Field(
        default=None, description="Same as mqtt.url (a password in it is kept apart)."
    )
    topic: str = Field(
        default="detections/{camera_id}",
        description="Envelope topic; only [<prefix>/]detections/{camera_id} is supported.",
    )
    qos: Literal[1] = Field(default=1, description="Sightline delivers at least once: QoS 1.")

    _password: SecretStr | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _password_apart(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Self:
        password = None
        if isinstance(data, dict) and isinstance(data.get("broker"), str):
            url, user, password = split_credentials(data["broker"])
            if user is not None:
                scheme, _, rest = url.partition("://")
                url = f"{scheme}://{quote(user, safe='')}@{rest}"
            data = {**data, "broker": url}
        model: Self = handler(data)
        if password is not None:
            model._password = SecretStr(password)
        return model

    @property
    def password(self) -> SecretStr | None:
        """The password that ``broker`` held, if any."""
        return self._password

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
