"""The edge-publisher: camera -> YOLO + ByteTrack -> detection envelopes on MQTT.

One envelope v1 per processed frame goes to ``detections/<camera_id>``; rate-limited JPEG
frames go to ``detections/<camera_id>/frame``. Reading the camera, inference and publishing
never wait on each other: the camera has its own thread and publishing goes through the
shared client's bounded, never-blocking queue.
"""
