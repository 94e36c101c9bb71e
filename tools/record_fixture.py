"""Record the bundled video's real detections as envelope v1 JSON lines (a test fixture).

Runs the bundled YOLO11n (OpenVINO int8) with ByteTrack over ``samples/pedestrians.avi`` and
writes one envelope per frame, frame numbers from 0, coordinates rounded to 0.1 px.

Example:
    .. code-block:: shell

        YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 .venv/bin/python tools/record_fixture.py \\
            --out tests/fixtures/engine/pedestrians.jsonl
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=UTC)
FRAME_S = 0.04


def _stamp(number: int) -> str:
    moment = T0 + timedelta(seconds=FRAME_S * number)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _detections(result: Any) -> list[dict[str, Any]]:
    boxes = result.boxes
    ids = boxes.id.int().tolist() if boxes.id is not None else [None] * len(boxes)
    rows = []
    for box, cls, conf, track_id in zip(
        boxes.xyxy.tolist(), boxes.cls.int().tolist(), boxes.conf.tolist(), ids, strict=True
    ):
        x1, y1, x2, y2 = (round(v, 1) for v in box)
        rows.append(
            {
                "track_id": track_id,
                "class_id": cls,
                "class_name": result.names[cls],
                "confidence": round(conf, 3),
                "bbox": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                "center": {"x": round((x1 + x2) / 2, 1), "y": round((y1 + y2) / 2, 1)},
            }
        )
    return rows


def record(video: Path, model_dir: Path, out: Path, device: str, camera: str) -> int:
    """Track ``video`` and write its envelopes to ``out``; return the number of frames."""
    from ultralytics import YOLO  # type: ignore[attr-defined]

    model = YOLO(str(model_dir), task="detect")
    count = 0
    with out.open("w") as sink:
        for number, result in enumerate(
            model.track(
                str(video), persist=True, tracker="bytetrack.yaml", stream=True, verbose=False
            )
        ):
            height, width = result.orig_shape
            envelope = {
                "version": 1,
                "source": {"device_id": device, "camera_id": camera, "timestamp": _stamp(number)},
                "frame": {"number": number, "width": width, "height": height},
                "detections": _detections(result),
            }
            sink.write(json.dumps(envelope, separators=(",", ":")) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "samples/pedestrians.avi")
    parser.add_argument("--model", type=Path, default=ROOT / "models/yolo11n_int8_openvino_model")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "tests/fixtures/engine/pedestrians.jsonl"
    )
    parser.add_argument("--device", default="street-pi")
    parser.add_argument("--camera", default="street")
    args = parser.parse_args(argv)
    frames = record(args.video, args.model, args.out, args.device, args.camera)
    print(f"{frames} frames -> {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
