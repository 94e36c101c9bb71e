"""``--record FILE``: every envelope as one JSON line (no frame bytes), for replay.

Example:
    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime
    >>> from sightline.messages import DetectionEnvelope
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> envelope = DetectionEnvelope.model_validate({"source": {"device_id": "d",
    ...     "camera_id": "c", "timestamp": datetime(2025, 1, 15, tzinfo=UTC)},
    ...     "frame": {"number": 0, "width": 64, "height": 48}})
    >>> with Recorder(path) as recorder:
    ...     recorder.write(envelope)
    >>> len(path.read_text().splitlines())
    1
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO

from sightline.messages import DetectionEnvelope, encode


class Recorder:
    """Appends envelopes to a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = path.open("ab")

    def write(self, envelope: DetectionEnvelope) -> None:
        """Write one envelope, without its frame data, as a line."""
        if envelope.frame_data is not None:
            envelope = envelope.model_copy(update={"frame_data": None})
        self._file.write(encode(envelope) + b"\n")

    def write_bytes(self, payload: bytes) -> None:
        """Write one envelope already encoded (and without frame data) as a line."""
        self._file.write(payload + b"\n")

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
