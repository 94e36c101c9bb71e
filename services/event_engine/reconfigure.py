"""Live changes to a camera's lines, zones and rules: no restart, nothing lost.

Two ways in, one way to apply:

* the console publishes, retained, ``sightline/event-engine/config/<camera>/set`` with
  ``{"device_id": "...", "config": {<the device's section of the engine config>}}``;
  only the console's broker account may write there (``mosquitto/acl``);
* a user who edits the YAML sends SIGHUP, or just saves the file: the engine notices the
  change within a second.

A change is checked like the YAML (the key path of every problem is named), its geometry
is built, it is saved under ``state_dir/config/<camera>.json`` (so a restart keeps it),
then swapped in between two envelopes. The camera's state stays: tracks, counters and
checkpoints are kept; only what a track remembered of a line or zone whose shape changed
(its side, its visit) is forgotten, so a moved line never counts a crossing nobody made.
The engine answers, retained, on ``sightline/event-engine/config/<camera>/state`` with the
effective config, whether the last change applied, and why not.

The latest edit wins: a saved console change is dropped at start-up when the YAML's
section of that device changed since; a retained ``set`` already applied (or superseded
by the YAML) is not applied again when the broker hands it back after a reconnect.

Example:
    >>> proposal = parse_proposal("porch", b'{"device_id": "pi", "config": {"lines": []}}')
    >>> proposal.device_id, proposal.config.camera_id
    ('pi', 'porch')
    >>> parse_proposal("porch", b'{"device_id": "pi", "config": {"zones": [{}]}}')
    Traceback (most recent call last):
    ...
    sightline.errors.MessageError: config.zones[0].name: a zone needs a name (or the seed's description)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from event_engine.discovery import shared_entity
from event_engine.engine import Engine
from event_engine.scene import Scene
from event_engine.shapes import fingerprints, reconcile
from sightline.atomic import write_json
from sightline.config import EngineSettings, load_config
from sightline.config.engine import DeviceConfig
from sightline.errors import ConfigError, MessageError, RetryLater
from sightline.ids import validate_camera_id
from sightline.timestamps import format_timestamp, utc_now
from sightline.topics import Topics
from sightline.validation import describe_errors

log = logging.getLogger(__name__)

SERVICE = "event-engine"
CONFIG_DIR = "config"
"""Under the engine's state_dir: one ``<camera>.json`` per camera changed live."""
MAX_PROPOSAL_BYTES = 256 * 1024
NOMINAL_SIZE = (1920, 1080)
"""Shapes in percent scale with the frame, so one nominal size finds every problem."""


def config_topic(topics: Topics, camera: str, leaf: str) -> str:
    """``sightline/event-engine/config/<camera>/<leaf>`` (``set`` or ``state``)."""
    status = str(topics.status(SERVICE, CONFIG_DIR))  # .../sightline/event-engine/config/status
    return f"{status[: -len('/status')]}/{camera}/{leaf}"


def digest(payload: bytes) -> str:
    """A short, stable fingerprint of a payload or a config section."""
    return hashlib.sha256(payload).hexdigest()[:32]


def section_digest(config: DeviceConfig | None) -> str:
    """The fingerprint of a device's section (None: the device is not configured)."""
    if config is None:
        return ""
    return digest(config.model_dump_json(exclude_none=True).encode())


@dataclass(frozen=True)
class Proposal:
    """A checked change: the device and its new section."""

    device_id: str
    config: DeviceConfig


