"""The deploy files agree with the code and with each other: commands, ports, health paths,
configs, images, identities, volumes, secrets.

No Docker engine or cluster runs here, so each file is parsed and checked against what the
code declares: console scripts in pyproject, health ports in sightline.health, and every
config file validated by the real settings models. The shell scripts shipped with the
layouts (balena's bundle and bridge entrypoint) are run for real; tests/layouts runs the
configs themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.settings import ConsoleSettings
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
COMPOSE = DEPLOY / "compose"
BALENA = DEPLOY / "balena"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
VERSION = "0.1.0"

SERVICES = {
    # service: (console script, extra, config file in deploy/k3s/base/config, settings)
    "edge-publisher": ("sightline-edge", "edge", "edges/jetson-01.yaml", EdgeSettings),
    "event-engine": ("sightline-engine", "engine", "engine.yaml", EngineSettings),
    "notifier": ("sightline-notifier", "notifier", "notifier.yaml", NotifierSettings),
    "frame-store": ("sightline-frames", "frames", "frames.yaml", FrameStoreSettings),
    "console": ("sightline-console", "console", "console.yaml", ConsoleSettings),
}
CENTRAL = ("event-engine", "notifier", "frame-store")

# Peak RSS (VmHWM, MiB) measured on the bundled video and model, x86-64 (deploy/k3s/README.md):
# each container's memory request covers its peak, its limit leaves headroom above it.
MEASURED_PEAK_MIB = {
    "edge-publisher": 1244,
    "event-engine": 69,
    "notifier": 53,
    "frame-store": 139,
    "console": 51,
    "mosquitto": 9,
}


def image(service: str) -> str:
    """The name every layout gives the image built from deploy/<service>.Dockerfile."""
    return f"localhost/sightline/{service}:{VERSION}"


def dockerfile(path: Path) -> dict[str, list[str]]:
    """Instructions of a Dockerfile, continuation lines joined, comments dropped."""
    text = path.read_text().replace("\\\n", " ")
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword.upper(), []).append(rest.strip())
    return instructions


def arg_defaults(instructions: dict[str, list[str]]) -> dict[str, str]:
    """``ARG NAME=default`` of a Dockerfile, quotes removed."""
    defaults = {}
    for arg in instructions.get("ARG", []):
        name, _, value = arg.partition("=")
        defaults[name] = value.strip().strip("\"'")
    return defaults


def base_images(path: Path) -> list[str]:
    """Each FROM's image with its ARG defaults filled in; build stages named by AS skipped."""
    instructions = dockerfile(path)
    defaults = arg_defaults(instructions)
    stages: set[str] = set()
    images = []
    for line in instructions["FROM"]:
        words = line.split()
        name = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), ""), words[0])
        if name not in stages:
            images.append(name)
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
    return images


def fully_qualified(name: str) -> bool:
    """``registry/…/image:tag``: Podman resolves no short names without a search registry."""
    first = name.split("/")[0]
    return "/" in name and ("." in first or ":" in first or first == "localhost")


def with_mounted_secrets(data: Any, secret: Path) -> Any:
    """The config with every password_file pointing at a real file (as when mounted)."""
    if isinstance(data, dict):
        return {
            k: (str(secret) if k == "password_file" else with_mounted_secrets(v, secret))
            for k, v in data.items()
        }
    return data


def validate(settings_cls: type[ServiceSettings], path: Path, tmp_path: Path) -> Any:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    data = with_mounted_secrets(yaml.safe_load(path.read_text()), secret)
    return load_config(settings_cls, None, **data)


def _password_files(data: Any) -> list[str]:
    if isinstance(data, dict):
        found = [v for k, v in data.items() if k == "password_file"]
        for value in data.values():
            found += _password_files(value)
        return found
    return []


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def acl_users() -> set[str]:
    acl = (REPO / "mosquitto" / "acl").read_text()
    return {line.split()[1] for line in acl.splitlines() if line.startswith("user ")}


def git_ignored(path: str) -> bool:
    result = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", path], cwd=REPO, capture_output=True
    )
    return result.returncode == 0


