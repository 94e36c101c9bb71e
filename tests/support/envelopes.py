"""Envelopes for tests, built with the real models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sightline.messages import DetectionEnvelope, encode

T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)


def envelope(camera: str = "cam", number: int = 1, device: str | None = None) -> DetectionEnvelope:
    """An empty-frame envelope of ``camera`` at frame ``number`` (40 ms per frame)."""
    return DetectionEnvelope.model_validate(
        {
            "version": 1,
            "source": {
                "device_id": device or camera,
                "camera_id": camera,
                "timestamp": T0 + timedelta(milliseconds=40 * number),
            },
            "frame": {"number": number, "width": 1280, "height": 720},
            "detections": [],
        }
    )


def envelope_bytes(camera: str = "cam", number: int = 1) -> bytes:
    """The wire form of :func:`envelope`."""
    return encode(envelope(camera, number))
