"""The edge-publisher's sections: ``camera`` (or ``cameras``), ``detector``, ``frames``.

Example:
    >>> camera = CameraConfig(url="rtsp://cam:8554/stream")
    >>> camera.rtsp_transport, camera.timeout_s, camera.stats_interval_s
    ('tcp', 10.0, 10.0)
    >>> entry = EdgeCameraConfig(camera_id="porch", url="rtsp://cam2:8554/s")
    >>> entry.camera_id, entry.section().url
    ('porch', 'rtsp://cam2:8554/s')
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, FilePath, SecretStr, model_validator

from sightline.config.base import StrictModel
from sightline.ids import Identifier

BUNDLED_MODEL = "models/yolo11n_int8_openvino_model"
"""The OpenVINO model shipped in the repository and the images (relative to the repo root,
``/app`` in the images)."""


class RoiConfig(StrictModel):
    """A region of interest in pixels; only it goes through the detector."""

    x1: int = Field(ge=0, description="Left edge, pixels.")
    y1: int = Field(ge=0, description="Top edge, pixels.")
    x2: int = Field(gt=0, description="Right edge, pixels (exclusive).")
    y2: int = Field(gt=0, description="Bottom edge, pixels (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.x2 <= self.x1:
            raise ValueError("x2: must be greater than x1")
        if self.y2 <= self.y1:
            raise ValueError("y2: must be greater than y1")
        return self


class CameraConfig(StrictModel):
    """Where frames come from: an RTSP/HTTP URL, a file path or a USB device index."""

    url: str | int = Field(
        default="samples/pedestrians.avi",
        description="rtsp://..., http://..., a video file, or a device index such as 0.",
    )
    fps: float | None = Field(default=None, gt=0, le=240, description="Cap on processed fps.")
    loop: bool = Field(default=False, description="Start a file again at its end.")
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect delay.")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        default="tcp",
        description="How an rtsp:// stream carries its video: tcp (no torn frames when packets "
        "are lost) or udp; each camera of an edge its own. An OPENCV_FFMPEG_CAPTURE_OPTIONS "
        "environment variable set before the edge starts wins for every camera.",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A stream that does not open, or sends no frame, for this long is reopened.",
    )
    stats_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="How often the edge publishes its fps, frames and drops (retained) on "
        "sightline/edge-publisher/<camera_id>/stats.",
    )


class CameraLogin(StrictModel):
    """A camera's own broker login in a multi-camera edge (the ACL's user is the camera)."""

    username: str | None = Field(default=None, description="Broker user; default mqtt's.")
    password: SecretStr | None = Field(default=None, description="Prefer password_file.")
    password_file: FilePath | None = Field(default=None, description="First line: password.")


class EdgeCameraConfig(CameraConfig):
    """One entry of ``cameras:``: a camera section plus the camera's id, its own ROI and,
    optionally, its own broker login."""

    camera_id: Identifier = Field(description="This camera's id (topics, envelopes, ACL user).")
    roi: RoiConfig | None = Field(default=None, description="Default: detector.roi.")
    mqtt: CameraLogin | None = Field(
        default=None,
        description="This camera's broker login; default: the edge's mqtt username/password.",
    )

    def section(self) -> CameraConfig:
        """The plain camera section (without id, ROI and login)."""
        return CameraConfig.model_validate(
            self.model_dump(include=set(CameraConfig.model_fields), exclude_unset=True)
        )


class DetectorConfig(StrictModel):
    """YOLO + ByteTrack; one model instance per edge process, one tracker per camera."""

    model_file: str = Field(
        default="yolo11n.pt",
        description="Any model path ultralytics loads (.pt, OpenVINO dir, .tflite, .onnx). "
        f"The bundled one: {BUNDLED_MODEL}. A missing file is downloaded only with "
        "allow_download: true.",
    )
    allow_download: bool = Field(
        default=False,
        description="Let ultralytics download a missing model_file it knows (yolo11n.pt...) "
        "for this load, although the edge otherwise runs offline (YOLO_OFFLINE).",
    )
    batch_cameras: bool = Field(
        default=False,
        description="Run the frames of all cameras ready at once as one batch. Off by default: "
        "a static batch-1 export (the bundled OpenVINO model) is split into single frames "
        "anyway; worth it on a GPU with a .pt or a dynamic-batch export.",
    )
    confidence_threshold: float = Field(default=0.25, ge=0.0, le=1.0)
    track_classes: list[str | int] | None = Field(
        default=None, description="Class names or ids to keep; all when unset."
    )
    imgsz: int = Field(default=640, ge=32, le=4096, description="Inference size.")
    tracker: str = Field(default="bytetrack.yaml", description="ultralytics tracker config.")
    device: str | None = Field(default=None, description="cpu, cuda:0, ...; auto when unset.")
    roi: RoiConfig | None = Field(default=None, description="Crop before inference.")


class FramePublishConfig(StrictModel):
    """JPEG frames on ``detections/<camera_id>/frame`` for the frame-store."""

    enabled: bool = Field(default=True, description="Publish frames at all.")
    interval_s: float = Field(default=1.0, ge=0, description="At most one frame per interval.")
    on_detection: bool = Field(
        default=True, description="Also publish frames with detections, within min_interval_s."
    )
    min_interval_s: float = Field(
        default=0.2,
        ge=0,
        description="Hard floor between any two frames published (0.2: at most 5 JPEGs/s); "
        "the frame-store draws an event on the nearest frame, with the object where it was.",
    )
    jpeg_quality: int = Field(default=80, ge=1, le=100)
    encoder_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower than inference the JPEG encoder thread runs (Linux nice "
        "increment): on a busy CPU the model goes first and a JPEG waits (or is skipped).",
    )
    max_width: int | None = Field(default=None, ge=64, le=16384, description="Downscale to this.")