# --- images -----------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_each_dockerfile_runs_its_console_script_and_checks_its_health_port(service: str) -> None:
    script, extra, _, _ = SERVICES[service]
    instructions = dockerfile(DEPLOY / f"{service}.Dockerfile")
    port = DEFAULT_PORTS[service]

    assert json.loads(instructions["ENTRYPOINT"][-1]) == [script]
    assert script in SCRIPTS
    assert instructions["EXPOSE"] == [str(port)]
    assert f"127.0.0.1:{port}/healthz" in instructions["HEALTHCHECK"][-1]
    assert any(f"[{extra}]" in run for run in instructions["RUN"])
    assert extra in EXTRAS
    for copy in instructions["COPY"]:
        if copy.startswith("--from"):
            continue
        source = next(w for w in copy.split() if not w.startswith("--"))
        assert (REPO / source).exists(), f"{service}.Dockerfile copies missing {source}"


@pytest.mark.parametrize(
    "path",
    [*sorted(DEPLOY.glob("*.Dockerfile")), *sorted(BALENA.glob("*.Dockerfile"))],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_every_base_image_is_fully_qualified_so_podman_pulls_it(path: Path) -> None:
    for name in base_images(path):
        assert fully_qualified(name), f"{path.name}: FROM {name} (write docker.io/library/...)"


def test_the_edge_image_builds_cpu_torch_by_default_with_args_for_cuda_and_jetson() -> None:
    path = DEPLOY / "edge-publisher.Dockerfile"
    instructions = dockerfile(path)
    defaults = arg_defaults(instructions)
    text = path.read_text()

    # CPU wheels unless told otherwise: PyTorch's CPU index, or a +cpu local version
    index_args = [name for name in ("TORCH_INDEX", "TORCH_INDEX_URL") if name in defaults]
    cpu_index = any("download.pytorch.org/whl/cpu" in defaults[name] for name in index_args)
    cpu_spec = "+cpu" in defaults.get("TORCH_SPEC", "")
    assert cpu_index or cpu_spec, f"edge image defaults to CUDA torch: {defaults}"
    assert index_args, "no build argument to choose CUDA wheels"
    assert "BASE_IMAGE" in defaults, "no build argument for a Jetson L4T base"
    assert "L4T" in text
    assert any(
        re.search(r"pip uninstall (-y|--yes) opencv-python", run) for run in instructions["RUN"]
    )


# --- compose ----------------------------------------------------------------------------


def compose_file() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "compose.yaml").read_text()))


def compose_config(service: str) -> Path:
    compose = compose_file()
    return (COMPOSE / compose_config_mount(compose["services"][service])).resolve()


def compose_config_mount(spec: dict[str, Any]) -> str:
    """The host side of the one bind mount onto /etc/sightline/config.yaml."""
    (source,) = [
        str(v).split(":")[0]
        for v in spec["volumes"]
        if str(v).split(":")[1:2] == ["/etc/sightline/config.yaml"]
    ]
    assert str(source).startswith("./config/"), source
    return source


def test_compose_runs_the_broker_and_the_four_services_with_health_checks(tmp_path: Path) -> None:
    compose = compose_file()
    services = compose["services"]

    assert set(services) == {"mosquitto", *SERVICES}
    for service, (_, _, _, settings_cls) in SERVICES.items():
        spec = services[service]
        port = DEFAULT_PORTS[service]
        assert f"127.0.0.1:{port}/healthz" in " ".join(spec["healthcheck"]["test"])
        assert spec["command"] == ["--config", "/etc/sightline/config.yaml"]
        assert any(str(v).endswith(":/etc/sightline/config.yaml:ro") for v in spec["volumes"])
        config_file = compose_config(service)
        assert config_file.is_relative_to(COMPOSE), "compose ships its own configs"
        settings = validate(settings_cls, config_file, tmp_path)
        secret_names = {
            Path(str(p)).name for p in _password_files(yaml.safe_load(config_file.read_text()))
        }
        assert secret_names <= set(spec["secrets"]) <= set(compose["secrets"])
        assert settings.effective_mqtt().host == "mosquitto"


