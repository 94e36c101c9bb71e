"""The frame-store: the snapshot of every event, clean and annotated, with retention.

It keeps the latest frames of each camera (``detections/+/frame``) in a bounded ring, and for
every event (``events/#``) stores the event's frame as ``<root>/<camera>/<date>/<event_id>.jpg``
(annotated), ``-clean.jpg`` and ``-crop.jpg``, then announces it on
``events/<camera>/snapshot``.
"""
