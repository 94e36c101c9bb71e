"""The edge's log is JSON lines only: FFmpeg/OpenCV lines come through the logger; a missing
model says how to allow the download and where the bundled model is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edge_publisher.detector import DetectorError, resolve_model_path
from sightline.broker import free_port
from sightline.config.edge import BUNDLED_MODEL
from tests.edge_publisher.edge_process import EdgeProcess, edge_config
from tests.support.broker import Broker
from tests.support.waiting import wait_until


@pytest.mark.slow
def test_ffmpeg_lines_of_a_camera_that_refuses_are_json_log_records_between_the_others(
    broker: Broker, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    camera = {
        "url": f"rtsp://127.0.0.1:{free_port()}/stream",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.2,
        "timeout_s": 1,
    }
    edge = EdgeProcess(broker, tmp_path, edge_config(camera=camera))
    edge.start()
    processes.append(edge)

    def native() -> list[dict[str, object]]:
        return [line for line in edge.log_lines() if line.get("logger") == "native"]

    wait_until(
        lambda: any("Connection refused" in str(line["msg"]) for line in native()),
        timeout=60,
        what="FFmpeg's connection error as a log record",
        interval=0.2,
    )
    assert edge.stop() == 0
    lines = [line for line in edge.log_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict), line  # no raw native line in between
    refused = next(line for line in native() if "Connection refused" in str(line["msg"]))
    assert refused["level"] == "warning"
    assert str(refused["msg"]).startswith("[OPENCV:FFMPEG:")


def test_a_missing_model_says_how_to_allow_the_download_and_where_the_bundled_one_is(
    tmp_path: Path,
) -> None:
    with pytest.raises(DetectorError) as raised:
        resolve_model_path("yolo11n.pt")
    message = str(raised.value)
    assert message.startswith("detector.model_file: 'yolo11n.pt' does not exist")
    assert "detector.allow_download: true" in message
    assert f"detector.model_file: {BUNDLED_MODEL}" in message
    assert (Path(__file__).parents[2] / BUNDLED_MODEL).is_dir()
    assert resolve_model_path("yolo11n.pt", allow_download=True) == "yolo11n.pt"


@pytest.mark.slow
def test_the_edge_refuses_to_start_without_the_model_and_names_the_setting(
    broker: Broker, tmp_path: Path, processes: list[EdgeProcess]
) -> None:
    edge = EdgeProcess(broker, tmp_path, edge_config(detector={"model_file": "yolo11n.pt"}))
    edge.start()
    processes.append(edge)
    assert edge.wait(60) == 2
    assert re.search(
        r"set detector\.allow_download: true \(SIGHTLINE_DETECTOR__ALLOW_DOWNLOAD=1\)",
        edge.log_text(),
    )
