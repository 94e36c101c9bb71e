"""Operations material against the code: the Grafana dashboard and the Prometheus alert
rules name only metrics (and labels) the services register, promtool accepts and unit-tests
the rules, and the k3s pods carry scrape annotations for their real metrics port.

Metric names come from the code's registries: each service's metrics classes are
instantiated in one :class:`~prometheus_client.CollectorRegistry` and its families read
back (no grepping of source), with the suffixes Prometheus exposes (``_total`` for
counters, ``_bucket``/``_sum``/``_count`` for histograms).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from edge_publisher.metrics import EdgeMetrics
from event_engine.metrics import EngineMetrics
from event_engine.sequence import GapMetrics
from frame_store.metrics import FrameStoreMetrics
from notifier.mailer import PermanentMailError, SmtpSetupError, TransientMailError
from notifier.metrics import NotifierMetrics
from notifier.smtphealth import SmtpHealth
from notifier.state import disk_health
from sightline.health import DEFAULT_PORTS
from sightline.messages.event import Event
from sightline.metrics import ClientMetrics
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "sightline.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
K3S = DEPLOY / "k3s" / "base"
PROMTOOL = shutil.which("promtool") or "promtool"  # tools/setup.sh installs it: never skipped

BUILTIN = {"up": {"service", "instance", "job"}}
"""Series Prometheus itself makes, with the labels our scrape config gives them."""
TARGET_LABELS = {"instance", "job", "service", "namespace", "pod"}
"""Labels the scrape adds to every series (prometheus.yml)."""
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
NAME = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")


def full_registry() -> CollectorRegistry:
    """One registry with every metric of every service."""
    registry = CollectorRegistry()
    ClientMetrics.from_registry(registry)
    EdgeMetrics.from_registry(registry)
    EngineMetrics(registry)
    GapMetrics.from_registry(registry)
    FrameStoreMetrics.from_registry(registry)
    NotifierMetrics(registry)
    SmtpHealth(registry)
    disk_health(registry)
    return registry


def registered() -> dict[str, set[str]]:
    """Every series name the services expose, with its label names."""
    registry = full_registry()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    labels = {
        name: set(getattr(collector, "_labelnames", ()))
        for collector, names in registry._collector_to_names.items()
        for name in names
    }
    series: dict[str, set[str]] = {}
    for family in registry.collect():
        for suffix in suffixes[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            series[family.name + suffix] = labels.get(family.name + suffix, set()) | extra
            series[family.name + suffix] |= labels.get(family.name, set())
    return series


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (functions, keywords, labels, durations
    and strings left out).

    >>> sorted(metric_names('sum by (camera) (rate(a_total{x="y"}[5m] offset 1h)) > b or vector(0)'))
    ['a_total', 'b']
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = MATCHERS.sub("", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = GROUPING.sub("", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    return {
        m.group()
        for m in NAME.finditer(text)
        if m.group() not in KEYWORDS and not text[m.end() :].lstrip().startswith("(")
    }


def label_names(expr: str) -> set[str]:
    """The label names an expression groups or matches on."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    found: set[str] = set()
    for _, inside in GROUPING.findall(text):
        found |= {part.strip() for part in inside.split(",") if part.strip()}
    for inside in MATCHERS.findall(text):
        found |= {m.group(1) for m in re.finditer(r"(\w+)\s*(?:=~|!~|!=|=)", inside)}
    return found


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            (metric, label) = re.fullmatch(
                r"label_values\((\w+),\s*(\w+)\)", variable["definition"]
            ).groups()  # type: ignore[union-attr]
            exprs.append(f'{metric}{{{label}=~".*"}}')
    return exprs


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_code_registers_what_the_conventions_ask() -> None:
    series = registered()

    assert "sightline_edge_source_reconnects_total" in series
    assert "sightline_edge_source_stale_dropped_total" in series
    assert {"event_type", "camera", "rule"} <= series["sightline_engine_events_total"]
    assert {
        "sightline_notifier_emails_sent_total",
        "sightline_notifier_emails_failed_total",
        "sightline_notifier_digests_sent_total",
        "sightline_notifier_digests_failed_total",
    } <= set(series)
    families = list(full_registry().collect())
    assert len(families) >= 40
    for family in families:
        assert not family.name.endswith("_total"), family.name  # the client adds it to counters
        if family.type == "gauge":  # a gauge never holds a count that only grows
            assert not re.search(r"(reconnects|dropped|failures|sent|failed)$", family.name)


def test_smtp_ok_says_unknown_until_the_first_send_then_what_it_learnt() -> None:
    registry = CollectorRegistry()
    health = SmtpHealth(registry, unhealthy_after=1)

    assert registry.get_sample_value("sightline_notifier_smtp_ok") == -1
    health.setup_failed("535 bad credentials")
    assert registry.get_sample_value("sightline_notifier_smtp_ok") == 0
    health.delivered()
    assert registry.get_sample_value("sightline_notifier_smtp_ok") == 1


