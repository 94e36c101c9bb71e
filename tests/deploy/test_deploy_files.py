"""The deploy files agree with the code: commands, ports, health paths and configs.

No Docker engine or cluster runs here, so each file is parsed and checked against what the
code declares: console scripts in pyproject, health ports in sightline.health, and every
config file validated by the real settings models.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sightline.config import (
    EdgeSettings,
    EngineSettings,
    FrameStoreSettings,
    NotifierSettings,
    ServiceSettings,
    load_config,
)
from sightline.health import DEFAULT_PORTS
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
K3S = DEPLOY / "k3s" / "base"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]

SERVICES = {
    # service: (console script, extra, config file in deploy/k3s/base/config, settings)
    "edge-publisher": ("sightline-edge", "edge", "edge.yaml", EdgeSettings),
    "event-engine": ("sightline-engine", "engine", "engine.yaml", EngineSettings),
    "notifier": ("sightline-notifier", "notifier", "notifier.yaml", NotifierSettings),
    "frame-store": ("sightline-frames", "frames", "frames.yaml", FrameStoreSettings),
}


def dockerfile(service: str) -> dict[str, list[str]]:
    """Instructions of deploy/<service>.Dockerfile, continuation lines joined."""
    text = (DEPLOY / f"{service}.Dockerfile").read_text().replace("\\\n", " ")
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword.upper(), []).append(rest.strip())
    return instructions


def with_mounted_secrets(data: Any, secret: Path) -> Any:
    """The config with every password_file pointing at a real file (as when mounted)."""
    if isinstance(data, dict):
        return {
            k: (str(secret) if k == "password_file" else with_mounted_secrets(v, secret))
            for k, v in data.items()
        }
    return data


def validate(settings_cls: type[ServiceSettings], path: Path, tmp_path: Path) -> ServiceSettings:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    data = with_mounted_secrets(yaml.safe_load(path.read_text()), secret)
    return load_config(settings_cls, None, **data)


@pytest.mark.parametrize("service", SERVICES)
def test_each_dockerfile_runs_its_console_script_and_checks_its_health_port(service: str) -> None:
    script, extra, _, _ = SERVICES[service]
    instructions = dockerfile(service)
    port = DEFAULT_PORTS[service]

    assert json.loads(instructions["ENTRYPOINT"][0]) == [script]
    assert script in SCRIPTS
    assert instructions["EXPOSE"] == [str(port)]
    assert f"127.0.0.1:{port}/healthz" in instructions["HEALTHCHECK"][0]
    assert any(f"'.[{extra}]'" in run for run in instructions["RUN"])
    assert extra in EXTRAS
    for copy in instructions["COPY"]:
        source = copy.split()[0]
        assert (REPO / source).exists(), f"{service}.Dockerfile copies missing {source}"


def test_the_edge_image_has_cpu_torch_a_jetson_base_option_and_one_opencv() -> None:
    instructions = dockerfile("edge-publisher")
    text = (DEPLOY / "edge-publisher.Dockerfile").read_text()

    assert any(arg.startswith("BASE_IMAGE=python:3.11-slim") for arg in instructions["ARG"])
    assert any(arg.startswith("TORCH_SPEC=") for arg in instructions["ARG"])
    assert "L4T" in text
    assert any("pip uninstall -y opencv-python" in run for run in instructions["RUN"])


def test_compose_runs_the_broker_and_the_four_services_with_health_checks(tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]

    assert set(services) == {"mosquitto", *SERVICES}
    for service, (_, _, config_name, settings_cls) in SERVICES.items():
        spec = services[service]
        port = DEFAULT_PORTS[service]
        assert f"127.0.0.1:{port}/healthz" in " ".join(spec["healthcheck"]["test"])
        assert spec["command"] == ["--config", "/etc/sightline/config.yaml"]
        (config,) = spec["configs"]
        config_file = (DEPLOY / "compose" / compose["configs"][config["source"]]["file"]).resolve()
        assert config_file == (K3S / "config" / config_name).resolve()
        settings = validate(settings_cls, config_file, tmp_path)
        secret_names = {
            Path(str(p)).name for p in _password_files(yaml.safe_load(config_file.read_text()))
        }
        assert secret_names <= set(spec["secrets"]) <= set(compose["secrets"])
        assert settings.effective_mqtt().host == "mosquitto"


def _password_files(data: Any) -> list[str]:
    if isinstance(data, dict):
        found = [v for k, v in data.items() if k == "password_file"]
        for value in data.values():
            found += _password_files(value)
        return found
    return []


def k3s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K3S / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization["resources"]:
        path = K3S / resource
        if path.is_dir():
            assert (path / "kustomization.yaml").is_file(), resource
            continue
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


@pytest.mark.parametrize("service", SERVICES)
def test_k3s_probes_commands_and_configs_match_the_code(service: str, tmp_path: Path) -> None:
    script, _, config_name, settings_cls = SERVICES[service]
    workloads = {
        d["metadata"]["name"]: d
        for d in k3s_documents()
        if d["kind"] in ("Deployment", "DaemonSet")
    }
    workload = workloads[service]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    port = DEFAULT_PORTS[service]

    assert container["command"] == [script]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["args"] == ["--config", f"/etc/sightline/{config_name}"]
    generator = yaml.safe_load((K3S / "kustomization.yaml").read_text())["configMapGenerator"][0]
    assert f"{config_name}=config/{config_name}" in generator["files"]
    settings = validate(settings_cls, K3S / "config" / config_name, tmp_path)
    assert settings.effective_mqtt().url == "mqtt://mosquitto:1883"
    secret_keys = {
        key for d in k3s_documents() if d["kind"] == "Secret" for key in d.get("stringData", {})
    }
    for password_file in _password_files(
        yaml.safe_load((K3S / "config" / config_name).read_text())
    ):
        assert Path(password_file).parent == Path("/run/secrets")
        assert Path(password_file).name in secret_keys


def test_the_edge_is_a_daemonset_selected_by_node_label() -> None:
    (edge,) = [d for d in k3s_documents() if d["metadata"]["name"] == "edge-publisher"]

    assert edge["kind"] == "DaemonSet"
    assert edge["spec"]["template"]["spec"]["nodeSelector"] == {"sightline.io/camera": "true"}


def test_the_broker_config_map_comes_from_mosquitto_dir() -> None:
    kustomization = yaml.safe_load((REPO / "mosquitto" / "kustomization.yaml").read_text())

    files = kustomization["configMapGenerator"][0]["files"]
    assert all((REPO / "mosquitto" / f).is_file() for f in files)


def test_balena_runs_an_edge_with_a_bridged_broker() -> None:
    balena = yaml.safe_load((DEPLOY / "balena" / "docker-compose.yml").read_text())
    edge = balena["services"]["edge-publisher"]

    assert "127.0.0.1:9101/healthz" in " ".join(edge["healthcheck"]["test"])
    assert edge["build"]["dockerfile"] == "deploy/edge-publisher.Dockerfile"
    assert balena["services"]["mosquitto"]["command"][-1].endswith("bridge-edge.conf")
    assert "bridge-edge.conf" in (DEPLOY / "mosquitto.Dockerfile").read_text()
    assert re.search(r"SIGHTLINE_MQTT__URL", json.dumps(edge["environment"]))
