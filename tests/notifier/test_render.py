"""tools/render_emails.py: both e-mails render and Chromium screenshots them."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def render_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_emails", REPO / "tools" / "render_emails.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_emails"] = module
    spec.loader.exec_module(module)
    return module


def test_rendered_emails_show_their_pictures_and_become_screenshots(tmp_path: Path) -> None:
    tool = render_tool()

    pages = tool.render(tmp_path)

    assert [page.name for page in pages] == ["immediate.html", "digest.html", "no-photo.html"]
    for page in pages[:2]:
        html = page.read_text()
        assert "cid:" not in html
        assert "data:image/jpeg;base64," in html
    no_photo = pages[2].read_text()
    assert "No photo was available for this event." in no_photo
    assert "data:image" not in no_photo
    assert "snapshot" not in no_photo.lower().replace("snapshot of", "")
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed")
    png = tool.screenshot(pages[2])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
