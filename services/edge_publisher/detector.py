"""YOLO + ByteTrack on one frame: boxes in full-frame pixels, with track ids where known.

ultralytics is imported lazily, after :func:`offline_defaults` has told it never to reach
the network (no update checks, no pip installs, no downloads).

Example:
    >>> RegionOfInterest.full(1280, 720).clamp(1280, 720)
    RegionOfInterest(x1=0, y1=0, x2=1280, y2=720)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge_publisher.source import Image
from sightline.config.edge import DetectorConfig, RoiConfig

# No update checks, no pip installs, no downloads; no banner lines on stdout.
ULTRALYTICS_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0", "YOLO_VERBOSE": "False"}


class DetectorError(Exception):
    """The detector cannot be built from its config (missing model, unknown class)."""


def offline_defaults() -> None:
    """Default ultralytics to offline and quiet, unless the environment says otherwise."""
    for key, value in ULTRALYTICS_ENV.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class RegionOfInterest:
    """A pixel rectangle of the frame, ``x2``/``y2`` exclusive."""

    x1: int
    y1: int
    x2: int
    y2: int

    @classmethod
    def full(cls, width: int, height: int) -> RegionOfInterest:
        """The whole frame."""
        return cls(0, 0, width, height)

    @classmethod
    def from_config(cls, roi: RoiConfig | None, width: int, height: int) -> RegionOfInterest:
        """The configured ROI clamped to the frame, or the whole frame when none is set.

        Raises:
            DetectorError: the ROI lies entirely outside the frame.
        """
        if roi is None:
            return cls.full(width, height)
        region = cls(roi.x1, roi.y1, roi.x2, roi.y2).clamp(width, height)
        if region.x2 <= region.x1 or region.y2 <= region.y1:
            raise DetectorError(f"detector.roi: {roi} lies outside the {width}x{height} frame")
        return region

    def clamp(self, width: int, height: int) -> RegionOfInterest:
        """This region cut to a ``width`` x ``height`` frame."""
        return RegionOfInterest(
            min(self.x1, width), min(self.y1, height), min(self.x2, width), min(self.y2, height)
        )

    def crop(self, image: Image) -> Image:
        """The part of ``image`` inside this region (contiguous, for the model)."""
        return np.ascontiguousarray(image[self.y1 : self.y2, self.x1 : self.x2])


@dataclass(frozen=True)
class Sighting:
    """One detected object in full-frame pixels; ``track_id`` None until the tracker confirms."""

    track_id: int | None
    class_id: int
    class_name: str
    confidence: float
    box: tuple[float, float, float, float]


def class_ids(wanted: Sequence[str | int] | None, names: Mapping[int, str]) -> list[int] | None:
    """Class names or ids as the model's ids; None keeps every class.

    Example:
        >>> class_ids(["person", 2], {0: "person", 1: "bicycle", 2: "car"})
        [0, 2]

    Raises:
        DetectorError: a name or id the model does not know, naming it.
    """
    if wanted is None:
        return None
    by_name = {name: class_id for class_id, name in names.items()}
    ids: list[int] = []
    for item in wanted:
        class_id = by_name.get(item) if isinstance(item, str) else item
        if isinstance(item, str) and class_id is None and item.isdigit():
            class_id = int(item)
        if class_id is None or class_id not in names:
            raise DetectorError(
                f"detector.track_classes: the model has no class {item!r}; "
                f"it knows {', '.join(sorted(by_name))}"
            )
        ids.append(class_id)
    return ids


def untracked(
    detections: NDArray[np.float32], tracks: NDArray[np.float32], min_iou: float = 0.5
) -> NDArray[np.bool_]:
    """Which detection boxes no track box overlaps by ``min_iou`` (xyxy rows).

    Example:
        >>> untracked(np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32),
        ...           np.array([[1, 1, 10, 10]], np.float32)).tolist()
        [False, True]
    """
    if len(tracks) == 0:
        return np.ones(len(detections), bool)
    d = detections[:, None, :]
    t = tracks[None, :, :]
    width = np.clip(np.minimum(d[..., 2], t[..., 2]) - np.maximum(d[..., 0], t[..., 0]), 0, None)
    height = np.clip(np.minimum(d[..., 3], t[..., 3]) - np.maximum(d[..., 1], t[..., 1]), 0, None)
    inter = width * height
    area_d = (d[..., 2] - d[..., 0]) * (d[..., 3] - d[..., 1])
    area_t = (t[..., 2] - t[..., 0]) * (t[..., 3] - t[..., 1])
    iou = inter / np.maximum(area_d + area_t - inter, 1e-9)
    return np.asarray(iou.max(axis=1) < min_iou)


def resolve_model_path(model_file: str) -> str:
    """The model path, checked to exist while ultralytics is offline.

    Raises:
        DetectorError: the file or directory does not exist, naming the path.
    """
    if not Path(model_file).exists() and os.environ.get("YOLO_OFFLINE", "1") != "0":
        raise DetectorError(
            f"detector.model_file: {model_file!r} does not exist (resolved to "
            f"{Path(model_file).resolve()}); nothing is downloaded while YOLO_OFFLINE is set"
        )
    return model_file


class Detector:
    """A tracking YOLO model; one instance per camera (the tracker keeps state).

    Args:
        config: the detector section.
    """

    def __init__(self, config: DetectorConfig) -> None:
        offline_defaults()
        from ultralytics.models import YOLO

        self.config = config
        self.model = YOLO(resolve_model_path(config.model_file), task="detect")
        self.names: dict[int, str] = {int(k): str(v) for k, v in self.model.names.items()}
        self.classes = class_ids(config.track_classes, self.names)
        self._raw: NDArray[np.float32] | None = None
        # Registered before the tracker's own callback, so it sees every detection.
        self.model.add_callback("on_predict_postprocess_end", self._keep_detections)

    def _keep_detections(self, predictor: Any) -> None:
        boxes = predictor.results[0].boxes
        self._raw = None if boxes is None else boxes.data.cpu().numpy().copy()

    def track(self, image: Image, region: RegionOfInterest) -> list[Sighting]:
        """Detect and track in ``region`` of ``image``; boxes come back in full-frame pixels."""
        options: dict[str, Any] = {
            "persist": True,
            "tracker": self.config.tracker,
            "conf": self.config.confidence_threshold,
            "classes": self.classes,
            "imgsz": self.config.imgsz,
            "verbose": False,
        }
        if self.config.device is not None:
            options["device"] = self.config.device
        self._raw = None
        results = list(self.model.track(region.crop(image), **options))
        boxes = results[0].boxes
        if boxes is None or boxes.id is None:
            # No confirmed track: publish every detection, untracked.
            rows = self._raw if self._raw is not None else np.zeros((0, 6), np.float32)
            return self._sightings(rows[:, :4], None, rows[:, 4], rows[:, 5], region)
        data: Any = boxes.data  # a torch tensor after postprocessing
        tracked = np.asarray(data.cpu().numpy())
        sightings = self._sightings(
            tracked[:, :4], tracked[:, 4], tracked[:, 5], tracked[:, 6], region
        )
        if self._raw is not None and len(self._raw):
            rows = self._raw[untracked(self._raw[:, :4], tracked[:, :4])]
            sightings += self._sightings(rows[:, :4], None, rows[:, 4], rows[:, 5], region)
        return sightings

    def _sightings(
        self,
        boxes: NDArray[np.float32],
        ids: NDArray[np.float32] | None,
        confidences: NDArray[np.float32],
        classes: NDArray[np.float32],
        region: RegionOfInterest,
    ) -> list[Sighting]:
        offset = np.array([region.x1, region.y1, region.x1, region.y1], float)
        xyxy = boxes.astype(float) + offset
        return [
            Sighting(
                track_id=None if ids is None else int(ids[i]),
                class_id=int(classes[i]),
                class_name=self.names.get(int(classes[i]), str(int(classes[i]))),
                confidence=min(1.0, max(0.0, float(confidences[i]))),
                box=(float(xyxy[i, 0]), float(xyxy[i, 1]), float(xyxy[i, 2]), float(xyxy[i, 3])),
            )
            for i in range(len(xyxy))
        ]
