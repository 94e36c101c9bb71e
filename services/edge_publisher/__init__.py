"""The edge-publisher: camera -> YOLO + ByteTrack -> detection envelopes on MQTT.

One envelope v1 per processed frame goes to ``detections/<camera_id>``; rate-limited JPEG
frames go to ``detections/<camera_id>/frame``. Reading the camera, inference and publishing
never wait on each other: each camera has its own reader thread and publishing goes through
a bounded, never-blocking queue. One process may read several cameras (``cameras:``) with
one model and one tracker per camera.
"""

from edge_publisher.logs import quiet_native_logs

# Before anything imports OpenCV or OpenVINO: their log levels are read when they load.
quiet_native_logs()