def test_compose_images_are_fully_qualified_and_built_from_their_dockerfiles() -> None:
    for service, spec in compose_file()["services"].items():
        assert spec["image"] == image(service), service
        assert spec["build"]["dockerfile"] == f"deploy/{service}.Dockerfile"
        assert (COMPOSE / spec["build"]["context"]).resolve() == REPO


def test_compose_gives_each_replica_a_fixed_instance(tmp_path: Path, clean_env: Any) -> None:
    services = compose_file()["services"]

    for service in CENTRAL:
        assert services[service]["environment"]["SIGHTLINE_INSTANCE"] == "main", service
    # the edge's instance is its camera id (its broker user in mosquitto/acl), set by its
    # config: never the container's random host name
    edge = validate(EdgeSettings, compose_config("edge-publisher"), tmp_path)
    assert "SIGHTLINE_INSTANCE" not in services["edge-publisher"].get("environment", {})
    assert "camera_id" in yaml.safe_load(compose_config("edge-publisher").read_text())
    assert edge.instance == edge.effective_camera_id == edge.mqtt.username


def test_compose_gives_each_service_its_own_volume() -> None:
    compose = compose_file()
    owners: dict[str, list[str]] = {}
    for service, spec in compose["services"].items():
        named = [v.split(":")[0] for v in spec["volumes"] if not v.startswith((".", "/"))]
        assert len(named) == 1, f"{service}: {spec['volumes']}"
        owners.setdefault(named[0], []).append(service)
        if service != "mosquitto":
            assert f"{named[0]}:/var/lib/sightline" in spec["volumes"]
    assert all(len(users) == 1 for users in owners.values()), owners
    assert set(owners) == set(compose["volumes"])


def test_compose_needs_no_camera_device_unless_the_usb_override_is_used() -> None:
    compose = compose_file()
    usb = yaml.safe_load((COMPOSE / "compose.usb-camera.yaml").read_text())

    assert all("devices" not in spec for spec in compose["services"].values())
    assert usb["services"]["edge-publisher"]["devices"] == ["/dev/video0:/dev/video0"]
    assert usb["services"]["edge-publisher"]["environment"]["SIGHTLINE_CAMERA__URL"] == "0"
    assert "compose.usb-camera.yaml" in (COMPOSE / "compose.yaml").read_text()


def test_compose_engine_knows_the_compose_edge(tmp_path: Path) -> None:
    edge = validate(EdgeSettings, compose_config("edge-publisher"), tmp_path)
    engine = validate(EngineSettings, compose_config("event-engine"), tmp_path)

    device = engine.devices[edge.device_id]
    assert (device.camera_id or edge.device_id) == edge.effective_camera_id


def test_secrets_and_password_files_are_ignored_by_git() -> None:
    compose = compose_file()
    secret_files = [
        str((COMPOSE / s["file"]).resolve().relative_to(REPO)) for s in compose["secrets"].values()
    ]
    passwd_mounts = [
        v.split(":")[0] for v in compose["services"]["mosquitto"]["volumes"] if v.startswith(".")
    ]
    passwd_files = [str((COMPOSE / p).resolve().relative_to(REPO)) for p in passwd_mounts]

    assert passwd_files == ["deploy/compose/passwd"]
    for path in [*secret_files, *passwd_files, "mosquitto/passwd", "deploy/balena/build/x"]:
        assert git_ignored(path), f"{path} is not ignored by git"
    assert not git_ignored("deploy/compose/compose.yaml")


