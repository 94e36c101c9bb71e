"""The console's pure parts: drafts, the board, its settings, and ``sightline-preview``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import pytest
from pydantic import ValidationError

from console.board import Board
from console.drafts import check_draft, set_payload
from console.preview import main as preview
from console.settings import ConsoleSettings
from console.web import Auth
from sightline.config.engine import DeviceConfig
from sightline.messages.envelope import DetectionEnvelope
from sightline.validation import describe_errors
from tests.console.feed import ENGINE_YAML, VIDEO, recorded, video_jpegs, with_frame


def test_a_draft_error_names_its_key_path() -> None:
    draft = {
        "lines": [{"type": "polyline", "name": "gate", "points": [[10, 10], [120, 20]]}],
        "events": [{"name": "r", "match": {"event_type": "LINE_CROSS", "line": "door"}}],
    }
    assert check_draft("cam-1", draft).errors == [
        "lines[0].points[1]: percent coordinates must lie in 0..100"
    ]
    draft["lines"][0]["points"] = [[10, 10], [90, 20]]  # type: ignore[index]
    assert check_draft("cam-1", draft).errors == [
        "events[0].match.line: no line named 'door' (lines: gate)"
    ]


def test_the_save_message_is_the_contract() -> None:
    checked = check_draft("street-pi", {"camera_id": "street", "lines": []})
    assert checked.config is not None
    body = json.loads(set_payload("street-pi", checked.config))
    assert body == {"device_id": "street-pi", "config": {"camera_id": "street"}}
    assert DeviceConfig.model_validate(body["config"]) == checked.config
    assert checked.yaml.startswith("devices:\n  street-pi:\n    camera_id: street\n")


def test_the_board_keeps_the_newest_frame_with_its_boxes() -> None:
    first, second = recorded(2)
    jpeg = video_jpegs(1)[0]
    board = Board()
    board.envelope(DetectionEnvelope.model_validate(with_frame(second, jpeg)), now=1.0)
    board.envelope(DetectionEnvelope.model_validate(with_frame(first, b"older")), now=2.0)
    detail = board.camera("street", now=2.0)
    assert detail is not None
    assert board.frame("street") == jpeg  # a late, older frame does not replace it
    assert detail["frame_of"] == 1
    assert len(detail["frame_boxes"]) == len(second["detections"])
    assert board.device_of("street") == "street-pi"


def test_a_frame_that_is_not_base64_is_refused_naming_the_field() -> None:
    envelope = recorded(1)[0]
    broken = {**envelope, "frame_data": {"encoding": "jpeg", "base64": "not*base64"}}
    with pytest.raises(ValueError, match=r"frame_data\.base64"):
        Board().envelope(DetectionEnvelope.model_validate(broken), now=0.0)


@pytest.mark.usefixtures("clean_env")
def test_an_exposed_console_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        ConsoleSettings.model_validate({"console": {"host": "0.0.0.0"}})
    assert describe_errors(info.value)[0].startswith(
        "console.password_file: the console listens on"
    )
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    exposed = ConsoleSettings.model_validate(
        {"console": {"host": "0.0.0.0", "password_file": token}}
    )
    assert exposed.console.resolved_password() == "s3cret"
    assert ConsoleSettings().console.host == "127.0.0.1"


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"password": ""}, "console.password: is empty"),
        ({"password": "  "}, "console.password: is empty"),
        ({"password_file": "empty"}, "console.password_file: is empty"),
        ({"password_file": "blank-line"}, "console.password_file: is empty"),
    ],
)
def test_an_exposed_console_refuses_an_empty_token(
    tmp_path: Path, given: dict[str, str], problem: str
) -> None:
    """An empty password is no password: the page would let anyone in."""
    (tmp_path / "empty").write_text("")
    (tmp_path / "blank-line").write_text("\nsecond line is not read\n")
    if "password_file" in given:
        given = {"password_file": str(tmp_path / given["password_file"])}
    with pytest.raises(ValidationError) as info:
        ConsoleSettings.model_validate({"console": {"host": "0.0.0.0", **given}})
    assert describe_errors(info.value)[0].startswith(problem)
    # on this machine only, no token is needed
    assert ConsoleSettings.model_validate({"console": {"host": "127.0.0.1", **given}})


def test_a_wrong_password_or_cookie_is_refused() -> None:
    auth = Auth("s3cret")
    assert not auth.password_ok("s3cre")
    assert not auth.allows({"Authorization": "Bearer s3cre"})
    assert not auth.allows({"Cookie": "sightline_console=forged"})
    assert auth.allows({"Authorization": "Bearer s3cret"})


def test_preview_draws_the_lines_and_zones_on_the_videos_first_frame(tmp_path: Path) -> None:
    out = tmp_path / "overlay.png"
    argv = ["--config", str(ENGINE_YAML), "--camera", "street", "--video", str(VIDEO)]
    assert preview([*argv, "--out", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape == (720, 1280, 3)
    b, g, r = (int(v) for v in picture[600, 140])  # on the kerb line (0,600)-(280,600)
    assert (b, g, r) == (78, 211, 255)
    plain = cv2.imdecode(__import__("numpy").frombuffer(video_jpegs(1, quality=100)[0], "uint8"), 1)
    assert (
        abs(int(picture[100, 1000].sum()) - int(plain[100, 1000].sum())) < 40
    )  # elsewhere: the frame


def test_preview_names_an_unknown_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(ENGINE_YAML), "--camera", "garden", "--out", str(tmp_path / "o.png")]
    assert preview(argv) == 2
    assert (
        "--camera: no device watches camera 'garden' (cameras: street)" in capsys.readouterr().err
    )


def test_preview_names_a_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("devices:\n  cam:\n    lines:\n      - {type: vertical, name: x}\n")
    assert (
        preview(["--config", str(config), "--camera", "cam", "--out", str(tmp_path / "o.png")]) == 2
    )
    assert (
        "devices.cam.lines[0].position_pct: a vertical line needs position_pct"
        in capsys.readouterr().err
    )


def test_frame_data_round_trip_is_the_edges_format() -> None:
    jpeg = video_jpegs(1)[0]
    envelope = DetectionEnvelope.model_validate(with_frame(recorded(1)[0], jpeg))
    assert envelope.frame_data is not None
    assert base64.b64decode(envelope.frame_data.base64) == jpeg


def test_preview_draws_on_an_image(tmp_path: Path) -> None:
    image = tmp_path / "frame.jpg"
    image.write_bytes(video_jpegs(1)[0])
    out = tmp_path / "overlay.png"
    argv = ["--config", str(ENGINE_YAML), "--camera", "street", "--image", str(image)]
    assert preview([*argv, "--out", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape == (720, 1280, 3)
    assert tuple(int(v) for v in picture[600, 140]) == (78, 211, 255)  # the kerb line
