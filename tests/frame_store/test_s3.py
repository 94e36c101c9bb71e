"""S3 storage against a real local S3 server (moto's, over HTTP) and real boto3 clients.

The objects' ages are set in the server's own state (as ``os.utime`` does for files): S3 has no
call to backdate an object, and retention must be tried on month-old snapshots.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer

from frame_store.retention import DAY_S, RetentionPolicy, apply_retention, scan
from frame_store.s3 import S3Store
from frame_store.storage import StorageError
from sightline.broker import free_port
from sightline.config.frames import S3Storage
from sightline.messages import BBox
from tests.frame_store.media import jpeg_of, line_event, video_frames
from tests.frame_store.process import FrameStoreProcess
from tests.frame_store.test_service import (
    CAMERA,
    send_event,
    send_frames,
    wait_announced,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector
from tests.support.waiting import settle

HOUR = 3600.0
BOX = BBox(x1=500, y1=200, x2=560, y2=330)


@dataclass(frozen=True)
class Bucket:
    """A fresh bucket on the test server, and a boto3 client to look into it."""

    name: str
    endpoint_url: str
    client: Any

    def object_keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return sorted(str(item["Key"]) for item in listed)

    def versions(self, key: str) -> int:
        listed = self.client.list_object_versions(Bucket=self.name, Prefix=key)
        return sum(v["Key"] == key for v in listed.get("Versions", []))

    def store(self, prefix: str = "") -> S3Store:
        config = S3Storage(
            type="s3", bucket=self.name, prefix=prefix, endpoint_url=self.endpoint_url
        )
        return S3Store.from_config(config)

    def backdate(self, key: str, age_s: float) -> None:
        """Make the object ``key`` ``age_s`` old, in the server's state."""
        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[self.name].keys[key]
        stored.last_modified = stored.last_modified - timedelta(seconds=age_s)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A real S3 server on a free local port: its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A new versioned bucket (versions show whether an object was written twice)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_server)
    name = f"snapshots-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return Bucket(name, s3_server, client)


@pytest.fixture
def frame_store_on_s3(
    broker: Broker, collector: Collector, bucket: Bucket, tmp_path: Path
) -> Iterator[FrameStoreProcess]:
    """The frame-store process storing in ``bucket`` under prefix ``site-a``."""
    storage = {"type": "s3", "bucket": bucket.name, "prefix": "site-a"}
    service = FrameStoreProcess(
        broker,
        tmp_path,
        storage={**storage, "endpoint_url": bucket.endpoint_url},
        retention={"days": 7, "min_age_s": 60, "interval_s": 0.5},
    )
    service.start_online(collector)
    yield service
    service.close()


@pytest.mark.parametrize(
    ("prefix", "object_key"),
    [
        ("", "cam/2025-01-15/e1.jpg"),
        ("site-a", "site-a/cam/2025-01-15/e1.jpg"),
        ("/site-a/", "site-a/cam/2025-01-15/e1.jpg"),
        ("a/b", "a/b/cam/2025-01-15/e1.jpg"),
    ],
)
def test_a_picture_is_stored_as_a_jpeg_object_under_the_prefix(
    bucket: Bucket, prefix: str, object_key: str
) -> None:
    store = bucket.store(prefix)
    assert not store.exists("cam/2025-01-15/e1.jpg")

    ref = store.put("cam/2025-01-15/e1.jpg", b"\xff\xd8picture")

    assert ref.model_dump() == {"type": "s3", "bucket": bucket.name, "key": object_key}
    assert store.exists("cam/2025-01-15/e1.jpg")
    assert store.get("cam/2025-01-15/e1.jpg") == b"\xff\xd8picture"
    head = bucket.client.head_object(Bucket=bucket.name, Key=object_key)
    assert head["ContentType"] == "image/jpeg"
    assert [p.key for p in store.pictures()] == ["cam/2025-01-15/e1.jpg"]


def test_objects_outside_the_prefix_or_layout_are_not_pictures(bucket: Bucket) -> None:
    for key in ["site-a/cam/2025-01-15/e1.jpg", "site-b/cam/2025-01-15/e2.jpg", "site-a/x.jpg"]:
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"\xff\xd8")
    assert [p.key for p in bucket.store("site-a").pictures()] == ["cam/2025-01-15/e1.jpg"]


