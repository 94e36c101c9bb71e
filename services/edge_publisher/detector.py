"""YOLO + ByteTrack on one frame: boxes in full-frame pixels, with track ids where known.

ultralytics is imported lazily, after :func:`offline_defaults` has told it never to reach
the network (no update checks, no pip installs, no downloads).

Example:
    >>> RegionOfInterest.full(1280, 720).clamp(1280, 720)
    RegionOfInterest(x1=0, y1=0, x2=1280, y2=720)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge_publisher.logs import quiet_native_logs
from edge_publisher.source import Image
from sightline.config.edge import BUNDLED_MODEL, DetectorConfig, RoiConfig

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


def resolve_model_path(model_file: str, allow_download: bool = False) -> str:
    """The model path, checked to exist unless ultralytics may download it.

    Raises:
        DetectorError: the file or directory does not exist and downloads are off, naming the
            path, the setting that allows the download and the bundled model.
    """
    offline = os.environ.get("YOLO_OFFLINE", "1") != "0"
    if not Path(model_file).exists() and offline and not allow_download:
        raise DetectorError(
            f"detector.model_file: {model_file!r} does not exist (resolved to "
            f"{Path(model_file).resolve()}) and the edge never downloads a model unless "
            "told to: set detector.allow_download: true (SIGHTLINE_DETECTOR__ALLOW_DOWNLOAD=1) "
            "to let ultralytics fetch it, or use the bundled OpenVINO model "
            f"(detector.model_file: {BUNDLED_MODEL})"
        )
    return model_file


def load_model(config: DetectorConfig) -> Any:
    """The ultralytics model of ``config``; a download is allowed for this load only when
    ``allow_download`` is set (YOLO_OFFLINE is lifted meanwhile, then restored).

    Raises:
        DetectorError: the model file is missing (see :func:`resolve_model_path`), or the
            download failed.
    """
    offline_defaults()
    quiet_native_logs()
    from ultralytics.models import YOLO

    path = resolve_model_path(config.model_file, config.allow_download)
    if not config.allow_download or Path(path).exists():
        return YOLO(path, task="detect")
    saved = os.environ.get("YOLO_OFFLINE")
    os.environ["YOLO_OFFLINE"] = "0"
    try:
        return YOLO(path, task="detect")
    except Exception as exc:
        raise DetectorError(
            f"detector.model_file: could not download {path!r} ({type(exc).__name__}: {exc}); "
            f"the bundled OpenVINO model needs no download: {BUNDLED_MODEL}"
        ) from None
    finally:
        if saved is None:
            del os.environ["YOLO_OFFLINE"]
        else:
            os.environ["YOLO_OFFLINE"] = saved


def tracker_factory(tracker: str) -> Callable[[], Any]:
    """Makes fresh trackers of the ultralytics tracker config ``tracker`` (bytetrack.yaml).

    Raises:
        DetectorError: a tracker that needs the predictor's internals (ReID features).
    """
    from ultralytics.trackers.track import TRACKER_MAP
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    cfg = IterableSimpleNamespace(**YAML.load(check_yaml(tracker)))  # type: ignore[no-untyped-call]
    kind = TRACKER_MAP.get(cfg.tracker_type)
    if kind is None or hasattr(kind, "setup_predictor") or getattr(cfg, "with_reid", False):
        raise DetectorError(
            f"detector.tracker: {tracker!r} ({cfg.tracker_type}) is not supported by the edge; "
            "use bytetrack.yaml or botsort.yaml without ReID"
        )
    return lambda: kind(args=cfg)


@dataclass(frozen=True)
class Found:
    """The model's detections in one crop: ultralytics boxes (numpy) and the crop."""

    boxes: Any
    crop: Image

    @property
    def rows(self) -> NDArray[np.float32]:
        """``x1, y1, x2, y2, confidence, class`` per detection, crop pixels."""
        return np.asarray(self.boxes.data, np.float32).reshape(-1, 6)


class Detector:
    """One YOLO model, shared by every camera of the process; trackers are per camera
    (:class:`CameraTracker`).

    Args:
        config: the detector section.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.model = load_model(config)
        self.names: dict[int, str] = {int(k): str(v) for k, v in self.model.names.items()}
        self.classes = class_ids(config.track_classes, self.names)
        self.new_tracker = tracker_factory(config.tracker)
        self._own: CameraTracker | None = None
        self._options: dict[str, Any] = {
            "conf": config.confidence_threshold,
            "classes": self.classes,
            "imgsz": config.imgsz,
            "verbose": False,
        }
        if config.device is not None:
            self._options["device"] = config.device

    def detect(self, crops: Sequence[Image]) -> list[Found]:
        """Run the model on ``crops`` (one batch); detections per crop, in crop pixels."""
        results = self.model.predict(list(crops), **self._options)
        return [
            Found(result.boxes.cpu().numpy(), crop)
            for result, crop in zip(results, crops, strict=True)
        ]

    def tracker(self) -> CameraTracker:
        """A new tracker for one camera, naming classes as this model does."""
        return CameraTracker(self.new_tracker(), self.names)

    def track(self, image: Image, region: RegionOfInterest) -> list[Sighting]:
        """Detect and track in ``region`` of ``image`` with this detector's own tracker (one
        camera); boxes come back in full-frame pixels."""
        if self._own is None:
            self._own = self.tracker()
        crop = region.crop(image)
        return self._own.update(self.detect([crop])[0], region)


class CameraTracker:
    """One camera's tracker state (ByteTrack): detections in, sightings with ids out.

    Detections the tracker has not confirmed are kept, with no track id.
    """

    def __init__(self, tracker: Any, names: Mapping[int, str]) -> None:
        self._tracker = tracker
        self.names = names

    def update(self, found: Found, region: RegionOfInterest) -> list[Sighting]:
        """Track this frame's detections; boxes come back in full-frame pixels."""
        raw = found.rows
        tracks = np.asarray(self._tracker.update(found.boxes, found.crop), np.float32)
        if len(tracks) == 0:
            return self._sightings(raw[:, :4], None, raw[:, 4], raw[:, 5], region)
        # x1, y1, x2, y2, id, score, class, index; the Kalman box clipped to the crop, as
        # ultralytics' own track() does
        height, width = found.crop.shape[:2]
        tracks[:, [0, 2]] = tracks[:, [0, 2]].clip(0, width)
        tracks[:, [1, 3]] = tracks[:, [1, 3]].clip(0, height)
        sightings = self._sightings(tracks[:, :4], tracks[:, 4], tracks[:, 5], tracks[:, 6], region)
        if len(raw):
            rows = raw[untracked(raw[:, :4], tracks[:, :4])]
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
