"""Each shipped layout, run from its own config files as a deployer would.

For k3s, compose, balena (its edge, its edge broker bridged to a compose centre), the
edge + central docs and the one-box (``sightline --config``): the services run as separate
processes (the one box: under its supervisor), each with its own state directory, against the
real Mosquitto config with its ACL and password file (the one box: its private broker) and a
real SMTP server that wants the configured login over STARTTLS. The only changes are what a
deployer sets: broker address and ports, the camera (a 40-frame clip of the bundled video),
the SMTP host, port and CA, and where volumes and secrets are.

The edge runs the clip, is restarted and runs it again. Then: both runs' events are on the
bus with distinct ids, every one reaches the JSON log once and gets a snapshot announcement,
every immediate e-mail carries its photo, no service dead-letters anything, and once the
edge has stopped the camera's Home Assistant entities are unavailable or its zones empty.

The runs are queued together on the session's background pool (tests/support/background.py)
and run two at a time, each on its own brokers, processes and directories; each test checks
its own layout's outcome.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from sightline.broker import free_port
from sightline.homeassistant import node_id
from tests.layouts.support import (
    Merged,
    Mosquitto,
    Mounts,
    Observer,
    Peaks,
    add_broker_user,
    announced,
    camera_entities,
    clean_environment,
    events_between,
    image_parts,
    iter_blocks,
    json_log_ids,
    make_clip,
    new_secret,
    unavailable,
    wait_for,
    zones_clear,
)
from tests.notifier.support import SmtpServer, TlsSetup
from tests.suite.demo_run import DEMO_RUN, demo_selected, start_demo
from tests.support.background import Background
from tests.support.paths import REPO
from tests.support.service_process import ServiceProcess
from tests.support.tls import make_certificate

DEPLOY = REPO / "deploy"
K3S = DEPLOY / "k3s" / "base"
COMPOSE = DEPLOY / "compose"
BALENA = DEPLOY / "balena"
MODULES = {
    "edge-publisher": "edge_publisher",
    "event-engine": "event_engine",
    "notifier": "notifier",
    "frame-store": "frame_store",
}
CENTRAL = ("event-engine", "frame-store", "notifier")
CAMERA = "driveway"
EDGE_RUN_TIMEOUT_S = 180
SETTLE_TIMEOUT_S = 60
HA_TIMEOUT_S = 25  # track_timeout_s (5 s) by wall clock, with room for a loaded machine
PEAKS = Peaks()


@dataclass
class Service:
    """One service of a layout: its shipped config and its manifest's environment."""

    name: str
    config: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Layout:
    """A shipped layout as files: the edge, the centre, and how its secrets are made."""

    name: str
    edge: Service
    central: list[Service]
    secrets: str  # "compose": deploy/compose/make-secrets.sh; "files": one per password_file
    edge_broker: bool = False  # balena: the edge talks to a local broker bridged to the centre
    device_variables: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a layout run produced."""

    run_events: list[dict[str, Any]]
    json_log: list[str]
    announced: set[str]
    emails: list[Any]
    dead_letters: list[str]
    ha_stale: str | None
    exit_codes: dict[str, list[int]]
    logs: dict[str, Path]


# --- the layouts, read from the shipped files ------------------------------------------


def k3s_env(workload: str) -> dict[str, str]:
    """The literal env of a k3s workload's container (valueFrom entries are the cluster's)."""
    path = K3S / f"{workload}.yaml"
    (document,) = [
        d
        for d in yaml.safe_load_all(path.read_text())
        if d and d["kind"] != "PersistentVolumeClaim"
    ]
    (container,) = document["spec"]["template"]["spec"]["containers"]
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def compose_service(name: str) -> Service:
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    spec = compose["services"][name]
    (source,) = [
        COMPOSE / str(v).split(":")[0]
        for v in spec["volumes"]
        if str(v).split(":")[1:2] == ["/etc/sightline/config.yaml"]
    ]
    env = {k: str(v) for k, v in spec.get("environment", {}).items()}
    return Service(name, source, env)


def k3s_layout() -> Layout:
    edge = yaml.safe_load((K3S / "edge-publisher.yaml").read_text())
    (container,) = edge["spec"]["template"]["spec"]["containers"]
    node = "jetson-01"  # the node this edge pod is scheduled on
    config = container["args"][-1].replace("$(NODE_NAME)", node)
    assert config.startswith("/etc/sightline/edges/")
    return Layout(
        "k3s",
        Service(
            "edge-publisher",
            K3S / "config" / "edges" / Path(config).name,
            k3s_env("edge-publisher"),
        ),
        [
            Service("event-engine", K3S / "config" / "engine.yaml", k3s_env("event-engine")),
            Service("frame-store", K3S / "config" / "frames.yaml", k3s_env("frame-store")),
            Service("notifier", K3S / "config" / "notifier.yaml", k3s_env("notifier")),
        ],
        secrets="files",
    )


def compose_layout() -> Layout:
    return Layout(
        "compose",
        compose_service("edge-publisher"),
        [compose_service(name) for name in CENTRAL],
        secrets="compose",
    )


def balena_layout() -> Layout:
    balena = yaml.safe_load((BALENA / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in balena["services"]["edge-publisher"]["environment"].items()}
    readme = (BALENA / "README.md").read_text()
    variables = dict(re.findall(r"\| `(SIGHTLINE_\w+)` \| `([^`]+)` \|", readme))
    return Layout(
        "balena",
        Service("edge-publisher", BALENA / "edge.yaml", env),
        [compose_service(name) for name in CENTRAL],
        secrets="compose",
        edge_broker=True,
        device_variables=variables,
    )


def docs_layout(tmp_path: Path) -> Layout:
    blocks = dict(iter_blocks((REPO / "docs" / "edge-and-central.md").read_text()))
    files = {}
    for name in ("jetson-01.yaml", "processor.yaml", "frames.yaml", "notifier.yaml"):
        assert name in blocks, f"docs/edge-and-central.md shows no {name}"
        files[name] = tmp_path / "docs" / name
        files[name].parent.mkdir(parents=True, exist_ok=True)
        files[name].write_text(blocks[name])
    return Layout(
        "docs",
        Service("edge-publisher", files["jetson-01.yaml"]),
        [
            Service("event-engine", files["processor.yaml"]),
            Service("frame-store", files["frames.yaml"]),
            Service("notifier", files["notifier.yaml"]),
        ],
        secrets="files",
    )


# --- shared fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployer's camera: the first 40 frames of the bundled video."""
    return make_clip(
        REPO / "samples" / "pedestrians.avi", tmp_path_factory.mktemp("clip") / "camera.avi"
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The SMTP server's certificate (its own CA)."""
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="module", autouse=True)
def report_peaks() -> Iterator[None]:
    yield
    if PEAKS.mib:
        print("\npeak RSS (VmHWM) per service, MiB:", json.dumps(PEAKS.mib, sort_keys=True))


