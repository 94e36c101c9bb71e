"""Pictures in S3-compatible storage (AWS S3, MinIO, ...), one object per picture.

Object keys are ``<prefix>/<camera_id>/<YYYY-MM-DD>/<event_id>[-clean|-crop].jpg`` with content
type ``image/jpeg``; announcements carry ``frame_ref: {type: s3, bucket, key}``. Credentials
come from boto3's standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, the shared
config files, an instance role); ``endpoint_url`` points at a MinIO-like server.

Example:
    .. code-block:: python

        store = S3Store.from_config(S3Storage(type="s3", bucket="snapshots", prefix="site-a"))
        store.check()
        store.put("driveway/2025-01-15/e1.jpg", jpeg).key  # 'site-a/driveway/2025-01-15/e1.jpg'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from frame_store.storage import JPEG_CONTENT_TYPE, StorageError, StoredPicture
from sightline.config.frames import S3Storage
from sightline.messages import FrameRef

DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Store:
    """Pictures as objects of ``bucket`` under ``prefix``; keys given to it are relative."""

    bucket: str
    prefix: str
    client: Any  # a boto3 S3 client (boto3 ships no types)

    @classmethod
    def from_config(cls, config: S3Storage) -> S3Store:
        """A store with a boto3 client built from the ``storage`` section."""
        client = boto3.client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            config=_CLIENT_CONFIG,
        )
        return cls(config.bucket, config.prefix.strip("/"), client)

    def object_key(self, key: str) -> str:
        """The object key of ``key``: ``<prefix>/<key>``, or ``key`` without a prefix."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        """Make sure the bucket is there and reachable with these credentials.

        Raises:
            StorageError: it is not, with S3's reason.
        """
        with _storage_errors(f"bucket {self.bucket!r}"):
            self.client.head_bucket(Bucket=self.bucket)

    def exists(self, key: str) -> bool:
        """Whether the object of ``key`` is stored."""
        with _storage_errors(self.object_key(key)):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return False
                raise
        return True

    def put(self, key: str, jpeg: bytes) -> FrameRef:
        """Upload ``jpeg`` as ``image/jpeg`` (an S3 PUT is atomic: whole or nothing)."""
        with _storage_errors(self.object_key(key)):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=jpeg,
                ContentType=JPEG_CONTENT_TYPE,
            )
        return self.ref(key)

    def get(self, key: str) -> bytes:
        """The object's bytes."""
        with _storage_errors(self.object_key(key)):
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            return bytes(response["Body"].read())

    def ref(self, key: str) -> FrameRef:
        """``{type: s3, bucket, key}`` with the full object key."""
        return FrameRef(type="s3", bucket=self.bucket, key=self.object_key(key))

    def pictures(self) -> list[StoredPicture]:
        """Every ``<prefix>/<camera>/<day>/<name>.jpg`` object, keys relative to the prefix."""
        start = f"{self.prefix}/" if self.prefix else ""
        found = []
        with _storage_errors(f"bucket {self.bucket!r}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(start) :]
                    if _is_picture(key):
                        modified = item["LastModified"].timestamp()
                        found.append(StoredPicture(key, modified, int(item["Size"])))
        return found

    def delete(self, keys: Iterable[str]) -> None:
        """Delete the objects, a thousand per request.

        Raises:
            StorageError: S3 refused some of them (named in the message).
        """
        for batch in _batches((self.object_key(k) for k in keys), DELETE_BATCH):
            with _storage_errors(f"bucket {self.bucket!r}"):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            errors = response.get("Errors", [])
            if errors:
                failed = ", ".join(f"{e['Key']} ({e.get('Code')})" for e in errors)
                raise StorageError(f"S3 did not delete {failed}")


@contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """Turn boto's errors into :class:`StorageError` naming what was being done."""
    try:
        yield
    except ClientError as exc:
        raise StorageError(f"S3 {what}: {_code(exc)}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 {what}: {exc}") from exc


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _is_picture(key: str) -> bool:
    parts = key.split("/")
    return len(parts) == 3 and parts[2].endswith(".jpg") and not parts[2].startswith(".")


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
