"""The frame-store process against a real Mosquitto, fed frames of the bundled video."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from sightline.messages import BBox, Event, SnapshotAnnouncement, decode_snapshot, encode
from tests.frame_store.conftest import PERSON_FRAME
from tests.frame_store.media import frame_message, jpeg_of, line_event, video_frames
from tests.frame_store.process import STATUS_TOPIC, FrameStoreProcess
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen, publish
from tests.support.waiting import settle

CAMERA = "plaza"
SNAPSHOT_TOPIC = f"events/{CAMERA}/snapshot"


@pytest.fixture
def start_frame_store(broker: Broker, collector: Collector, tmp_path: Path) -> Iterator[object]:
    started: list[FrameStoreProcess] = []

    def start(**frame_store: object) -> FrameStoreProcess:
        service = FrameStoreProcess(broker, tmp_path, **frame_store)
        service.start_online(collector)
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


def send_frames(broker: Broker, numbers: list[int]) -> None:
    frames = video_frames()  # numbers past the clip reuse its pictures
    payloads = [frame_message(CAMERA, n, frames[n % len(frames)]) for n in numbers]
    publish(broker.host, broker.port, f"detections/{CAMERA}/frame", payloads)


def send_event(broker: Broker, event: Event) -> None:
    publish(broker.host, broker.port, event_topic(event), [encode(event)])


def event_topic(event: Event) -> str:
    return f"events/{event.camera_id}/{event.event_type.value.lower()}"


def read_image(path: Path) -> np.ndarray:
    """The picture at ``path``, decoded; fails if it does not decode."""
    image = cv2.imread(str(path))
    assert image is not None, f"{path} does not decode"
    return np.asarray(image)


def announcements(messages: list[Seen]) -> list[SnapshotAnnouncement]:
    return [decode_snapshot(m.payload) for m in messages if m.topic == SNAPSHOT_TOPIC]


def wait_announced(collector: Collector, count: int = 1) -> list[SnapshotAnnouncement]:
    collector.wait_for(lambda ms: len(announcements(ms)) >= count, timeout=30)
    return announcements(collector.messages)


def test_a_line_event_gets_a_clean_an_annotated_and_a_crop_snapshot_of_its_frame(
    broker: Broker, collector: Collector, start_frame_store: object, person: tuple[BBox, float]
) -> None:
    service: FrameStoreProcess = start_frame_store()  # type: ignore[operator]
    bbox, confidence = person
    event = line_event(CAMERA, PERSON_FRAME, bbox, confidence=confidence)
    send_frames(broker, list(range(PERSON_FRAME - 5, PERSON_FRAME + 3)))
    send_event(broker, event)

    [announced] = wait_announced(collector)

    key = f"{CAMERA}/2025-01-15/{event.event_id}.jpg"
    assert announced.event_id == event.event_id
    assert announced.frame_number == PERSON_FRAME
    assert announced.frame_ref is not None
    assert announced.frame_ref.model_dump() == {
        "type": "file",
        "bucket": None,
        "key": key,
    }
    files = announced.files
    assert files.clean is not None
    assert files.crop is not None
    assert (service.root / files.clean.key).read_bytes() == jpeg_of(video_frames()[PERSON_FRAME])
    annotated = read_image(service.root / key)
    assert annotated.shape == (720, 1280, 3)
    assert not np.array_equal(annotated, read_image(service.root / files.clean.key))
    crop = read_image(service.root / files.crop.key)
    assert crop.shape[0] > bbox.y2 - bbox.y1
    assert crop.shape[1] > bbox.x2 - bbox.x1
    assert announced.image is not None  # the photo itself, for consumers on another disk
    assert base64.b64decode(announced.image.base64) == (service.root / key).read_bytes()


@pytest.mark.parametrize(
    ("frames_before", "frames_after", "expected_frame"),
    [
        pytest.param([], [38, 39, 40, 41], 40, id="frame-arrives-after-the-event"),
        pytest.param([30], [35, 45, 60], 35, id="nearest-within-the-window-once-past-it"),
        pytest.param([], [], None, id="frame-never-arrives"),
        pytest.param([100, 101], [], None, id="stream-already-past-the-window"),
    ],
)
def test_the_snapshot_uses_the_events_frame_or_the_nearest_or_says_why_not(
    broker: Broker,
    collector: Collector,
    start_frame_store: object,
    frames_before: list[int],
    frames_after: list[int],
    expected_frame: int | None,
) -> None:
    start_frame_store(frame_wait_s=1.5, window_frames=15)  # type: ignore[operator]
    event = line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330))
    if frames_before:
        send_frames(broker, frames_before)
    send_event(broker, event)
    if frames_after:
        send_frames(broker, frames_after)

    [announced] = wait_announced(collector)

    if expected_frame is None:
        assert announced.frame_ref is None
        assert announced.reason is not None
        assert "frame 40" in announced.reason
    else:
        assert announced.frame_number == expected_frame
        assert announced.frame_ref is not None


def test_a_redelivered_event_writes_nothing_again_and_is_announced_once(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    service: FrameStoreProcess = start_frame_store()  # type: ignore[operator]
    first = line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330))
    second = line_event(CAMERA, 41, BBox(x1=500, y1=200, x2=560, y2=330), track_id=9)
    send_frames(broker, [39, 40, 41, 42])
    send_event(broker, first)
    [announced] = wait_announced(collector)
    assert announced.frame_ref is not None
    stored = service.root / announced.frame_ref.key
    before = stored.stat()

    send_event(broker, first)  # a QoS 1 redelivery
    send_event(broker, second)  # handled after it: its announcement means the duplicate is done
    both = wait_announced(collector, 2)

    assert [a.event_id for a in both] == [first.event_id, second.event_id]
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert service.metric("sightline_snapshot_duplicate_events_total") == 1
    assert "already handled" not in service.log_text()  # debug, below the default info


def test_a_pending_event_survives_a_crash_and_is_resolved_after_the_restart(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    service: FrameStoreProcess = start_frame_store(frame_wait_s=60)  # type: ignore[operator]
    event = line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330))
    send_event(broker, event)
    pending_file = service.state_dir / "pending" / f"{event.event_id}.json"
    assert settle(pending_file.exists, 10, interval=0.05)
    service.kill()

    send_frames(broker, [40])  # queued in the frame-store's persistent session
    service.start_online(collector)

    [announced] = wait_announced(collector)
    assert announced.event_id == event.event_id
    assert announced.frame_number == 40
    assert settle(lambda: not pending_file.exists(), 10, interval=0.05)


def test_the_latest_snapshot_is_retained_for_home_assistant_with_its_discovery_config(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    service: FrameStoreProcess = start_frame_store()  # type: ignore[operator]
    send_frames(broker, [40])
    send_event(broker, line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330)))
    [announced] = wait_announced(collector)
    assert announced.frame_ref is not None

    late = Collector(broker.host, broker.port, "sightline/+/snapshot/latest", "homeassistant/#")
    try:
        seen = late.wait_for(lambda ms: len(ms) >= 2, timeout=10)
    finally:
        late.close()
    by_topic = {m.topic: m for m in seen}
    latest = by_topic[f"sightline/{CAMERA}/snapshot/latest"]
    assert latest.retain
    assert latest.payload == (service.root / announced.frame_ref.key).read_bytes()
    config = json.loads(by_topic[f"homeassistant/image/sightline_{CAMERA}/snapshot/config"].payload)
    assert config["image_topic"] == f"sightline/{CAMERA}/snapshot/latest"
    assert config["content_type"] == "image/jpeg"
    assert config["availability_topic"] == STATUS_TOPIC


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("events/plaza/line_cross", b"{not json", "invalid JSON"),
        ("events/plaza/line_cross", b'{"version": 2}', "version"),
        ("detections/plaza/frame", b'{"version": 1}', "source"),
        ("events/other/line_cross", None, "does not match"),
        (  # its picture would be the clean picture of the event without the suffix
            "events/plaza/line_cross",
            encode(
                line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330)).model_copy(
                    update={"event_id": "plaza-line_cross-aaaa-clean"}
                )
            ),
            "ends in '-clean'",
        ),
    ],
)
def test_bad_input_is_dead_lettered_with_its_reason_and_work_goes_on(
    broker: Broker,
    collector: Collector,
    start_frame_store: object,
    topic: str,
    payload: bytes | None,
    reason: str,
) -> None:
    start_frame_store()  # type: ignore[operator]
    good = line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330))
    publish(broker.host, broker.port, topic, [payload or encode(good)])
    send_frames(broker, [40])
    send_event(broker, good)

    [announced] = wait_announced(collector)
    letters = [m for m in collector.messages if m.topic == "sightline/deadletter/frame-store"]
    assert announced.event_id == good.event_id
    assert len(letters) == 1
    assert reason in json.loads(letters[0].payload)["reason"]


def test_an_oversized_snapshot_travels_re_encoded_within_the_configured_size(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    service: FrameStoreProcess = start_frame_store(  # type: ignore[operator]
        image={"max_bytes": 40_000, "max_width": 640, "quality": 70}
    )
    send_frames(broker, [40])
    send_event(broker, line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330)))

    [announced] = wait_announced(collector)

    assert announced.frame_ref is not None
    assert announced.image is not None
    carried = base64.b64decode(announced.image.base64)
    assert len(carried) <= 40_000 < (service.root / announced.frame_ref.key).stat().st_size
    picture = cv2.imdecode(np.frombuffer(carried, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape[1] <= 640


def test_a_frame_that_does_not_decode_gives_an_announcement_saying_so(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    start_frame_store()  # type: ignore[operator]
    broken = json.loads(frame_message(CAMERA, 40, video_frames()[40]))
    jpeg = jpeg_of(video_frames()[40])
    headers_only = jpeg[: jpeg.index(b"\xff\xda")]  # its size is stated, its pixels are not
    broken["frame_data"]["base64"] = base64.b64encode(headers_only).decode()
    publish(broker.host, broker.port, f"detections/{CAMERA}/frame", [json.dumps(broken).encode()])
    send_event(broker, line_event(CAMERA, 40, BBox(x1=500, y1=200, x2=560, y2=330)))

    [announced] = wait_announced(collector)

    assert announced.frame_ref is None
    assert announced.reason is not None
    assert "frame 40 could not be used" in announced.reason


def test_a_pending_event_takes_its_runs_nearest_frame_when_the_edge_starts_a_new_run(
    broker: Broker, collector: Collector, start_frame_store: object
) -> None:
    service: FrameStoreProcess = start_frame_store(frame_wait_s=60)  # type: ignore[operator]
    send_frames(broker, [30, 35])  # the last JPEGs of the run (frames are rate-limited)
    event = line_event(CAMERA, 38, BBox(x1=500, y1=200, x2=560, y2=330))
    send_event(broker, event)  # waits for a frame nearer than 35 that this run never sends
    pending_file = service.state_dir / "pending" / f"{event.event_id}.json"
    assert settle(pending_file.exists, 10, interval=0.05)

    restarted = json.loads(frame_message(CAMERA, 0, video_frames()[0]))
    restarted["source"]["timestamp"] = "2099-01-01T00:00:00.000Z"  # after the event: a new run
    publish(
        broker.host, broker.port, f"detections/{CAMERA}/frame", [json.dumps(restarted).encode()]
    )

    [announced] = wait_announced(collector)  # before the 60 s wait: the run has ended
    assert announced.event_id == event.event_id
    assert announced.frame_number == 35
    assert announced.frame_ref is not None
