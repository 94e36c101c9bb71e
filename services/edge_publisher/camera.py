"""One camera of an edge process: its reader, tracker, frame numbers, rate limits, run and topics.

The model is the process's (shared); everything that is the camera's own lives here, so two
cameras in one process never share a tracker, a frame number, a frame gate or a run id.

Example:
    >>> pace = Pace(fps=10.0)
    >>> pace.due(0.0), pace.taken(0.0), pace.due(0.05), pace.due(0.1)
    (True, None, False, True)
    >>> Pace(fps=None).due(0.0)
    True
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from edge_publisher.delivery import Undelivered, count_undelivered
from edge_publisher.detector import (
    CameraTracker,
    DetectorError,
    Found,
    RegionOfInterest,
    Sighting,
)
from edge_publisher.envelope import (
    FrameStamp,
    centers_of,
    document_bytes,
    envelope_document,
    strongest,
)
from edge_publisher.frames import FrameEncoder, FrameGate
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.record import Recorder
from edge_publisher.run import RunStats, new_run_id
from edge_publisher.settings import CameraPlan
from edge_publisher.source import STOP_WAIT_S, CapturedFrame, FrameReader, Image
from edge_publisher.tracks import TrackMemory
from sightline.config.edge import FramePublishConfig
from sightline.mqtt.client import MqttClient

log = logging.getLogger(__name__)


@dataclass
class Pace:
    """A camera's ``fps`` cap: when its next frame is due (monotonic seconds)."""

    fps: float | None
    next_due: float = field(default=0.0)

    def due(self, now: float) -> bool:
        """Whether a frame may be taken at ``now``."""
        return not self.fps or now >= self.next_due

    def taken(self, now: float) -> None:
        """A frame was taken at ``now``: the next is due one interval later (no catching up
        on more than one missed interval)."""
        if self.fps:
            interval = 1.0 / self.fps
            self.next_due = max(self.next_due + interval, now - interval)

    def wait_s(self, now: float) -> float:
        """Seconds until the next frame is due (0 when due)."""
        return 0.0 if self.due(now) else self.next_due - now


