"""The capture + inference loop: frame -> detector -> envelope -> non-blocking publish."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from edge_publisher.delivery import Undelivered, count_undelivered
from edge_publisher.detector import Detector, RegionOfInterest
from edge_publisher.envelope import FrameStamp, build_envelope, centers_of, strongest
from edge_publisher.frames import FrameEncoder, FrameGate
from edge_publisher.metrics import EdgeMetrics
from edge_publisher.progress import ProgressLine
from edge_publisher.record import Recorder
from edge_publisher.run import RunStats, new_run_id
from edge_publisher.source import CapturedFrame, FrameReader, SourceKind
from edge_publisher.tracks import TrackMemory
from sightline.config.settings import EdgeSettings
from sightline.health import Heartbeat
from sightline.messages import DetectionEnvelope
from sightline.mqtt.client import MqttClient

log = logging.getLogger(__name__)

DROP_REPORT_EVERY_S = 5.0


@dataclass
class EdgeLoop:
    """Runs until the source ends, ``max_frames`` are processed or ``stopping`` is set."""

    settings: EdgeSettings
    client: MqttClient
    reader: FrameReader
    detector: Detector
    metrics: EdgeMetrics
    heartbeat: Heartbeat
    stopping: threading.Event
    recorder: Recorder | None = None
    max_frames: int | None = None
    run_id: str = field(default_factory=new_run_id)

    def __post_init__(self) -> None:
        self.processed = 0
        self.memory = TrackMemory()
        self._region: RegionOfInterest | None = None
        self._region_size = (0, 0)
        self._reported_drops: dict[str, int] = {}
        self.camera_id = self.settings.effective_camera_id
        self.gate = FrameGate(self.settings.frames)
        self.encoder = FrameEncoder(self.settings.frames, self._publish_frame)
        self.progress = ProgressLine(
            self.reader.total_frames, wanted=self.reader.kind is SourceKind.FILE
        )
        self.stats = RunStats(
            self.settings.device_id,
            self.camera_id,
            self.run_id,
            self.settings.camera.stats_interval_s,
        )
        # The camera's, whatever the instance: the broker's ACL lets the edge's user (its
        # camera id) write under sightline/edge-publisher/<camera_id>/.
        self.stats_topic = self.client.topics.stats(self.client.service, self.camera_id)
        self.frames_offline = 0

    def __call__(self) -> None:
        """Run the loop (the service's main loop)."""
        self.reader.start()
        self.encoder.start()
        fps = self.settings.camera.fps
        interval = 1.0 / fps if fps else 0.0
        next_due = time.monotonic()
        last_report = time.monotonic()
        try:
            while not self.stopping.is_set() and not self._done():
                self.heartbeat.beat()
                self._publish_stats()
                if interval and self.stopping.wait(max(0.0, next_due - time.monotonic())):
                    break
                frame = self.reader.next(timeout=0.5)
                self.metrics.observe_source(self.reader.stale_dropped, self.reader.reconnects)
                if frame is None:
                    if self.reader.finished:
                        break
                    continue
                next_due = max(next_due + interval, time.monotonic() - interval)
                self._process(frame)
                if time.monotonic() - last_report >= DROP_REPORT_EVERY_S:
                    last_report = time.monotonic()
                    self._report_drops()
        finally:
            self.reader.stop()
            self.encoder.stop()
            self.progress.close()
            if self.recorder is not None:
                self.recorder.close()
            self._report_drops()
            self._publish_stats(final=True)

    def _done(self) -> bool:
        return self.max_frames is not None and self.processed >= self.max_frames

    def _process(self, frame: CapturedFrame) -> None:
        region = self._region_for(frame)
        started = time.perf_counter()
        found = self.detector.track(frame.image, region)
        self.metrics.inference_seconds.observe(time.perf_counter() - started)
        sightings = strongest(found, self.settings.max_detections)
        if len(sightings) < len(found):
            log.warning(
                "frame %d: %d detections, kept the %d most confident",
                self.processed,
                len(found),
                len(sightings),
            )
        number = self.processed
        previous = self.memory.advance(number, centers_of(sightings))
        stamp = FrameStamp(
            self.settings.device_id,
            self.camera_id,
            number,
            frame.source_index,
            frame.timestamp,
            self.run_id,
        )
        envelope = build_envelope(stamp, region, frame.width, frame.height, sightings, previous)
        self.client.publish_nowait(self.client.topics.detections(self.camera_id), envelope)
        if self.recorder is not None:
            self.recorder.write(envelope)
        if self.gate.admit(time.monotonic(), bool(sightings)):
            # Offline, a JPEG would only fill the publish queue (bounded in messages, not
            # bytes) with ~100 KB items that are dropped first anyway.
            if self.client.connected:
                self.encoder.submit(envelope, frame.image)
            else:
                self.frames_offline += 1
                self.metrics.frames_skipped.labels("offline").inc()
        self.processed += 1
        self._count(envelope)

    def _region_for(self, frame: CapturedFrame) -> RegionOfInterest:
        if self._region is None or self._region_size != (frame.width, frame.height):
            self._region = RegionOfInterest.from_config(
                self.settings.detector.roi, frame.width, frame.height
            )
            self._region_size = (frame.width, frame.height)
        return self._region

    def _publish_frame(self, envelope: DetectionEnvelope) -> None:
        topic = self.client.topics.frames(self.camera_id)
        self.client.publish_nowait(topic, envelope, droppable=True)
        self.metrics.frames_published.inc()

    def _count(self, envelope: DetectionEnvelope) -> None:
        self.metrics.frames_processed.inc()
        for detection in envelope.detections:
            self.metrics.detections.labels(detection.class_name).inc()
        self.metrics.tracks_remembered.set(len(self.memory))
        self.progress.update(self.processed)

    @property
    def dropped(self) -> int:
        """Frames this run lost: replaced before inference, or envelopes the queue dropped."""
        return self.reader.stale_dropped + self.client.outbox.dropped["essential"]

    def _publish_stats(self, final: bool = False) -> None:
        """Retained figures about this run, every ``camera.stats_interval_s`` and at the end.

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
        topics = self.client.topics
        lost = count_undelivered(
            self.client.outbox,
            str(topics.detections(self.camera_id)),
            str(topics.frames(self.camera_id)),
            frames_offline=self.frames_offline,
        )
        fields = {
            "frames": self.processed,
            "run_id": self.run_id,
            "source_stale_dropped": self.reader.stale_dropped,
            "jpeg_skipped": self.encoder.dropped,
            **lost.as_fields(),
        }
        if lost.envelopes:
            log.warning(
                "never delivered %d of %d envelopes and %d JPEG frames to the broker at %s:%d "
                "(%d envelopes dropped from the full publish queue, %d still queued at exit)",
                lost.envelopes,
                self.processed,
                lost.frames,
                self.client.config.host,
                self.client.config.port,
                lost.envelopes_dropped,
                lost.envelopes_queued,
                extra=fields,
            )
        else:
            # JPEG frames are best effort: one due before the first connect is no alarm.
            log.info(
                "processed %d frames; no envelope dropped or left queued; %d JPEG frames "
                "not delivered",
                self.processed,
                lost.frames,
                extra=fields,
            )
        return lost

    def _report_drops(self) -> None:
        dropped = dict(self.client.outbox.dropped)
        skipped = self.encoder.dropped
        self.metrics.frames_skipped.labels("encoder_busy").inc(
            skipped - self._reported_drops.get("jpeg", 0)
        )
        self._reported_drops["jpeg"] = skipped
        if any(dropped[k] != self._reported_drops.get(k, 0) for k in dropped):
            log.warning(
                "publish queue full: dropped %d envelopes and %d frames so far",
                dropped["essential"],
                dropped["droppable"],
                extra={"publish_dropped": dropped, "queued": len(self.client.outbox)},
            )
            self._reported_drops.update(dropped)
