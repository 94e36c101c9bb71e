"""The progress line: on a terminal for files, silent otherwise."""

from __future__ import annotations

import io

import pytest

from edge_publisher.progress import ProgressLine


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "wanted", "shown"),
    [(Terminal(), True, True), (Terminal(), False, False), (io.StringIO(), True, False)],
)
def test_progress_shows_frames_done_of_total_only_on_a_terminal_when_wanted(
    stream: io.StringIO, wanted: bool, shown: bool
) -> None:
    progress = ProgressLine(341, wanted=wanted, stream=stream, every_s=0.0)
    progress.update(120)
    progress.close()
    assert ("frames 120/341" in stream.getvalue()) is shown
