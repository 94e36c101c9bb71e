"""The one-box supervisor: restarts a service that dies, leaves one that finished, stops all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from suite import supervisor as supervisor_module
from suite.supervisor import ServiceProcess, Supervisor
from tests.support.waiting import settle


def script(tmp_path: Path, name: str, body: str) -> ServiceProcess:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return ServiceProcess(name=name, args=[str(path)], log_file=tmp_path / f"{name}.log")


CRASHES_ONCE = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[0]).with_suffix(".ran")
runs = int(marker.read_text()) if marker.exists() else 0
marker.write_text(str(runs + 1))
if runs == 0:
    sys.exit(3)
while True:
    time.sleep(0.1)
"""

STOPS_ON_SIGTERM = """
import signal, sys, time, pathlib
def stop(*_):
    pathlib.Path(sys.argv[0]).with_suffix(".stopped").write_text("clean")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
pathlib.Path(sys.argv[0]).with_suffix(".ready").write_text("handler installed")
while True:
    time.sleep(0.1)
"""


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``condition`` (the shared helper), often: these children start in milliseconds."""
    return settle(condition, timeout, interval=0.05)


def test_a_crashed_service_is_restarted(tmp_path: Path) -> None:
    supervisor = Supervisor([script(tmp_path, "flaky", CRASHES_ONCE)])
    supervisor.start()
    try:

        def ran_twice() -> bool:
            supervisor.poll()
            marker = tmp_path / "flaky.ran"
            return marker.exists() and marker.read_text() == "2"

        assert wait_until(ran_twice)
        assert wait_until(lambda: supervisor.running("flaky"))
    finally:
        supervisor.stop()


def test_a_service_that_finished_cleanly_is_not_restarted(tmp_path: Path) -> None:
    supervisor = Supervisor([ServiceProcess("once", ["-c", "pass"])])
    supervisor.start()

    def finished() -> bool:
        supervisor.poll()
        return "once" in supervisor.finished

    assert wait_until(finished)

    assert supervisor.finished == {"once": 0}
    assert not supervisor.running("once")


def test_stop_sends_sigterm_and_reports_exit_codes(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [script(tmp_path, "a", STOPS_ON_SIGTERM), script(tmp_path, "b", STOPS_ON_SIGTERM)]
    )
    stop = threading.Event()
    runner = threading.Thread(target=supervisor.run, args=(stop,))
    runner.start()
    assert wait_until(lambda: supervisor.running("a") and supervisor.running("b"))
    assert wait_until(lambda: all((tmp_path / f"{n}.ready").exists() for n in "ab"))

    stop.set()
    runner.join(30)

    assert supervisor.finished == {"a": 0, "b": 0}
    assert (tmp_path / "a.stopped").read_text() == "clean"
    assert (tmp_path / "b.stopped").read_text() == "clean"


def test_a_service_that_refuses_its_config_is_not_restarted_and_stops_the_suite(
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(
        [
            script(tmp_path, "fussy", "import sys; sys.exit(2)"),
            script(tmp_path, "a", STOPS_ON_SIGTERM),
        ]
    )
    stop = threading.Event()
    runner = threading.Thread(target=supervisor.run, args=(stop,))
    runner.start()
    runner.join(30)

    assert not runner.is_alive(), "the suite kept running with a service that cannot start"
    assert supervisor.refused == ["fussy"]
    assert supervisor.finished["fussy"] == 2


PRINTS_ENV = """
import json, os, pathlib, sys
pathlib.Path(sys.argv[0]).with_suffix(".env").write_text(json.dumps(dict(os.environ)))
"""


def test_services_get_their_config_not_the_suites_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGHTLINE_STATE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("SIGHTLINE_HEALTH__PORT", "9999")
    spec = script(tmp_path, "env", PRINTS_ENV)
    supervisor = Supervisor([ServiceProcess(spec.name, spec.args, spec.log_file, env={"X": "1"})])
    supervisor.start()
    try:
        assert wait_until(lambda: (supervisor.poll(), "env" in supervisor.finished)[1])
    finally:
        supervisor.stop()

    seen = json.loads((tmp_path / "env.env").read_text())
    assert not [key for key in seen if key.startswith("SIGHTLINE_")]
    assert seen["X"] == "1"
    assert seen["PATH"] == os.environ["PATH"]


def test_a_service_ended_by_the_stop_signal_itself_stopped_cleanly(tmp_path: Path) -> None:
    # no handler: as a service still starting, or one already past its own clean exit
    supervisor = Supervisor([script(tmp_path, "plain", "import time\nwhile True: time.sleep(0.1)")])
    supervisor.start()
    assert wait_until(lambda: supervisor.running("plain"))

    assert supervisor.stop() == {"plain": 0}


def test_a_service_that_crashed_before_the_stop_keeps_its_status(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [script(tmp_path, "dies", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)")]
    )
    supervisor.start()
    assert wait_until(lambda: not supervisor.running("dies"))

    assert supervisor.stop() == {"dies": -signal.SIGTERM}


SLEEPS = "import time\nwhile True: time.sleep(0.1)"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def ends_with_its_parent(
    program: str, child_of: Callable[[subprocess.Popen[bytes], bytes], int], what: str
) -> None:
    """Run ``program`` in a Python process, find its child (``child_of`` the process and
    the first line it prints), SIGKILL the process: the child must end too."""
    parent = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, env=os.environ.copy()
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = child_of(parent, parent.stdout.readline())
        assert alive(child)
        parent.kill()
        parent.wait()
        assert wait_until(lambda: not alive(child)), f"{what} outlived its parent"
    finally:
        parent.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_a_killed_supervisor_leaves_no_service_running(tmp_path: Path) -> None:
    """SIGKILL or the OOM killer gives the supervisor no chance to stop its services: they
    end with it, or the next supervisor would run a second copy of each."""
    spec = script(tmp_path, "plain", SLEEPS)
    program = (
        "import sys, time\n"
        "from suite.supervisor import ServiceProcess, Supervisor\n"
        f"supervisor = Supervisor([ServiceProcess('plain', [{str(spec.args[0])!r}])])\n"
        "supervisor.start()\n"
        "print(supervisor._running['plain'].process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    ends_with_its_parent(program, lambda parent, line: int(line), "the service")


def test_services_started_before_one_failed_to_start_are_stopped(tmp_path: Path) -> None:
    first = script(tmp_path, "first", SLEEPS)
    broken = ServiceProcess(
        "broken", ["-c", "pass"], log_file=tmp_path
    )  # a log "file" that is a directory
    supervisor = Supervisor([first, broken])
    with pytest.raises(IsADirectoryError):
        supervisor.run(threading.Event())
    assert not supervisor.running("first")


def test_a_service_that_ran_well_before_it_died_is_restarted_after_the_shortest_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The waits between restarts double while a service keeps dying at start; one that
    had been running for a while starts the waits over (not 30 s after weeks of health)."""
    monkeypatch.setattr(supervisor_module, "STABLE_S", 0.5)
    supervisor = Supervisor(
        [script(tmp_path, "lives", "import time\ntime.sleep(0.7)\nraise SystemExit(1)")]
    )
    supervisor.start()
    try:
        restarts = supervisor._running["lives"]

        def died_twice() -> bool:
            supervisor.poll()
            return restarts.restarts >= 2

        assert wait_until(died_twice, timeout=20)
        assert restarts.backoff.attempt == 1  # each death the first of its run
    finally:
        supervisor.stop()


def test_a_killed_suite_leaves_no_private_broker_running(tmp_path: Path) -> None:
    """The suite's own Mosquitto ends with it too: left behind, it would hold the port (and
    its persistence file) for the next suite."""
    program = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sightline.config import SuiteSettings\n"
        "from suite.run import suite_broker\n"
        f"with suite_broker(SuiteSettings(), Path({str(tmp_path)!r})):\n"
        "    print('up', flush=True)\n"
        "    time.sleep(60)\n"
    )

    def broker(parent: subprocess.Popen[bytes], line: bytes) -> int:
        assert line.strip() == b"up"
        return _child_mosquitto(parent.pid)

    ends_with_its_parent(program, broker, "the broker")


def _child_mosquitto(parent: int) -> int:
    """The pid of the mosquitto that ``parent`` started."""
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            if fields.get("Name") == "mosquitto" and int(fields["PPid"]) == parent:
                return int(status.parent.name)
    raise AssertionError(f"no mosquitto started by {parent}")