# --- running a layout -----------------------------------------------------------------


def config_data(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def make_secrets(layout: Layout, root: Path, mounts: Mounts) -> tuple[Path, dict[str, str]]:
    """The broker's password file and each user's password, made the layout's way."""
    secrets_dir = mounts.paths["/run/secrets"]
    passwd = root / "broker" / "passwd"
    passwd.parent.mkdir(parents=True, exist_ok=True)
    passwords: dict[str, str] = {}
    if layout.secrets == "compose":
        work = root / "compose"
        work.mkdir(parents=True)
        shutil.copy(COMPOSE / "make-secrets.sh", work / "make-secrets.sh")
        subprocess.run(
            ["sh", str(work / "make-secrets.sh"), CAMERA], check=True, capture_output=True
        )
        shutil.copytree(work / "secrets", secrets_dir, dirs_exist_ok=True)
        shutil.copy(work / "passwd", passwd)
        for user, name in (("ops", "mqtt_ops"), (CAMERA, "mqtt_edge")):
            passwords[user] = (work / "secrets" / name).read_text().splitlines()[0]
    for service in [layout.edge, *layout.central]:
        data = config_data(service.config)
        mqtt = data.get("mqtt", {})
        if "username" in mqtt and "password_file" in mqtt:
            path = Path(mounts.apply(mqtt["password_file"]))
            if not path.exists():
                password = new_secret(path)
                add_broker_user(passwd, mqtt["username"], password)
            passwords[mqtt["username"]] = path.read_text().splitlines()[0]
    if "ops" not in passwords:
        passwords["ops"] = "ops-" + os.urandom(4).hex()
        add_broker_user(passwd, "ops", passwords["ops"])
    notifier = next(s for s in layout.central if s.name == "notifier")
    smtp = config_data(notifier.config)["notifier"]["smtp"]
    smtp_file = Path(mounts.apply(smtp["password_file"]))
    passwords["smtp"] = new_secret(smtp_file)  # the deployer writes the mail password
    passwords["smtp_user"] = smtp["username"]
    return passwd, passwords


def production_broker(root: Path, passwd: Path) -> Mosquitto:
    """mosquitto/mosquitto.conf with its ACL and the layout's password file."""
    text = (REPO / "mosquitto" / "mosquitto.conf").read_text()
    text = text.replace("/mosquitto/config/passwd", str(passwd))
    text = text.replace("/mosquitto/config/acl", str(REPO / "mosquitto" / "acl"))
    broker = Mosquitto(text, root)
    broker.start()
    return broker


def edge_broker(root: Path, central: Mosquitto, username: str, password: str) -> Mosquitto:
    """The balena edge broker: the config its entrypoint renders from device variables."""
    root.mkdir(parents=True, exist_ok=True)
    rendered = subprocess.run(
        ["sh", str(BALENA / "bridge-entrypoint.sh"), "--render"],
        env={
            **clean_environment(),
            "BRIDGE_TEMPLATE": str(REPO / "mosquitto" / "bridge-edge.conf"),
            "BRIDGE_CONF": str(root / "bridge.conf"),
            "BRIDGE_ADDRESS": f"127.0.0.1:{central.port}",
            "BRIDGE_PASSWORD": password,
            "SIGHTLINE_CAMERA_ID": username,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    broker = Mosquitto(rendered.stdout, root)
    broker.start()
    return broker


def service_env(
    service: Service, mounts: Mounts, mqtt_url: str, config: dict[str, Any], extra: dict[str, str]
) -> tuple[dict[str, str], int]:
    """The manifest's env, mounted, plus the deployer's overrides; and the health port."""
    port = free_port()
    env = {**clean_environment(), **{k: mounts.apply(v) for k, v in service.env.items()}}
    if "output" in config:  # the seed's edge shape names the broker there
        env["SIGHTLINE_OUTPUT__BROKER"] = mqtt_url
    elif "input" in config:
        env["SIGHTLINE_INPUT__BROKER"] = mqtt_url
    else:
        env["SIGHTLINE_MQTT__URL"] = mqtt_url
    env["SIGHTLINE_HEALTH__PORT"] = str(port)
    env["SIGHTLINE_HEALTH__HOST"] = "127.0.0.1"
    env.update(extra)
    return env, port


def run_layout(layout: Layout, root: Path, clip: Path, certificate: tuple[Path, Path]) -> Outcome:
    processes: dict[str, ServiceProcess] = {}
    brokers: list[Mosquitto] = []
    observer: Observer | None = None
    smtp: SmtpServer | None = None
    exit_codes: dict[str, list[int]] = {}
    logs: dict[str, Path] = {}
    secrets_dir = root / "secrets"

    def mounts_for(service: str) -> Mounts:
        return Mounts(
            {
                "/var/lib/sightline": root / service / "state",
                "/run/secrets": secrets_dir,
                "/etc/sightline": secrets_dir,
                "/app": REPO,
            }
        )

    try:
        passwd, passwords = make_secrets(layout, root, mounts_for("secrets"))
        central = production_broker(root / "broker", passwd)
        brokers.append(central)
        observer = Observer(central.url, "ops", passwords["ops"])
        smtp = SmtpServer(
            TlsSetup("starttls", *certificate, (passwords["smtp_user"], passwords["smtp"]))
        )
        smtp.start()
        edge_url = central.url
        if layout.edge_broker:
            edge_local = edge_broker(root / "edge-broker", central, CAMERA, passwords[CAMERA])
            brokers.append(edge_local)
            edge_url = edge_local.url

        for service in layout.central:
            mounts = mounts_for(service.name)
            config_path = mounts.config(service.config, root / service.name / "config.yaml")
            data = config_data(config_path)
            extra: dict[str, str] = {}
            if "state_dir" not in data and "SIGHTLINE_STATE_DIR" not in service.env:
                extra["SIGHTLINE_STATE_DIR"] = str(root / service.name / "state")
            if service.name == "notifier":
                extra |= {
                    "SIGHTLINE_NOTIFIER__SMTP__HOST": "127.0.0.1",
                    "SIGHTLINE_NOTIFIER__SMTP__PORT": str(smtp.port),
                    "SIGHTLINE_NOTIFIER__SMTP__CA_FILE": str(certificate[0]),
                }
            env, port = service_env(service, mounts, central.url, data, extra)
            logs[service.name] = root / service.name / "service.log"
            process = ServiceProcess(
                MODULES[service.name],
                ["--config", str(config_path)],
                env,
                logs[service.name],
                health_port=port,
            )
            process.start()
            processes[service.name] = process
        assert wait_for(
            lambda: all(
                observer is not None
                and any(
                    m.payload == b"online" for m in observer.on(rf"sightline/{s.name}/[^/]+/status")
                )
                for s in layout.central
            ),
            60,
        ), _logs_tail(logs)

        edge = layout.edge
        mounts = mounts_for(edge.name)
        edge_config = mounts.config(edge.config, root / edge.name / "config.yaml")
        edge_data = config_data(edge_config)
        extra = {**layout.device_variables, "SIGHTLINE_CAMERA__URL": str(clip)}
        if "state_dir" not in edge_data and "SIGHTLINE_STATE_DIR" not in edge.env:
            extra["SIGHTLINE_STATE_DIR"] = str(root / edge.name / "state")
        windows = []
        for run in (1, 2):
            env, port = service_env(edge, mounts, edge_url, edge_data, extra)
            logs[f"edge run {run}"] = root / edge.name / f"run{run}.log"
            started = time.monotonic()
            process = ServiceProcess(
                MODULES[edge.name],
                ["--config", str(edge_config)],
                env,
                logs[f"edge run {run}"],
                health_port=port,
            )
            process.start()
            assert process.process is not None
            code = process.wait(EDGE_RUN_TIMEOUT_S)
            exit_codes.setdefault("edge-publisher", []).append(code)
            windows.append((started, time.monotonic()))
        return _collect(observer, smtp, json_log_dir(layout, root), windows, exit_codes, logs)
    finally:
        for name, process in processes.items():
            if process.process is not None and process.process.poll() is None:
                PEAKS.record(name, process.process.pid)
                try:
                    exit_codes.setdefault(name, []).append(process.stop())
                except Exception:
                    process.close()
        if observer is not None:
            observer.close()
        if smtp is not None:
            smtp.stop()
        for broker in reversed(brokers):
            PEAKS.record("mosquitto", broker.pid)
            broker.stop()


def json_log_dir(layout: Layout, root: Path) -> Path:
    notifier = next(s for s in layout.central if s.name == "notifier")
    directory = config_data(notifier.config)["notifier"]["json_log"]["directory"]
    return Path(Mounts({"/var/lib/sightline": root / "notifier" / "state"}).apply(directory))


def settle(observer: Observer | Merged, smtp: SmtpServer, log_dir: Path, since: float) -> None:
    """Wait until the centre has done its work for every event on the bus since ``since``."""

    def every(kind: str) -> set[str]:
        events = events_between(observer, CAMERA, since, float("inf")).values()
        return {e["event_id"] for e in events if e["actions"].get(kind, kind == "snapshot")}

    def settled() -> bool:
        return (
            every("json_log") <= set(json_log_ids(log_dir))
            and every("snapshot") <= announced(observer, CAMERA)
            and len(smtp.inbox.messages) >= len(every("email_immediate"))
        )

    wait_for(settled, SETTLE_TIMEOUT_S)


def _collect(
    observer: Observer | Merged,
    smtp: SmtpServer,
    log_dir: Path,
    windows: list[tuple[float, float]],
    exit_codes: dict[str, list[int]],
    logs: dict[str, Path],
) -> Outcome:
    settle(observer, smtp, log_dir, windows[0][0])

    # the second run's window stays open while the centre finishes its work
    run_events = [
        events_between(observer, CAMERA, windows[0][0], windows[1][0]),
        events_between(observer, CAMERA, windows[1][0], float("inf")),
    ]
    node = node_id(CAMERA)

    def ha_stale() -> str | None:
        entities = camera_entities(observer, node)
        if not entities:
            return "no Home Assistant entities for the camera"
        if all(unavailable(observer, e) for e in entities) or zones_clear(observer, CAMERA):
            return None
        state = observer.last(f"sightline/{CAMERA}/engine/state")
        return f"entities available and zones not empty: {state!r}"

    wait_for(lambda: ha_stale() is None, HA_TIMEOUT_S)
    return Outcome(
        run_events=[dict(r) for r in run_events],
        json_log=json_log_ids(log_dir),
        announced=announced(observer, CAMERA),
        emails=list(smtp.inbox.messages),
        dead_letters=[
            f"{m.topic}: {m.payload[:300]!r}" for m in observer.on(r"sightline/deadletter/.+")
        ],
        ha_stale=ha_stale(),
        exit_codes=exit_codes,
        logs=logs,
    )


def _logs_tail(logs: dict[str, Path]) -> str:
    return "\n".join(
        f"--- {name}\n{path.read_text(errors='replace')[-1500:]}"
        for name, path in logs.items()
        if path.exists()
    )


def problems(outcome: Outcome) -> list[str]:
    """Every way the layout failed its user, in words."""
    found = []
    first, second = outcome.run_events
    if not first or not second:
        found.append(f"events per run: {len(first)}, {len(second)} (expected some in both)")
    reused = set(first) & set(second)
    if reused:
        found.append(f"{len(reused)} events of the restarted edge reuse ids of the first run")
    every = {**first, **second}
    logged = outcome.json_log
    want_log = [i for i, e in every.items() if e["actions"].get("json_log")]
    missing_log = [i for i in want_log if i not in logged]
    if missing_log:
        found.append(f"{len(missing_log)} of {len(want_log)} events missing from the JSON log")
    doubled = {i for i in logged if logged.count(i) > 1}
    if doubled:
        found.append(f"{len(doubled)} events logged twice")
    want_snapshot = [i for i, e in every.items() if e["actions"].get("snapshot", True)]
    unannounced = [i for i in want_snapshot if i not in outcome.announced]
    if unannounced:
        found.append(
            f"{len(unannounced)} of {len(want_snapshot)} events have no snapshot announcement"
        )
    immediate = [i for i, e in every.items() if e["actions"].get("email_immediate")]
    if not immediate:
        found.append("no event asked for an immediate e-mail: the photo check would be empty")
    if len(outcome.emails) < len(immediate):
        found.append(f"{len(outcome.emails)} e-mails for {len(immediate)} immediate events")
    without_photo = [m["Subject"] for m in outcome.emails if not image_parts(m)]
    if without_photo:
        found.append(f"{len(without_photo)} e-mails without a photo: {without_photo[:3]}")
    if outcome.dead_letters:
        found.append(f"dead letters: {outcome.dead_letters[:3]}")
    if outcome.ha_stale:
        found.append(f"Home Assistant after the edge stopped: {outcome.ha_stale}")
    bad_exits = {k: v for k, v in outcome.exit_codes.items() if any(c != 0 for c in v)}
    if bad_exits:
        found.append(f"exit codes: {bad_exits}")
    return found


LAYOUTS = ["k3s", "compose", "balena", "docs"]
ONE_BOX = "one-box"
RESULT_TIMEOUT_S = 900  # the run's own waits are bounded; this also covers its queueing


def run_name(layout: str) -> str:
    """The background run of a layout."""
    return f"layout {layout}"


def run_shipped(name: str, root: Path, clip: Path, certificate: tuple[Path, Path]) -> Outcome:
    """Build the layout ``name`` from its files and run it under ``root``."""
    layout = {
        "k3s": k3s_layout,
        "compose": compose_layout,
        "balena": balena_layout,
        "docs": lambda: docs_layout(root),
    }[name]()
    return run_layout(layout, root, clip, certificate)


def selected_layouts(session: pytest.Session) -> list[str]:
    """The layouts this session's tests check, in their order."""
    names = []
    for item in session.items:
        if item.path != Path(__file__):
            continue
        callspec = getattr(item, "callspec", None)
        names.append(callspec.params["name"] if callspec is not None else ONE_BOX)
    return names


def runner(
    name: str, root: Path, clip: Path, certificate: tuple[Path, Path]
) -> Callable[[], Outcome]:
    """What the background runs for ``name``."""
    if name == ONE_BOX:
        return lambda: run_one_box(root, clip, certificate)
    return lambda: run_shipped(name, root, clip, certificate)


@pytest.fixture(scope="module")
def layout_runs(
    request: pytest.FixtureRequest,
    background: Background,
    tmp_path_factory: pytest.TempPathFactory,
    clip: Path,
    certificate: tuple[Path, Path],
) -> Iterator[Background]:
    """Every selected layout's run queued at once, two running side by side (the demo's
    first when its tests are selected too); each test reads its own layout's outcome.

    Each run is still its own processes, brokers and state directories; the module ends
    only when every run it queued has ended, so no other test shares the machine with them.
    """
    queued = []
    if demo_selected(request.session):
        start_demo(background, tmp_path_factory)
        queued.append(DEMO_RUN)
    for name in selected_layouts(request.session):
        root = tmp_path_factory.mktemp(f"layout-{name}")
        background.start(run_name(name), runner(name, root, clip, certificate))
        queued.append(run_name(name))
    yield background
    background.cancel(queued)  # only a session stopping early leaves some not begun
    background.wait(queued, RESULT_TIMEOUT_S)


def outcome_of(
    name: str, runs: Background, tmp_path: Path, clip: Path, certificate: tuple[Path, Path]
) -> Outcome:
    """The layout's outcome (run here if the module did not queue it)."""
    runs.start(run_name(name), runner(name, tmp_path, clip, certificate))
    outcome: Outcome = runs.result(run_name(name), RESULT_TIMEOUT_S)
    return outcome


@pytest.mark.parametrize("name", LAYOUTS)
def test_a_shipped_layout_runs_an_edge_restart_end_to_end(
    name: str,
    layout_runs: Background,
    tmp_path: Path,
    clip: Path,
    certificate: tuple[Path, Path],
) -> None:
    outcome = outcome_of(name, layout_runs, tmp_path, clip, certificate)

    found = problems(outcome)
    assert not found, "\n".join([f"{name}:", *found, _logs_tail(outcome.logs)])


def test_the_one_box_runs_an_edge_restart_end_to_end(
    layout_runs: Background, tmp_path: Path, clip: Path, certificate: tuple[Path, Path]
) -> None:
    outcome = outcome_of(ONE_BOX, layout_runs, tmp_path, clip, certificate)

    found = problems(outcome)
    assert not found, "\n".join(["one box:", *found, _logs_tail(outcome.logs)])


def run_one_box(tmp_path: Path, clip: Path, certificate: tuple[Path, Path]) -> Outcome:
    """``sightline --config`` from docs/one-box.md, run twice (the edge restarted)."""
    blocks = dict(iter_blocks((REPO / "docs" / "one-box.md").read_text()))
    etc = tmp_path / "etc"
    mounts = Mounts({"/etc/sightline": etc})
    config = tmp_path / "sightline.yaml"
    config.write_text(mounts.apply(blocks["sightline.yaml"]))
    smtp_section = config_data(config)["notifier"]["smtp"]
    password = new_secret(Path(smtp_section["password_file"]))
    state = tmp_path / "box"
    env = {
        **clean_environment(),
        "SIGHTLINE_CAMERA__URL": str(clip),
        "SIGHTLINE_STATE_DIR": str(state),
        "SIGHTLINE_NOTIFIER__SMTP__HOST": "127.0.0.1",
        "SIGHTLINE_NOTIFIER__SMTP__PORT": "0",
        "SIGHTLINE_NOTIFIER__SMTP__CA_FILE": str(certificate[0]),
        "SIGHTLINE_HEALTH__ENABLED": "false",  # the services' fixed ports may be taken here
        "SIGHTLINE_CONSOLE__PORT": "0",  # so may the console's 8090 (another session's box)
    }
    smtp = SmtpServer(TlsSetup("starttls", *certificate, (smtp_section["username"], password)))
    env["SIGHTLINE_NOTIFIER__SMTP__PORT"] = str(smtp.port)
    smtp.start()
    observers: list[Observer] = []
    logs: dict[str, Path] = {}
    exit_codes: dict[str, list[int]] = {}
    windows = []
    outcome = None
    edge_status = re.escape(f"sightline/edge-publisher/{CAMERA}/status")
    try:
        for run in (1, 2):
            logs[f"sightline run {run}"] = tmp_path / f"sightline-{run}.log"
            suite = ServiceProcess(
                "suite", ["--config", str(config)], env, logs[f"sightline run {run}"]
            )
            started = time.monotonic()
            suite.start()
            try:
                log = logs[f"sightline run {run}"]
                assert wait_for(lambda log=log: private_broker(log), 30), _logs_tail(logs)
                observer = Observer(str(private_broker(log)))
                observers.append(observer)
                assert wait_for(
                    lambda o=observer: any(
                        m.payload == b"offline" and not m.retain for m in o.on(edge_status)
                    ),
                    EDGE_RUN_TIMEOUT_S,
                ), _logs_tail({**logs, **_suite_logs(state)})
                windows.append((started, time.monotonic()))
                first_frames = [
                    json.loads(m.payload)["frame"]["number"]
                    for m in observer.on(rf"detections/{CAMERA}")[:1]
                ]
                assert first_frames == [0], "the observer came after the edge's first frame"
                merged = Merged(*observers)
                if run == 1:
                    settle(merged, smtp, state / "events", started)
                else:
                    outcome = _collect(merged, smtp, state / "events", windows, exit_codes, logs)
            finally:
                for child in _children(suite):
                    PEAKS.record(child[0], child[1])
                exit_codes.setdefault("sightline", []).append(suite.stop(60))
    finally:
        for observer in observers:
            observer.close()
        smtp.stop()
    assert outcome is not None
    outcome.logs.update(_suite_logs(state))
    outcome.exit_codes = exit_codes
    return outcome


def private_broker(log: Path) -> str | None:
    """The URL of the private Mosquitto that ``sightline`` says it started."""
    found = re.search(r"mqtt://127\.0\.0\.1:\d+", log.read_text(errors="replace"))
    return found.group(0) if found else None


def _suite_logs(state: Path) -> dict[str, Path]:
    return {f"one-box {p.stem}": p for p in sorted((state / "logs").glob("*.log"))}


def _children(process: ServiceProcess) -> list[tuple[str, int]]:
    """(service, pid) of the suite's children, by their command lines."""
    if process.process is None:
        return []
    found = []
    for task in Path(f"/proc/{process.process.pid}/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            for service, module in MODULES.items():
                if module.encode() in command:
                    found.append((service, int(pid)))
    return found
