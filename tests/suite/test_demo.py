"""`sightline demo`, as the README's first command runs it: the bundled video through the
whole suite (real broker, real model, every service as a process) to a readable summary."""

from __future__ import annotations

import email
import json
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import cv2
import pytest

from tests.suite.demo_run import DEMO_RUN, DEMO_TIMEOUT_S, start_demo
from tests.support.background import Background


@pytest.fixture(scope="module")
def demo(background: Background, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo run for every test here (the layout tests may have started it already)."""
    start_demo(background, tmp_path_factory)
    result: tuple[Path, str] = background.result(DEMO_RUN, DEMO_TIMEOUT_S + 60)
    return result


def test_the_summary_names_what_happened_and_where(demo: tuple[Path, str]) -> None:
    root, out = demo

    assert "frames processed   341" in out
    assert "LINE_CROSS" in out
    assert "ZONE_ENTER" in out
    assert str(root / "outbox") in out
    assert "dead letters       0" in out


def test_every_event_is_in_the_json_log_once(demo: tuple[Path, str]) -> None:
    root, _ = demo
    lines = [
        json.loads(line)
        for p in (root / "events").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]

    ids = [event["event_id"] for event in lines]
    assert ids
    assert len(ids) == len(set(ids))
    assert {event["event_type"] for event in lines} >= {"LINE_CROSS", "ZONE_ENTER"}


def test_the_emails_are_valid_mime_with_their_pictures(demo: tuple[Path, str]) -> None:
    root, _ = demo
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted((root / "outbox").glob("*.eml"))
    ]

    assert any("digest" in str(m["Subject"]).lower() for m in messages)
    for message in messages:
        assert isinstance(message, EmailMessage)
        assert message.get_body(preferencelist=("html",)) is not None
        assert message.get_body(preferencelist=("plain",)) is not None
    images = [
        part for m in messages for part in m.walk() if part.get_content_type() == "image/jpeg"
    ]
    assert images, "no e-mail carries a snapshot"


def test_snapshots_are_real_pictures_of_the_scene(demo: tuple[Path, str]) -> None:
    root, _ = demo
    annotated = [
        p for p in (root / "snapshots").rglob("*.jpg") if not p.stem.endswith(("-clean", "-crop"))
    ]

    assert annotated
    for path in annotated[:5]:
        image = cv2.imread(str(path))
        assert image is not None
        assert image.shape == (720, 1280, 3)
        assert (path.with_name(f"{path.stem}-clean.jpg")).is_file()