@pytest.mark.parametrize(
    ("stored", "rules", "removed"),
    [
        pytest.param(
            [("cam", "old", 15 * DAY_S), ("cam", "new", 1 * DAY_S)],
            RetentionPolicy(14, {}, None, HOUR),
            ["old"],
            id="older-than-days",
        ),
        pytest.param(
            [("door", "d-old", 3 * DAY_S), ("yard", "y-old", 3 * DAY_S)],
            RetentionPolicy(14, {"door": 2}, None, HOUR),
            ["d-old"],
            id="per-camera-days",
        ),
        pytest.param(
            [("cam", "a", 5 * HOUR), ("cam", "b", 4 * HOUR), ("cam", "c", 3 * HOUR)],
            RetentionPolicy(14, {}, 5500, HOUR),
            ["a", "b"],
            id="size-oldest-first",
        ),
        pytest.param(
            [("a", "x", 5 * HOUR), ("b", "y", 0.2 * HOUR), ("b", "z", 0.1 * HOUR)],
            RetentionPolicy(0.001, {}, 1000, HOUR),
            ["x"],
            id="never-younger-than-min-age",
        ),
    ],
)
def test_retention_on_s3_removes_what_the_policy_says_and_nothing_else(
    bucket: Bucket,
    stored: list[tuple[str, str, float]],
    rules: RetentionPolicy,
    removed: list[str],
) -> None:
    store = bucket.store("site-a")
    for camera, event_id, age in stored:
        for suffix in ("", "-clean", "-crop"):
            key = f"{camera}/2025-01-15/{event_id}{suffix}.jpg"
            store.put(key, b"\xff" * 1000)
            bucket.backdate(f"site-a/{key}", age)

    report = apply_retention(store, rules, now=time.time())

    assert sorted(report.removed) == sorted(removed)
    assert report.freed_bytes == 3000 * len(removed)
    left = sorted(e for _, e, _ in stored if e not in removed)
    assert sorted(s.event_id for s in scan(store)) == left
    assert len(bucket.object_keys()) == 3 * len(left)


def test_the_service_stores_an_events_pictures_in_s3_and_announces_an_s3_ref(
    broker: Broker, collector: Collector, bucket: Bucket, frame_store_on_s3: FrameStoreProcess
) -> None:
    event = line_event(CAMERA, 40, BOX)
    send_frames(broker, [39, 40, 41])
    send_event(broker, event)

    [announced] = wait_announced(collector)

    base = f"site-a/{CAMERA}/2025-01-15/{event.event_id}"
    assert announced.frame_ref is not None
    assert announced.frame_ref.model_dump() == {
        "type": "s3",
        "bucket": bucket.name,
        "key": f"{base}.jpg",
    }
    assert announced.files.clean is not None
    assert announced.files.clean.key == f"{base}-clean.jpg"
    assert bucket.object_keys() == [f"{base}-clean.jpg", f"{base}-crop.jpg", f"{base}.jpg"]
    clean = bucket.client.get_object(Bucket=bucket.name, Key=f"{base}-clean.jpg")
    assert clean["ContentType"] == "image/jpeg"
    assert clean["Body"].read() == jpeg_of(video_frames()[40])
    latest = [m for m in collector.messages if m.topic == f"sightline/{CAMERA}/snapshot/latest"]
    annotated = bucket.client.get_object(Bucket=bucket.name, Key=f"{base}.jpg")["Body"].read()
    assert latest[-1].payload == annotated
    assert announced.image is not None  # the photo travels with the announcement
    assert base64.b64decode(announced.image.base64) == annotated


def test_a_redelivered_event_writes_no_object_again_and_is_announced_once(
    broker: Broker, collector: Collector, bucket: Bucket, frame_store_on_s3: FrameStoreProcess
) -> None:
    first = line_event(CAMERA, 40, BOX)
    second = line_event(CAMERA, 41, BOX, track_id=9)
    send_frames(broker, [39, 40, 41, 42])
    send_event(broker, first)
    wait_announced(collector)

    send_event(broker, first)  # a QoS 1 redelivery
    send_event(broker, second)  # handled after it: its announcement means the duplicate is done
    both = wait_announced(collector, 2)

    assert [a.event_id for a in both] == [first.event_id, second.event_id]
    first_keys = [k for k in bucket.object_keys() if first.event_id in k]
    assert len(first_keys) == 3
    assert [bucket.versions(k) for k in first_keys] == [1, 1, 1]


def test_the_service_applies_retention_to_its_bucket(
    bucket: Bucket, frame_store_on_s3: FrameStoreProcess
) -> None:
    store = bucket.store("site-a")
    store.put("yard/2024-12-01/old.jpg", b"\xff\xd8old")
    bucket.backdate("site-a/yard/2024-12-01/old.jpg", 30 * DAY_S)
    store.put("yard/2025-01-15/young.jpg", b"\xff\xd8young")

    assert settle(
        lambda: "site-a/yard/2024-12-01/old.jpg" not in bucket.object_keys(), 10, interval=0.05
    )
    assert bucket.object_keys() == ["site-a/yard/2025-01-15/young.jpg"]
    assert "retention removed snapshot" in frame_store_on_s3.log_text()


def test_a_missing_bucket_fails_the_start_check_naming_the_bucket(bucket: Bucket) -> None:
    missing = S3Store(f"{bucket.name}-gone", "", bucket.client)
    with pytest.raises(StorageError, match=f"bucket '{bucket.name}-gone'"):
        missing.check()
    bucket.store().check()  # the bucket that is there passes
