"""The frame-store draining a backlog of events on a real Mosquitto: its handler never waits
for the broker, so the client keeps to its bound of unacknowledged messages, and each event
is announced once and recorded in the ledger only after the broker confirmed it (also when
the broker is away, and for what a previous run left to send).

Durations are printed (run with ``-s``), never asserted: speed belongs to bench/.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from prometheus_client import CollectorRegistry

from frame_store.metrics import FrameStoreMetrics
from frame_store.pending import Outgoing
from frame_store.service import FrameStore
from frame_store.storage import FileStore
from sightline.config import MqttConfig
from sightline.config.frames import FrameStoreSection
from sightline.messages import BBox, MessageLimits, decode_snapshot, encode
from sightline.mqtt import MqttClient
from tests.frame_store.media import line_event
from tests.support.broker import Broker
from tests.support.mqtt import Collector, publish
from tests.support.waiting import wait_until

CAMERA = "plaza"
BACKLOG = 3_000
BOUND = 50
SLACK = BOUND
"""Handled messages whose acknowledgement the acker has not sent yet, taken past the bound
while the main loop's announcements await their confirmations (the client reads on for them;
see :mod:`sightline.mqtt.handling`): a few, more on a loaded machine. A handler that waited
for its confirmations held 2,551 unhandled and 3,570 unacknowledged of this backlog."""


def frame_store(broker: Broker, state_dir: Path, root: Path) -> FrameStore:
    client = MqttClient(
        MqttConfig(url=broker.url, reconnect_min_s=0.5, reconnect_max_s=1, receive_maximum=BOUND),
        service="frame-store",
        instance="one",
    )
    config = FrameStoreSection.model_validate(
        {"storage": {"type": "file", "root": str(root)}, "frame_wait_s": 0}
    )
    store = FrameStore(
        config,
        client,
        state_dir,
        MessageLimits(),
        FrameStoreMetrics.from_registry(CollectorRegistry()),
        FileStore(root),
    )
    store.subscribe()
    return store


def main_loop(store: FrameStore, stopping: threading.Event) -> threading.Thread:
    """What ``frame_store.__main__`` does every tick that matters here: send and record."""

    def loop() -> None:
        while not stopping.wait(0.05):
            store.expire()

    thread = threading.Thread(target=loop, name="main-loop")
    thread.start()
    return thread


def handled(client: MqttClient) -> float:
    return client.metrics.registry.get_sample_value("sightline_mqtt_handled_total") or 0.0


def test_a_backlog_of_events_is_announced_once_each_holding_about_the_bound(
    broker: Broker, tmp_path: Path
) -> None:
    state_dir, root = tmp_path / "state", tmp_path / "snapshots"
    store = frame_store(broker, state_dir, root)
    store.client.start()
    assert store.client.wait_connected(5)
    store.client.stop()  # the persistent session now queues what comes
    bbox = BBox(x1=100, y1=100, x2=180, y2=300)
    events = [line_event(CAMERA, number, bbox, track_id=number) for number in range(BACKLOG)]
    topic = f"events/{CAMERA}/line_cross"
    publish(broker.host, broker.port, topic, [encode(e) for e in events])

    snapshots = Collector(broker.host, broker.port, f"events/{CAMERA}/snapshot")
    store = frame_store(broker, state_dir, root)
    client = store.client
    stopping = threading.Event()
    started = time.monotonic()
    client.start()
    loop = main_loop(store, stopping)
    try:
        # its own announcements come back to it too (and are acknowledged unused)
        wait_until(lambda: handled(client) >= 2 * BACKLOG, 240, "the backlog")
        took = time.monotonic() - started
        snapshots.wait_for(lambda ms: len(ms) >= BACKLOG, timeout=60)
        wait_until(lambda: len(store.outbox) == 0, 30, "every announcement recorded")
    finally:
        stopping.set()
        loop.join()
        client.stop()
        snapshots.close()

    handling = client.handling
    print(
        f"\nframe-store backlog of {BACKLOG}: {took:.1f}s; peak unacknowledged "
        f"{handling.bound.peak}, peak unhandled {handling.inbox_peak} (bound {BOUND})"
    )
    announced = Counter(decode_snapshot(m.payload).event_id for m in snapshots.messages)
    assert set(announced) == {e.event_id for e in events}
    assert set(announced.values()) == {1}
    assert all(e.event_id in store.ledger for e in events)
    assert len(store.pending) == 0
    assert list((state_dir / "announcing").iterdir()) == []
    assert handling.inbox_peak <= BOUND
    assert handling.bound.peak <= BOUND + SLACK


def test_an_announcement_is_recorded_only_once_the_broker_confirmed_it_and_survives_a_restart(
    broker: Broker, tmp_path: Path
) -> None:
    state_dir, root = tmp_path / "state", tmp_path / "snapshots"
    topic = f"events/{CAMERA}/snapshot"
    left = frame_store(broker, state_dir, root)  # a run that died before sending "left"
    left.outbox.add("left", [Outgoing(topic, b'{"left": true}')])

    store = frame_store(broker, state_dir, root)
    assert "left" in store.outbox  # reloaded
    snapshots = Collector(broker.host, broker.port, topic)
    stopping = threading.Event()
    store.client.start()
    loop = main_loop(store, stopping)
    try:
        wait_until(lambda: "left" in store.ledger, 30, "what the last run left, recorded")
        snapshots.wait_for(lambda ms: len(ms) >= 1, 30)
        broker.stop()
        wait_until(lambda: not store.client.connected, 30, "the broker gone")
        store.outbox.add("away", [Outgoing(topic, b'{"away": true}')])
        wait_until(lambda: store.settle_announcements() == 1, 30, "sent while away")
        assert "away" not in store.ledger  # paho holds it in memory only
        assert "away" in store.outbox
        broker.start()
        wait_until(lambda: "away" in store.ledger, 60, "recorded once confirmed")
    finally:
        stopping.set()
        loop.join()
        store.client.stop()
        snapshots.close()

    assert len(store.outbox) == 0
    payloads = Counter(m.payload for m in snapshots.messages)
    assert payloads[b'{"left": true}'] == 1  # (the collector is not back in time for "away")


def test_an_unreadable_announcement_left_by_a_crash_is_set_aside_and_the_rest_is_sent(
    broker: Broker, tmp_path: Path
) -> None:
    state_dir, root = tmp_path / "state", tmp_path / "snapshots"
    topic = f"events/{CAMERA}/snapshot"
    left = frame_store(broker, state_dir, root)
    left.outbox.add("cut", [Outgoing(topic, b'{"cut": true}')])
    left.outbox.add("whole", [Outgoing(topic, b'{"whole": true}')])
    cut = state_dir / "announcing" / "cut.json"
    cut.write_bytes(cut.read_bytes()[:10])  # truncated by the crash

    store = frame_store(broker, state_dir, root)
    stopping = threading.Event()
    store.client.start()
    loop = main_loop(store, stopping)
    try:
        wait_until(lambda: "whole" in store.ledger, 30, "the readable one, sent and recorded")
        wait_until(lambda: "cut" not in store.outbox, 30, "the unreadable one, set aside")
    finally:
        stopping.set()
        loop.join()
        store.client.stop()

    assert "cut" not in store.ledger
    assert (state_dir / "announcing" / "cut.bad").exists()
    assert not cut.exists()