def test_make_secrets_writes_every_compose_secret_and_the_broker_users(tmp_path: Path) -> None:
    work = tmp_path / "compose"
    work.mkdir()
    script = work / "make-secrets.sh"
    script.write_bytes((COMPOSE / "make-secrets.sh").read_bytes())

    subprocess.run(["sh", str(script), "driveway"], check=True, capture_output=True)

    compose = compose_file()
    for name, secret in compose["secrets"].items():
        path = work / secret["file"]
        assert path.is_file(), name
        # the services (uid 10001) read the file through its bind mount; on the host only the
        # owner can reach it, through the private folder
        assert path.stat().st_mode & 0o044 == 0o044, f"{name} is not readable by the services"
        assert path.stat().st_mode & 0o022 == 0, f"{name} is writable by others"
        assert path.parent.stat().st_mode & 0o077 == 0, "secrets/ is open to others"
    users = {line.split(":")[0] for line in (work / "passwd").read_text().splitlines()}
    assert users == {
        "engine",
        "frames",
        "notifier",
        "driveway",
        "homeassistant",
        "ops",
        "console",
    }
    assert users - {"driveway"} <= acl_users()


# --- k3s --------------------------------------------------------------------------------


def kustomization() -> dict[str, Any]:
    return dict(yaml.safe_load((K3S / "kustomization.yaml").read_text()))


def k3s_documents() -> list[dict[str, Any]]:
    documents = []
    for resource in kustomization()["resources"]:
        path = K3S / resource
        if path.is_dir():
            assert (path / "kustomization.yaml").is_file(), resource
            continue
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def workloads() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for d in k3s_documents()
        if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
    }


def container_of(name: str) -> dict[str, Any]:
    (container,) = workloads()[name]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def generated_files(name: str) -> dict[str, Path]:
    (generator,) = [g for g in kustomization()["configMapGenerator"] if g["name"] == name]
    return {key: K3S / source for key, _, source in (f.partition("=") for f in generator["files"])}


def secret_keys(name: str) -> set[str]:
    (secret,) = [
        d for d in k3s_documents() if d["kind"] == "Secret" and d["metadata"]["name"] == name
    ]
    return set(secret["stringData"])


def mounted_secret(workload: str) -> str:
    volumes = workloads()[workload]["spec"]["template"]["spec"]["volumes"]
    (secret,) = [v["secret"]["secretName"] for v in volumes if "secret" in v]
    return str(secret)


def edge_configs() -> dict[str, Path]:
    return generated_files("sightline-edges")


@pytest.mark.parametrize("service", SERVICES)
def test_k3s_probes_commands_and_configs_match_the_code(service: str, tmp_path: Path) -> None:
    script, _, config_name, settings_cls = SERVICES[service]
    container = container_of(service)
    port = DEFAULT_PORTS[service]

    assert container["command"] == [script]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port}
    if service != "edge-publisher":
        assert container["args"] == ["--config", f"/etc/sightline/{config_name}"]
        assert generated_files("sightline-config")[config_name] == K3S / "config" / config_name
    settings = validate(settings_cls, K3S / "config" / config_name, tmp_path)
    assert settings.effective_mqtt().url == "mqtt://mosquitto:1883"
    keys = secret_keys(mounted_secret(service))
    for password_file in _password_files(
        yaml.safe_load((K3S / "config" / config_name).read_text())
    ):
        assert Path(password_file).parent == Path("/run/secrets")
        assert Path(password_file).name in keys


def test_k3s_selects_each_nodes_edge_config_by_node_name() -> None:
    container = container_of("edge-publisher")
    env = {e["name"]: e for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "edges"]
    volumes = workloads()["edge-publisher"]["spec"]["template"]["spec"]["volumes"]
    (edges_volume,) = [v for v in volumes if v["name"] == "edges"]

    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["args"] == ["--config", f"{mount['mountPath']}/$(NODE_NAME).yaml"]
    assert edges_volume["configMap"]["name"] == "sightline-edges"
    # the device id comes from the node's config, never from the node name itself
    assert "SIGHTLINE_DEVICE_ID" not in env
    assert "SIGHTLINE_CAMERA_ID" not in env
    assert edge_configs(), "no edge config for any node"
    for key, path in edge_configs().items():
        assert key == path.name, key
        assert path.is_relative_to(K3S / "config" / "edges"), key
    assert set(edge_configs()) == {p.name for p in (K3S / "config" / "edges").glob("*.yaml")}


