"""The edge's bounded publish queue: never blocks, drops frames first, keeps order."""

from __future__ import annotations

import pytest

from sightline.mqtt import PublishQueue


def drain(queue: PublishQueue) -> list[bytes]:
    out = []
    while (item := queue.get(0)) is not None:
        out.append(item.payload)
    return out


def test_what_is_kept_leaves_in_arrival_order() -> None:
    queue = PublishQueue(maxsize=10)
    for i in range(3):
        queue.put("t/env", f"e{i}".encode())
        queue.put("t/frame", f"f{i}".encode(), droppable=True)

    assert drain(queue) == [b"e0", b"f0", b"e1", b"f1", b"e2", b"f2"]


@pytest.mark.parametrize(
    ("puts", "kept", "dropped"),
    [
        # (payload, droppable) in order; queue of 3
        (
            [("e0", False), ("f0", True), ("e1", False), ("e2", False)],
            ["e0", "e1", "e2"],
            {"droppable": 1, "essential": 0},
        ),
        (
            [("e0", False), ("e1", False), ("e2", False), ("e3", False)],
            ["e1", "e2", "e3"],
            {"droppable": 0, "essential": 1},
        ),
        (
            [("e0", False), ("e1", False), ("e2", False), ("f0", True)],
            ["e0", "e1", "e2"],
            {"droppable": 1, "essential": 0},
        ),
        (
            [("f0", True), ("f1", True), ("f2", True), ("f3", True)],
            ["f1", "f2", "f3"],
            {"droppable": 1, "essential": 0},
        ),
    ],
)
def test_a_full_queue_drops_the_oldest_frame_first_then_the_oldest_envelope(
    puts: list[tuple[str, bool]], kept: list[str], dropped: dict[str, int]
) -> None:
    queue = PublishQueue(maxsize=3)
    for payload, droppable in puts:
        queue.put("t", payload.encode(), droppable=droppable)

    assert drain(queue) == [p.encode() for p in kept]
    assert queue.dropped == dropped


def test_get_on_an_empty_queue_returns_none_after_the_timeout() -> None:
    assert PublishQueue(maxsize=1).get(0.01) is None


def test_a_requeued_message_keeps_its_place() -> None:
    queue = PublishQueue(maxsize=5)
    queue.put("t", b"a")
    queue.put("t", b"b")
    first = queue.get(0)
    assert first is not None

    queue.requeue_front(first)

    assert drain(queue) == [b"a", b"b"]


def test_a_queue_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PublishQueue(maxsize=0)