@dataclass
class Camera:
    """Everything one camera of the edge owns; the loop hands it frames and detections."""

    plan: CameraPlan
    device_id: str
    client: MqttClient
    reader: FrameReader
    tracker: CameraTracker
    frames_config: FramePublishConfig
    metrics: EdgeMetrics
    max_detections: int
    recorder: Recorder | None = None
    max_frames: int | None = None
    run_id: str = field(default_factory=new_run_id)
    own_client: bool = False

    def __post_init__(self) -> None:
        self.camera_id = self.plan.camera_id
        self.processed = 0
        self.frames_offline = 0
        self.memory = TrackMemory()
        self.pace = Pace(self.plan.camera.fps)
        self.gate = FrameGate(self.frames_config)
        self.encoder = FrameEncoder(
            self.frames_config, self._publish_frame, name=f"jpeg-{self.camera_id}"
        )
        self.stats = RunStats(
            self.device_id, self.camera_id, self.run_id, self.plan.camera.stats_interval_s
        )
        topics = self.client.topics
        # The camera's, whatever the instance: the broker's ACL lets the camera's user write
        # under sightline/edge-publisher/<camera_id>/.
        self.stats_topic = topics.stats("edge-publisher", self.camera_id)
        self.detections_topic = str(topics.detections(self.camera_id))
        self.frames_topic = str(topics.frames(self.camera_id))
        self._region: RegionOfInterest | None = None
        self._region_size = (0, 0)
        self.done = False
        self.track_seconds = 0.0
        """The tracker's time on the last frame."""

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading and encoding."""
        self.reader.start()
        self.encoder.start()

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop reading (waiting ``timeout`` seconds at most); encode what is queued."""
        self.reader.stop(timeout)
        self.encoder.stop()

    def finished(self) -> bool:
        """The source ended or ``max_frames`` were processed."""
        if not self.done:
            limit = self.max_frames is not None and self.processed >= self.max_frames
            self.done = limit or self.reader.finished
        return self.done

    def take(self, now: float) -> CapturedFrame | None:
        """This camera's next frame when one is due and waiting, else None."""
        if self.done or not self.pace.due(now):
            return None
        frame = self.reader.next(timeout=0)
        if frame is not None:
            self.pace.taken(now)
        return frame

    # -- one frame --------------------------------------------------------------------------

    def region_for(self, frame: CapturedFrame) -> RegionOfInterest:
        """The ROI for this frame's size (computed again when the size changes).

        Raises:
            DetectorError: the ROI lies outside the frame.
        """
        if self._region is None or self._region_size != (frame.width, frame.height):
            try:
                self._region = RegionOfInterest.from_config(
                    self.plan.roi, frame.width, frame.height
                )
            except DetectorError as exc:
                raise DetectorError(f"camera {self.camera_id}: {exc}") from None
            self._region_size = (frame.width, frame.height)
        return self._region

    def crop(self, frame: CapturedFrame) -> Image:
        """The part of the frame the model sees."""
        return self.region_for(frame).crop(frame.image)

    def process(self, frame: CapturedFrame, found: Found) -> list[Sighting]:
        """Track, number and publish one frame's detections; return what it published."""
        region = self.region_for(frame)
        started = time.perf_counter()
        found_sightings = self.tracker.update(found, region)
        self.track_seconds = time.perf_counter() - started
        sightings = strongest(found_sightings, self.max_detections)
        if len(sightings) < len(found_sightings):
            log.warning(
                "camera %s frame %d: %d detections, kept the %d most confident",
                self.camera_id,
                self.processed,
                len(found_sightings),
                len(sightings),
            )
        number = self.processed
        previous = self.memory.advance(number, centers_of(sightings))
        stamp = FrameStamp(
            self.device_id, self.camera_id, number, frame.source_index, frame.timestamp, self.run_id
        )
        document = envelope_document(stamp, region, frame.width, frame.height, sightings, previous)
        payload = document_bytes(document)
        self.client.publish_nowait(self.detections_topic, payload)
        if self.recorder is not None:
            self.recorder.write_bytes(payload)
        if self.gate.admit(time.monotonic(), bool(sightings)):
            # Offline, a JPEG would only fill the publish queue (bounded in messages, not
            # bytes) with ~100 KB items that are dropped first anyway.
            if self.client.connected:
                self.encoder.submit(document, frame.image)
            else:
                self.frames_offline += 1
                self.metrics.frames_skipped.labels("offline").inc()
        self.processed += 1
        return sightings

    def _publish_frame(self, payload: bytes) -> None:
        self.client.publish_nowait(self.frames_topic, payload, droppable=True)
        self.metrics.frames_published.inc()

    # -- figures ----------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Frames this run lost: replaced before inference, or envelopes the queue dropped."""
        return self.reader.stale_dropped + self.client.outbox.dropped["essential"]

    def publish_stats(self, final: bool = False) -> None:
        """Retained figures about this run, every ``stats_interval_s`` and at the end.

        Not queued while the broker is away: the next figures replace them anyway.
        """
        now = time.monotonic()
        if not (final or self.stats.due(now)) or not self.client.connected:
            return
        payload = self.stats.payload(now, self.processed, self.dropped, final=final)
        self.client.publish_nowait(self.stats_topic, payload, droppable=True, retain=True)

    def summarize(self) -> Undelivered:
        """At exit, once the client has stopped: log what this run did and what it never
        delivered; a WARNING with the counts when envelopes were lost."""
        tracker = self.client.tracker
        lost = count_undelivered(
            self.client.outbox,
            self.detections_topic,
            self.frames_topic,
            frames_offline=self.frames_offline,
            refused=tracker.refused,
            unconfirmed=tracker.unconfirmed(),
        )
        fields = {
            "camera_id": self.camera_id,
            "frames": self.processed,
            "run_id": self.run_id,
            "source_stale_dropped": self.reader.stale_dropped,
            "jpeg_skipped": self.encoder.dropped,
            **lost.as_fields(),
        }
        if lost.envelopes:
            log.warning(
                "never delivered %d of %d envelopes and %d JPEG frames to the broker at %s:%d "
                "(envelopes: %d dropped from the full publish queue, %d still queued at exit, "
                "%d refused by the broker, %d sent and never confirmed)",
                lost.envelopes,
                self.processed,
                lost.frames,
                self.client.config.host,
                self.client.config.port,
                lost.envelopes_dropped,
                lost.envelopes_queued,
                lost.envelopes_refused,
                lost.envelopes_unconfirmed,
                extra=fields,
            )
        else:
            # JPEG frames are best effort: one due before the first connect is no alarm.
            log.info(
                "processed %d frames; every envelope delivered; %d JPEG frames not delivered",
                self.processed,
                lost.frames,
                extra=fields,
            )
        return lost
