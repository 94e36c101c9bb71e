"""The detector registry: every event type is decided by exactly one detector, found by its
:class:`EventType`; the detectors are the modules of ``event_engine.detectors`` (discovered,
no list); their per-zone or per-line settings are checked by their own models, with errors
naming the key path, in the config file and in a live change alike."""

from __future__ import annotations

import json
import pkgutil
from typing import Any, ClassVar

import pytest
from pydantic import Field, ValidationError

import sightline.config.engine as engine_config
from event_engine import detectors
from event_engine.detectors import Detector, detector_for, register, registry
from event_engine.discovery import discovery_configs
from event_engine.reconfigure import parse_proposal
from sightline.config import EngineSettings
from sightline.config.base import StrictModel
from sightline.config.engine import DeviceConfig
from sightline.errors import MessageError
from sightline.messages.event import EventType
from sightline.topics import Topics
from sightline.validation import describe_errors

ZONE = {"name": "porch", "x1_pct": 0, "y1_pct": 0, "x2_pct": 50, "y2_pct": 50, "dwell_s": 5}
LINE = {"type": "vertical", "position_pct": 50, "name": "gate"}


@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_is_decided_by_one_registered_detector(kind: EventType) -> None:
    detector = detector_for(kind)

    assert kind in detector.event_types
    assert issubclass(detector, Detector)
    assert detector.watches("at_line") or detector.watches("at_zone"), detector.name


def test_the_registry_is_every_module_of_the_package_and_nothing_else() -> None:
    modules = {m.name for m in pkgutil.iter_modules(detectors.__path__)}
    registered = {cls.__module__.rsplit(".", 1)[1] for cls in registry().values()}

    assert registered == modules
    assert list(registry()) == list(EventType)
    assert len({cls.name for cls in registry().values()}) == len(set(registry().values()))


def test_a_second_detector_for_a_decided_type_is_refused_and_changes_nothing() -> None:
    before = dict(registry())

    class Rival(Detector):
        name = "rival"
        event_types: ClassVar[tuple[EventType, ...]] = (EventType.LINE_CROSS,)

    with pytest.raises(TypeError, match="LINE_CROSS is decided by LineCross already"):
        register(Rival)
    assert dict(registry()) == before


class Probe(StrictModel):
    seconds: float = Field(default=10, gt=0)


@pytest.fixture
def probe_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """A detector named ``probe`` takes options on zones (as a detector module would)."""
    detectors.load()
    monkeypatch.setattr(engine_config, "_DETECTOR_OPTIONS", {"line": {}, "zone": {"probe": Probe}})


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"zones": [{**ZONE, "options": {"probe": {"seconds": 0}}}]},
            "zones[0].options.probe.seconds: Input should be greater than 0",
        ),
        (
            {"zones": [{**ZONE, "options": {"probe": {"secs": 3}}}]},
            "zones[0].options.probe.secs: unknown key (check its spelling and its place in the file)",
        ),
        (
            {"zones": [{**ZONE, "options": {"prob": {}}}]},
            "zones[0].options.prob: no zone detector takes options (known: probe)",
        ),
        (
            {"lines": [{**LINE, "options": {"probe": {}}}]},
            "lines[0].options.probe: no line detector takes options (known: none)",
        ),
        (
            {"zones": [{**ZONE, "options": {"probe": 5}}]},
            "zones[0].options.probe: Input should be a valid dictionary",
        ),
    ],
)
def test_detector_options_are_checked_by_their_model_naming_the_key_path(
    probe_options: None, section: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        DeviceConfig.model_validate(section)
    assert describe_errors(caught.value) == [problem]

    payload = json.dumps({"device_id": "cam", "config": section}).encode()
    with pytest.raises(MessageError) as live:
        parse_proposal("cam", payload)
    assert str(live.value) == f"config.{problem}"


def test_good_detector_options_are_kept_for_the_detector(probe_options: None) -> None:
    config = DeviceConfig.model_validate({"zones": [{**ZONE, "options": {"probe": {}}}]})

    assert config.zones[0].options == {"probe": {}}
    assert DeviceConfig.model_validate({"zones": [ZONE]}).zones[0].options is None


def test_once_the_engine_is_loaded_an_unknown_options_name_is_refused() -> None:
    detectors.load()
    with pytest.raises(ValidationError) as caught:
        DeviceConfig.model_validate({"zones": [{**ZONE, "options": {"nosuch": {}}}]})

    (problem,) = describe_errors(caught.value)
    assert problem.startswith("zones[0].options.nosuch: no zone detector takes options")


def _rule_of(kind: EventType) -> dict[str, Any]:
    place = kind.info.reference
    return {"name": f"on-{kind.topic_level}", "match": {"event_type": kind.value, place: "x"}}


@pytest.mark.parametrize("kind", list(EventType))
def test_home_assistant_shows_every_event_type_from_the_registry(kind: EventType) -> None:
    device = {
        "zones": [{**ZONE, "name": "x"}] if kind.info.reference == "zone" else [],
        "lines": [{**LINE, "name": "x"}] if kind.info.reference == "line" else [],
        "events": [_rule_of(kind)],
    }
    settings = EngineSettings.model_validate({"devices": {"cam": device}})
    configs = {c.topic: c.payload for c in discovery_configs(settings, Topics(), "online")}

    entity = configs[f"homeassistant/event/sightline_cam/rule_on_{kind.topic_level}/config"]
    assert entity["event_types"] == [kind.info.ha_event_type]
    assert entity["icon"] == kind.info.icon
    assert entity["state_topic"] == f"events/cam/{kind.topic_level}"