@pytest.mark.parametrize(
    ("key", "error", "series", "labels"),
    [
        ("evt-1", None, "sightline_notifier_emails_sent_total", {}),
        (
            "evt-1",
            SmtpSetupError("535"),
            "sightline_notifier_emails_failed_total",
            {"reason": "setup"},
        ),
        (
            "evt-1",
            TransientMailError("421"),
            "sightline_notifier_emails_failed_total",
            {"reason": "transient"},
        ),
        (
            "evt-1",
            PermanentMailError("550"),
            "sightline_notifier_emails_failed_total",
            {"reason": "permanent"},
        ),
        ("digest-daily-1", None, "sightline_notifier_digests_sent_total", {}),
        (
            "digest-daily-1",
            OSError(28, "full"),
            "sightline_notifier_digests_failed_total",
            {"reason": "error"},
        ),
    ],
)
def test_each_send_counts_once_as_sent_or_failed_by_reason(
    key: str, error: Exception | None, series: str, labels: dict[str, str]
) -> None:
    registry = CollectorRegistry()
    metrics = NotifierMetrics(registry)

    with pytest.raises(type(error)) if error else _nothing(), metrics.sending(key):
        if error:
            raise error

    counted = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in registry.collect()
        for s in f.samples
        if s.name.endswith("_total") and s.value
    }
    assert counted == {(series, tuple(sorted(labels.items()))): 1.0}


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_engine_events_are_counted_per_camera_and_rule() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    event = Event.model_validate(
        {
            "event_id": "e1",
            "event_type": "LINE_CROSS",
            "rule": "car-in",
            "camera_id": "driveway",
            "device_id": "pi",
            "timestamp": "2025-01-15T14:30:00Z",
            "frame_number": 1,
            "object": {
                "track_id": 1,
                "class_name": "car",
                "confidence": 0.9,
                "bbox": {"x1": 0, "y1": 0, "x2": 1, "y2": 1},
                "center": {"x": 0.5, "y": 0.5},
            },
            "line": {"name": "gate", "direction": "left_to_right"},
        }
    )

    metrics.event_published(event)

    labels = {"event_type": "LINE_CROSS", "camera": "driveway", "rule": "car-in"}
    assert registry.get_sample_value("sightline_engine_events_total", labels) == 1


def test_the_edge_counts_reconnects_and_stale_frames_as_counters() -> None:
    registry = CollectorRegistry()
    metrics = EdgeMetrics.from_registry(registry)

    metrics.observe_source(stale_dropped=3, reconnects=1)
    metrics.observe_source(stale_dropped=3, reconnects=2)
    metrics.observe_source(stale_dropped=1, reconnects=2)  # a new reader counts from 0

    assert registry.get_sample_value("sightline_edge_source_reconnects_total") == 2
    assert registry.get_sample_value("sightline_edge_source_stale_dropped_total") == 4


def test_the_dashboard_and_the_alerts_name_only_metrics_and_labels_the_code_has() -> None:
    series = registered()
    known = {**series, **BUILTIN}
    exprs = dashboard_exprs() + [rule["expr"] for rule in alert_rules()]

    used = set().union(*(metric_names(e) for e in exprs))
    unknown_labels = {
        (e, label)
        for e in exprs
        for label in label_names(e)
        if label not in TARGET_LABELS
        and not any(label in known.get(name, set()) for name in metric_names(e))
    }

    assert sorted(used - set(known)) == []
    assert unknown_labels == set()
    assert len(used) >= 40  # nearly everything the services count is on the dashboard


def test_the_dashboard_is_provisionable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "sightline.yaml").read_text()
    )

    assert dashboard["uid"] == "sightline"
    assert "id" not in dashboard
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
    assert provider["providers"][0]["type"] == "file"


def test_the_alerts_cover_what_an_operator_must_hear_about() -> None:
    names = {rule["alert"] for rule in alert_rules()}

    assert {
        "SightlineServiceDown",
        "SightlineEdgeOffline",
        "SightlineCameraSilent",
        "SightlineFpsDropping",
        "SightlineDeadLettersRising",
        "SightlineSmtpFailing",
        "SightlineConsumerBacklogGrowing",
        "SightlineEventsStopped",
    } <= names
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout

    tested = subprocess.run(
        [PROMTOOL, "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    # Debian's promtool is built without Kubernetes discovery: check the rest of the file.
    config["scrape_configs"] = [
        j for j in config["scrape_configs"] if "kubernetes_sd_configs" not in j
    ]
    config["rule_files"] = [str(ALERTS)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_scrape_config_keeps_annotated_pods_and_names_their_service() -> None:
    (pods,) = [
        job
        for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]
        if "kubernetes_sd_configs" in job
    ]
    relabel = {tuple(r["source_labels"]): r for r in pods["relabel_configs"]}

    keep = relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    port = relabel[("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port")]
    assert re.sub(port["regex"], port["replacement"].replace("$", "\\"), "10.0.0.5:80;9102") == (
        "10.0.0.5:9102"
    )
    service = relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]
    assert service["target_label"] == "service"


def scraped_workloads() -> list[tuple[str, dict[str, Any]]]:
    """Every k3s workload whose container serves a health (and metrics) port."""
    found = []
    for path in sorted(K3S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
                containers = document["spec"]["template"]["spec"]["containers"]
                if any(p.get("name") == "health" for c in containers for p in c.get("ports", [])):
                    found.append((document["metadata"]["name"], document))
    return found


def test_the_k3s_services_with_a_metrics_port_are_all_there() -> None:
    assert {name for name, _ in scraped_workloads()} >= {
        "edge-publisher",
        "event-engine",
        "notifier",
        "frame-store",
    }


@pytest.mark.parametrize(("name", "workload"), scraped_workloads())
def test_each_k3s_pod_is_annotated_for_scraping_on_its_metrics_port(
    name: str, workload: dict[str, Any]
) -> None:
    (port,) = [
        p["containerPort"]
        for c in workload["spec"]["template"]["spec"]["containers"]
        for p in c["ports"]
        if p.get("name") == "health"
    ]

    annotations = workload["spec"]["template"]["metadata"]["annotations"]

    assert port == DEFAULT_PORTS[name]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
