"""Rules: event type, line/zone, classes, direction, confidence, cool-down; actions copied."""

from __future__ import annotations

from typing import Any

import pytest

from event_engine.engine import Engine
from tests.event_engine.walks import Box, run, settings

LINES = [
    {"type": "vertical", "position_pct": 50, "name": "a"},
    {"type": "horizontal", "position_pct": 90, "name": "b"},
]
RIGHTWARD = [(600, 500), (680, 500)]


def fired(match: dict[str, Any], frames: list[list[Box]]) -> int:
    config = {
        "lines": LINES,
        "events": [{"name": "r", "match": {"event_type": "LINE_CROSS", **match}}],
    }
    return len(run(Engine(settings(config)), frames))


@pytest.mark.parametrize(
    ("match", "box", "count"),
    [
        ({}, {}, 1),
        ({"line": "a"}, {}, 1),
        ({"line": "b"}, {}, 0),
        ({"direction": "left_to_right"}, {}, 1),
        ({"direction": "right_to_left"}, {}, 0),
        ({"classes": ["car"]}, {}, 0),
        ({"classes": ["car", "person"]}, {}, 1),
        ({"min_confidence": 0.95}, {"confidence": 0.9}, 0),
    ],
)
def test_rule_matching(match: dict[str, Any], box: dict[str, Any], count: int) -> None:
    frames = [[Box.at_foot(1, x, y, **box)] for x, y in RIGHTWARD]
    assert fired(match, frames) == count


@pytest.mark.parametrize(("cooldown_s", "count"), [(0.0, 3), (10.0, 1)])
def test_rule_cooldown_per_track(cooldown_s: float, count: int) -> None:
    path = [(600, 500), (680, 500), (600, 500), (680, 500)]
    frames = [[Box.at_foot(1, x, y)] for x, y in path]
    line_quiet = {"lines": [{**LINES[0], "cooldown_s": 0}], "events": []}
    config = {
        **line_quiet,
        "events": [{"name": "r", "match": {"event_type": "LINE_CROSS", "cooldown_s": cooldown_s}}],
    }
    assert len(run(Engine(settings(config)), frames)) == count


def test_each_matching_rule_makes_its_own_event_with_its_actions() -> None:
    config = {
        "lines": LINES,
        "events": [
            {"name": "log", "match": {"event_type": "LINE_CROSS"}, "actions": {"json_log": True}},
            {
                "name": "mail",
                "match": {"event_type": "LINE_CROSS"},
                "actions": {"email_digest": True},
            },
        ],
    }
    events = run(Engine(settings(config)), [[Box.at_foot(1, x, y)] for x, y in RIGHTWARD])
    assert [(e.rule, e.actions.json_log, e.actions.email_digest) for e in events] == [
        ("log", True, []),
        ("mail", False, ["default"]),
    ]
    assert len({e.event_id for e in events}) == 2
