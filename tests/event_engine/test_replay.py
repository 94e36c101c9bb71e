"""``--replay`` on real recorded detections of the bundled video (tools/record_fixture.py).

What a person sees in samples/pedestrians.avi (frames extracted with cv2 and looked at; the
kerb is the segment y=600 px from x=0 to x=280, the corner the box x 0..260, y 620..720):

* a man in a grey jacket with a bag is already standing in the corner at frame 0 and walks
  out of the picture at the bottom (he is in the corner: one entry, no kerb crossing);
* a man in a dark jacket walks down from the upper left and steps over the kerb at about
  frame 74, then into the corner, and leaves the picture;
* a man in a waistcoat and light shirt walks down and steps over the kerb at about
  frame 140, into the corner, and out of the picture;
* a woman with curly hair and a shoulder bag steps over the kerb at about frame 213,
  into the corner, and out of the picture;
* a second man in a waistcoat comes in from the left edge at frame ~300 and is still
  above the kerb at the last frame (340): no crossing;
* a man walking down at x ~ 310-350 px passes right of the kerb's end and of the corner.

So: 3 kerb crossings, all downwards ('in', the kerb's in side being below), 4 corner
entries, and (track_timeout_s 1 s) 4 exits as 'lost' when each leaves the picture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "engine"


def replay(tmp_path: Path, source: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "event_engine",
            "--config",
            str(FIXTURES / "pedestrians.yaml"),
            "--replay",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_replay_of_the_bundled_video_finds_what_a_person_sees(tmp_path: Path) -> None:
    events = replay(tmp_path, FIXTURES / "pedestrians.jsonl")
    crossings = [e for e in events if e["event_type"] == "LINE_CROSS"]
    entries = [e for e in events if e["event_type"] == "ZONE_ENTER"]
    exits = [e for e in events if e["event_type"] == "ZONE_EXIT"]
    assert [(e["line"]["direction"], e["frame_number"]) for e in crossings] == [  # type: ignore[index]
        ("in", 74),
        ("in", 141),
        ("in", 213),
    ]
    assert len(entries) == 4
    assert entries[0]["frame_number"] == 0
    assert [e["zone"]["reason"] for e in exits] == ["lost"] * 4  # type: ignore[index]
    assert all(e["camera_id"] == "street" and e["device_id"] == "street-pi" for e in events)


def test_replay_reads_mosquitto_sub_lines_and_skips_bad_ones(tmp_path: Path) -> None:
    lines = (FIXTURES / "pedestrians.jsonl").read_text().splitlines()[60:90]
    source = tmp_path / "sub.txt"
    body = [f"detections/street {line}" for line in lines]
    source.write_text("\n".join([*body[:5], "detections/street {broken", *body[5:]]) + "\n")
    events = replay(tmp_path, source)
    assert [(e["event_type"], e["frame_number"]) for e in events] == [
        ("ZONE_ENTER", 60),  # the man in the grey jacket, inside when the excerpt starts
        ("LINE_CROSS", 74),
        ("ZONE_ENTER", 79),  # once his foot is the zone's margin (8 px) deep
    ]


def test_a_zone_that_crosses_itself_is_refused_with_exit_status_2(tmp_path: Path) -> None:
    config = tmp_path / "bow.yaml"
    config.write_text(
        "devices:\n  pi:\n    zones:\n"
        "      - {name: bow, points: [[0, 0], [100, 100], [100, 0], [0, 100]], units: px}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "event_engine", "--config", str(config), "--replay", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "devices.pi: zone 'bow': the polygon is not simple" in result.stderr
