"""The console as a service: refuses to start exposed without a token, says online/offline,
answers /healthz, and sends one dead letter naming the field for a bad message."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.console.feed import recorded
from tests.console.support import ConsoleProcess, running
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.paths import REPO
from tests.support.service_process import service_env, status_now, status_topic

STATUS = status_topic("console")


def test_an_exposed_console_without_a_token_does_not_start(broker: Broker, tmp_path: Path) -> None:
    env = service_env(
        broker, tmp_path / "state", health_port=None, SIGHTLINE_CONSOLE__HOST="0.0.0.0"
    )
    done = subprocess.run(
        [sys.executable, "-m", "console"], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"console.password_file: the console listens on '0.0.0.0'" in done.stderr


def test_status_health_and_dead_letters(
    broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    console = ConsoleProcess(broker, tmp_path, None)
    with running(console):
        collector.wait_for(status_now(STATUS, b"online"))
        health = console.env["SIGHTLINE_HEALTH__PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=10) as answer:
            assert json.loads(answer.read())["ok"] is True
        broken = {**recorded(1)[0], "frame_data": {"encoding": "jpeg", "base64": "not*base64"}}
        publish(broker.host, broker.port, "detections/street/frame", [json.dumps(broken).encode()])
        letters = collector.wait_for(
            lambda ms: any(m.topic == "sightline/deadletter/console" for m in ms)
        )
        letter = json.loads(next(m for m in letters if m.topic.endswith("/console")).payload)
        assert "frame_data.base64" in letter["reason"]
        # without a password (loopback only) the page and its API answer...
        status, body = console.request("api/cameras")
        assert status == 200
        assert json.loads(body)["auth"] is False
        # ...to this machine's names only: not to a DNS-rebinding page naming another host
        assert console.request("api/cameras", headers={"Host": "evil.example:8090"})[0] == 403
        draft = {"device_id": "street-pi", "config": {"lines": []}}
        assert console.request("api/cameras/street/save", draft, {"Host": "evil.example"})[0] == 403
        assert console.request("api/cameras/street/save", draft)[0] == 200
        bad = {"config": {"lines": [{"type": "vertical", "name": "x"}]}}
        assert console.request("api/cameras/street/save", bad)[0] == 422
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/metrics", timeout=10) as answer:
            metrics = answer.read().decode()
        assert 'sightline_console_actions_total{action="saves",result="saved"} 1.0' in metrics
        assert 'sightline_console_actions_total{action="saves",result="invalid"} 1.0' in metrics
        # where a supervisor finds the address
        assert (tmp_path / "console-state" / "url").read_text() == console.url + "\n"
    collector.wait_for(status_now(STATUS, b"offline"))