def test_k3s_engine_knows_every_node_edge_and_the_acl_lets_it_publish(tmp_path: Path) -> None:
    engine = validate(EngineSettings, K3S / "config" / "engine.yaml", tmp_path)
    cameras = []
    for node, path in edge_configs().items():
        edge = validate(EdgeSettings, path, tmp_path)
        assert edge.device_id in engine.devices, f"{node}: device {edge.device_id} unknown"
        device = engine.devices[edge.device_id]
        assert (device.camera_id or edge.device_id) == edge.effective_camera_id, node
        # mosquitto/acl: an edge's user is its camera id, and so is its status topic's instance
        assert edge.mqtt.username == edge.effective_camera_id == edge.instance, node
        cameras.append(edge.effective_camera_id)
    assert len(cameras) == len(set(cameras)), "two nodes claim one camera"


def test_k3s_every_container_has_requests_and_limits_from_measured_peaks() -> None:
    def mib(quantity: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(Mi|Gi)?", str(quantity)).groups()  # type: ignore[union-attr]
        return float(number) * {"Mi": 1, "Gi": 1024, None: 1 / 2**20}[unit]

    for name, workload in workloads().items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{name}: no {kind}"
            peak = MEASURED_PEAK_MIB[name]
            request = mib(resources["requests"]["memory"])
            limit = mib(resources["limits"]["memory"])
            assert request >= peak, f"{name}: memory request {request} MiB < peak {peak} MiB"
            assert limit >= 1.25 * peak, f"{name}: memory limit {limit} MiB too close to the peak"
            assert limit >= request, f"{name}: memory limit {limit} MiB below the request"


def test_k3s_images_are_the_ones_the_readme_builds_and_imports() -> None:
    readme = (K3S.parent / "README.md").read_text()
    (loop,) = re.findall(r"for service in ([^;]+); do\n(.*?)\ndone", readme, re.S)
    built = loop[0].split()
    steps = loop[1]

    assert (
        "podman build -f deploy/$service.Dockerfile -t localhost/sightline/$service:0.1.0 ."
        in steps
    )
    assert "k3s ctr images import" in steps
    for name, workload in workloads().items():
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert fully_qualified(container["image"]), container["image"]
        assert container["imagePullPolicy"] == "IfNotPresent", name
        if container["image"].startswith("localhost/"):
            assert container["image"] == image(name)
            assert name in built
            assert (DEPLOY / f"{name}.Dockerfile").is_file()
    assert set(built) == set(SERVICES)


def test_k3s_each_replica_has_a_stable_identity(tmp_path: Path) -> None:
    for name in CENTRAL:
        workload = workloads()[name]
        env = {e["name"]: e for e in container_of(name)["env"]}
        if workload["kind"] == "Deployment":
            # a Deployment's pod names are random: one replica, a fixed instance, no overlap
            assert workload["spec"]["replicas"] == 1, name
            assert workload["spec"]["strategy"] == {"type": "Recreate"}, name
            assert env["SIGHTLINE_INSTANCE"]["value"] == "main", name
        else:
            assert workload["kind"] == "StatefulSet"
            assert env["SIGHTLINE_INSTANCE"]["valueFrom"]["fieldRef"]["fieldPath"] == (
                "metadata.name"
            )
    edge_env = {e["name"] for e in container_of("edge-publisher")["env"]}
    assert "SIGHTLINE_INSTANCE" not in edge_env  # its camera id, from its node's config


def test_k3s_each_central_service_has_its_own_volume() -> None:
    claims = []
    for name in CENTRAL:
        volumes = workloads()[name]["spec"]["template"]["spec"]["volumes"]
        (state,) = [v for v in volumes if v["name"] == "state"]
        claims.append(state["persistentVolumeClaim"]["claimName"])
    assert len(set(claims)) == len(claims)


def test_the_edge_is_a_daemonset_selected_by_node_label() -> None:
    edge = workloads()["edge-publisher"]

    assert edge["kind"] == "DaemonSet"
    assert edge["spec"]["template"]["spec"]["nodeSelector"] == {"sightline.io/camera": "true"}


def test_the_broker_config_map_comes_from_mosquitto_dir() -> None:
    kustomization = yaml.safe_load((REPO / "mosquitto" / "kustomization.yaml").read_text())

    files = kustomization["configMapGenerator"][0]["files"]
    assert all((REPO / "mosquitto" / f).is_file() for f in files)


@pytest.mark.parametrize(
    "config",
    [
        *sorted((K3S / "config").glob("*.yaml")),
        *sorted((COMPOSE / "config").glob("*.yaml")),
    ],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_central_users_exist_in_the_acl(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    if data.get("mode") == "edge":
        return
    assert data["mqtt"]["username"] in acl_users()


@pytest.mark.parametrize(
    "config",
    [K3S / "config" / "notifier.yaml", COMPOSE / "config" / "notifier.yaml"],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_no_layout_shares_a_snapshot_disk(config: Path) -> None:
    assert "snapshots_dir" not in _keys(yaml.safe_load(config.read_text()))


# --- balena -----------------------------------------------------------------------------


def balena_file() -> dict[str, Any]:
    return dict(yaml.safe_load((BALENA / "docker-compose.yml").read_text()))


def render_bridge(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "SIGHTLINE_"))}
    return subprocess.run(
        ["sh", str(BALENA / "bridge-entrypoint.sh"), "--render"],
        env={
            **clean,
            "BRIDGE_TEMPLATE": str(REPO / "mosquitto" / "bridge-edge.conf"),
            "BRIDGE_CONF": str(tmp_path / "bridge.conf"),
            "BRIDGE_CA_FILE": str(tmp_path / "ca.crt"),
            **env,
        },
        capture_output=True,
        text=True,
    )


def directives(conf: str) -> list[list[str]]:
    return [line.split() for line in conf.splitlines() if line.strip() and line[0] != "#"]


def test_balena_runs_an_edge_with_a_bridged_broker() -> None:
    balena = balena_file()
    edge = balena["services"]["edge-publisher"]

    assert "127.0.0.1:9101/healthz" in " ".join(edge["healthcheck"]["test"])
    assert "ports" not in balena["services"]["mosquitto"], "the edge broker is not for the LAN"
    broker = dockerfile(BALENA / "broker.Dockerfile")
    assert json.loads(broker["ENTRYPOINT"][0]) == ["/usr/local/bin/sightline-bridge"]


def test_balena_build_contexts_are_inside_the_app_and_hold_what_they_copy(tmp_path: Path) -> None:
    context = tmp_path / "build"
    subprocess.run(["sh", str(BALENA / "bundle.sh"), str(context)], check=True, capture_output=True)

    for name, spec in balena_file()["services"].items():
        build = spec["build"]
        resolved = (BALENA / build["context"]).resolve()
        assert resolved.is_relative_to(BALENA), f"{name}: context {build['context']} is outside"
        assert resolved == BALENA / "build"  # what bundle.sh assembles (here: into tmp_path)
        instructions = dockerfile(context / build["dockerfile"])
        for copy in instructions.get("COPY", []):
            if copy.startswith("--from"):
                continue
            source = next(w for w in copy.split() if not w.startswith("--"))
            assert (context / source).exists(), f"{name}: {build['dockerfile']} copies {source}"
    edge_image = dockerfile(context / "edge-publisher.Dockerfile")
    assert "balena-edge.yaml /etc/sightline/config.yaml" in edge_image["COPY"]
    assert (context / "balena-edge.yaml").read_text() == (BALENA / "edge.yaml").read_text()


def test_balena_edge_broker_listens_where_the_edge_container_reaches_it(tmp_path: Path) -> None:
    rendered = render_bridge(
        tmp_path, BRIDGE_ADDRESS="central:1883", BRIDGE_PASSWORD="pw", SIGHTLINE_CAMERA_ID="gate"
    )

    assert rendered.returncode == 0, rendered.stderr
    (listener,) = [d for d in directives(rendered.stdout) if d[0] == "listener"]
    assert listener == ["listener", "1883"], "bound to one address: other containers are refused"


def test_balena_bridge_address_and_credentials_come_from_device_variables(tmp_path: Path) -> None:
    rendered = render_bridge(
        tmp_path,
        BRIDGE_ADDRESS="central.example.org:8883",
        BRIDGE_PASSWORD="s3 cr&t/",
        SIGHTLINE_CAMERA_ID="porch",
        BRIDGE_CA_CERT="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    )
    found = {d[0]: " ".join(d[1:]) for d in directives(rendered.stdout)}

    assert rendered.returncode == 0, rendered.stderr
    assert found["address"] == "central.example.org:8883"
    assert found["remote_username"] == "porch"  # mosquitto/acl: the camera's user
    assert found["remote_clientid"] == "bridge-porch"
    assert rendered.stdout.count("remote_password s3 cr&t/\n") == 1
    assert found["bridge_cafile"] == str(tmp_path / "ca.crt")
    assert "MIIB" in (tmp_path / "ca.crt").read_text()
    assert (tmp_path / "bridge.conf").stat().st_mode & 0o077 == 0

    plain = render_bridge(
        tmp_path, BRIDGE_ADDRESS="10.0.0.5:1883", BRIDGE_PASSWORD="x", BRIDGE_USERNAME="gate"
    )
    plain_found = {d[0]: " ".join(d[1:]) for d in directives(plain.stdout)}
    assert plain_found["remote_username"] == "gate"
    assert "bridge_cafile" not in plain_found
    assert "bridge_capath" not in plain_found


def test_balena_bridge_refuses_to_start_without_its_device_variables(tmp_path: Path) -> None:
    missing = render_bridge(tmp_path, BRIDGE_PASSWORD="pw", SIGHTLINE_CAMERA_ID="porch")

    assert missing.returncode != 0
    assert "BRIDGE_ADDRESS" in missing.stderr


def test_nothing_bakes_a_bridge_password_into_an_image() -> None:
    for path in [BALENA / "broker.Dockerfile", BALENA / "docker-compose.yml"]:
        assert "remote_password" not in path.read_text()
        assert "BRIDGE_PASSWORD=" not in path.read_text()
    assert "ENV BRIDGE" not in (BALENA / "broker.Dockerfile").read_text()


def test_balena_edge_config_with_its_device_variables_is_known_to_the_central_engine(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    readme = (BALENA / "README.md").read_text()
    examples = dict(re.findall(r"\| `(SIGHTLINE_\w+)` \| `([^`]+)` \|", readme))
    for key, value in examples.items():
        clean_env.setenv(key, value)
    edge = validate(EdgeSettings, BALENA / "edge.yaml", tmp_path)
    engine = validate(EngineSettings, COMPOSE / "config" / "engine.yaml", tmp_path)

    assert edge.device_id == examples["SIGHTLINE_DEVICE_ID"]
    assert edge.effective_camera_id == examples["SIGHTLINE_CAMERA_ID"] == edge.instance
    assert engine.devices[edge.device_id].camera_id == edge.effective_camera_id
    assert edge.effective_mqtt().host == "mosquitto"


def test_k3s_pods_run_as_the_images_non_root_user_with_writable_volumes() -> None:
    for service in SERVICES:
        documents = [d for d in yaml.safe_load_all((K3S / f"{service}.yaml").read_text()) if d]
        (workload,) = [
            d for d in documents if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
        ]
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert context == {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001}, service


def test_build_images_builds_every_dockerfile() -> None:
    """``tools/build-images.sh`` (and its ``--save``, for ``k3s ctr images import``) knows
    every image the deployments pull, the console's included."""
    script = (REPO / "tools" / "build-images.sh").read_text()
    [listed] = re.findall(r"^SERVICES=\(([^)]*)\)", script, flags=re.MULTILINE)
    dockerfiles = {path.name.removesuffix(".Dockerfile") for path in DEPLOY.glob("*.Dockerfile")}
    assert set(listed.split()) == dockerfiles