def parse_proposal(camera: str, payload: bytes) -> Proposal:
    """Check a ``set`` payload for ``camera`` (the topic's camera is the identity).

    Raises:
        MessageError: naming the field (``config.lines[0].points: ...``).
    """
    if len(payload) > MAX_PROPOSAL_BYTES:
        raise MessageError(f"payload: {len(payload)} bytes; at most {MAX_PROPOSAL_BYTES}")
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise MessageError(f"payload: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MessageError("payload: must be an object with device_id and config")
    unknown = sorted(set(document) - {"device_id", "config"})
    if unknown:
        raise MessageError(f"{unknown[0]}: unknown key (expected device_id and config)")
    device_id = document.get("device_id")
    if not isinstance(device_id, str):
        raise MessageError("device_id: required, the device whose section this is")
    try:
        validate_camera_id(device_id)
    except ValueError as exc:
        raise MessageError(f"device_id: {exc}") from None
    section = document.get("config")
    if not isinstance(section, dict):
        raise MessageError("config: required, an object (the device's section of the config)")
    claimed = section.get("camera_id")
    if claimed is None and device_id != camera:
        section = {**section, "camera_id": camera}
    elif (claimed or device_id) != camera:
        raise MessageError(
            f"config.camera_id: {claimed!r} is not the camera of the topic it came on "
            f"({camera!r}); refused"
        )
    try:
        config = DeviceConfig.model_validate(section)
    except ValidationError as exc:
        raise MessageError("; ".join(f"config.{line}" for line in describe_errors(exc))) from None
    try:
        Scene.from_config(config, *NOMINAL_SIZE)
    except ValueError as exc:
        raise MessageError(f"config.{exc}") from None
    return Proposal(device_id, config)


class SavedChanges:
    """The live changes kept under ``state_dir/config``: ``<camera>.json`` each.

    A file holds the device id, its section, the fingerprint of the YAML section it
    replaced and the ``set`` payload's fingerprint (so a retained ``set`` is applied once).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, camera: str) -> Path:
        return self.directory / f"{camera}.json"

    def save(self, camera: str, record: dict[str, Any]) -> None:
        """Write one camera's record atomically and durably (raises OSError)."""
        write_json(self.path(camera), record)

    def load(self) -> dict[str, dict[str, Any]]:
        """Camera -> record; an unreadable file is set aside as ``.bad`` and said."""
        records: dict[str, dict[str, Any]] = {}
        if not self.directory.is_dir():
            return records
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(path.read_bytes())
                if not isinstance(record, dict):
                    raise ValueError("not an object")
                records[path.stem] = record
            except (OSError, ValueError) as exc:
                log.error("unreadable live change %s set aside: %s", path, exc)
                with contextlib.suppress(OSError):
                    path.rename(path.with_suffix(".bad"))
        return records


class Reconfigurer:
    """Applies live changes to ``engine``; one at a time, between envelopes."""

    def __init__(
        self,
        engine: Engine,
        saved: SavedChanges,
        publish: Callable[[str, bytes, bool], object],
        topics: Topics,
        config_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.saved = saved
        self.publish = publish
        self.topics = topics
        self.config_path = config_path
        self.on_change: list[Callable[[], None]] = []
        """Called after each applied change (e.g. announce Home Assistant discovery again)."""
        self._yaml = dict(engine.settings.devices)
        self._mtime = self._stat()
        self._applied_sets: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self._reload = threading.Event()
        self._lock = threading.Lock()

    # --- start-up ---------------------------------------------------------------------

    def restore(self) -> None:
        """Apply the changes saved by earlier runs, unless the YAML changed since."""
        for camera, record in self.saved.load().items():
            self._applied_sets[camera] = str(record.get("set_digest", ""))
            device_id = str(record.get("device_id", ""))
            if section_digest(self._yaml.get(device_id)) != record.get("yaml_digest"):
                log.warning(
                    "camera %s: the YAML's devices.%s changed since the live change saved "
                    "in %s; the YAML wins",
                    camera,
                    device_id,
                    self.saved.path(camera),
                    extra={"camera_id": camera},
                )
                continue
            try:
                proposal = parse_proposal(camera, json.dumps(record.get("proposal")).encode())
                self._check_cameras(proposal)
                # the checkpoint's fingerprints say which shapes the tracks' memory is
                # of: the tracker, built again, forgets what is stale (event_engine.shapes)
                self.engine.replace_device(proposal.device_id, proposal.config)
            except MessageError as exc:
                log.error("camera %s: saved live change refused: %s", camera, exc.reason)
                continue
            log.info(
                "camera %s: live change from %s applied",
                camera,
                self.saved.path(camera),
                extra={"camera_id": camera},
            )

    def publish_all(self) -> None:
        """Say every camera's effective config (retained)."""
        for camera in sorted(self._cameras()):
            self.publish_state(camera)

    # --- from the broker ----------------------------------------------------------------

    def on_set(self, topic: str, payload: bytes, retain: bool) -> None:
        """Handle ``.../config/<camera>/set``.

        Raises:
            MessageError: a bad change (dead-lettered; the state topic says why).
            RetryLater: it could not be saved; not acknowledged, tried again.
        """
        camera = topic.split("/")[-2]
        if not payload:
            return  # the console cleared its retained change: the current config stays
        fingerprint = digest(payload)
        with self._lock:
            if retain and self._applied_sets.get(camera) == fingerprint:
                return  # handed back after a reconnect: already applied (or superseded)
            try:
                proposal = parse_proposal(camera, payload)
                self._check_cameras(proposal)
            except MessageError as exc:
                self._errors[camera] = exc.reason
                self._applied_sets[camera] = fingerprint
                self.publish_state(camera)
                raise
            record = {
                "device_id": proposal.device_id,
                "proposal": json.loads(payload),
                "set_digest": fingerprint,
                "yaml_digest": section_digest(self._yaml.get(proposal.device_id)),
                "saved_at": format_timestamp(utc_now()),
            }
            try:
                self.saved.save(camera, record)
            except OSError as exc:
                self._errors[camera] = f"cannot save the change: {exc.strerror or exc}"
                self.publish_state(camera)
                raise RetryLater(f"camera {camera}: {self._errors[camera]}") from None
            self._swap(proposal.device_id, proposal.config)
            self._applied_sets[camera] = fingerprint
            self._errors.pop(camera, None)
        log.info("camera %s: live change applied", camera, extra={"camera_id": camera})
        self.publish_state(camera)
        self._changed()

    # --- from the YAML --------------------------------------------------------------------

    def request_reload(self) -> None:
        """Ask for the YAML to be read again (SIGHUP); done by :meth:`poll`."""
        self._reload.set()

    def poll(self) -> bool:
        """Read the YAML again if asked to or if it changed; True if anything applied."""
        mtime = self._stat()
        if not self._reload.is_set() and mtime == self._mtime:
            return False
        self._reload.clear()
        self._mtime = mtime
        if self.config_path is None:
            return False
        try:
            settings = load_config(EngineSettings, self.config_path)
        except ConfigError as exc:
            log.error(
                "config %s not applied, the engine goes on as it was: %s", self.config_path, exc
            )
            return False
        changed = False
        with self._lock:
            for device_id in sorted(set(settings.devices) | set(self._yaml)):
                new = settings.devices.get(device_id)
                if new == self._yaml.get(device_id):
                    continue  # this section was not edited: a live change of it stays
                if new is not None:
                    try:
                        Scene.from_config(new, *NOMINAL_SIZE)
                    except ValueError as exc:
                        log.error("devices.%s not applied: %s", device_id, exc)
                        continue
                self._swap(device_id, new)
                camera = (new or self._yaml[device_id]).camera_id or device_id
                self._discard_saved(camera)
                if new is None:
                    del self._yaml[device_id]
                else:
                    self._yaml[device_id] = new
                self._errors.pop(camera, None)
                changed = True
                log.info("devices.%s reloaded from %s", device_id, self.config_path)
        if changed:
            self.publish_all()
            self._changed()
        return changed

    # --- helpers --------------------------------------------------------------------------

    def publish_state(self, camera: str) -> None:
        """Publish ``camera``'s effective config and the outcome of its last change."""
        device_id = self.engine.device_of(camera)
        config = self.engine.settings.devices.get(device_id) if device_id else None
        state = {
            "camera_id": camera,
            "device_id": device_id,
            "applied": camera not in self._errors,
            "error": self._errors.get(camera),
            "config": config.model_dump(mode="json", exclude_none=True) if config else None,
            "timestamp": format_timestamp(utc_now()),
        }
        self.publish(config_topic(self.topics, camera, "state"), json.dumps(state).encode(), True)

    def _cameras(self) -> set[str]:
        return {d.camera_id or i for i, d in self.engine.settings.devices.items()}

    def _check_cameras(self, proposal: Proposal) -> None:
        camera = proposal.config.camera_id or proposal.device_id
        for device_id, device in self.engine.settings.devices.items():
            if device_id != proposal.device_id and (device.camera_id or device_id) == camera:
                raise MessageError(
                    f"device_id: camera {camera!r} belongs to device {device_id!r}; refused"
                )
        problem = shared_entity(
            self.engine.settings, proposal.device_id, proposal.config, self.topics
        )
        if problem is not None:  # (a device id may hold dots: no key path to cut up)
            raise MessageError(f"config.zones: {problem}")

    def _swap(self, device_id: str, config: DeviceConfig | None) -> None:
        old = self.engine.settings.devices.get(device_id)
        self.engine.replace_device(device_id, config)
        if config is not None:
            state = self.engine.states.get(config.camera_id or device_id)
            if state is not None:  # at once (the tracker, built again, would do it too)
                with self.engine.lock:
                    if not state.shapes and old is not None:
                        # a checkpoint from before fingerprints: its memory is of the old
                        state.shapes = fingerprints(old)
                    reconcile(state, config)

    def _discard_saved(self, camera: str) -> None:
        try:
            os.unlink(self.saved.path(camera))
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.saved.path(camera), exc)

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    def _stat(self) -> float | None:
        if self.config_path is None:
            return None
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return None
