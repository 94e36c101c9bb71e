"""An event drawn on a neighbouring frame shows its object where it was in that frame."""

from __future__ import annotations

import pytest

from frame_store.pictures import as_seen_in
from frame_store.ring import RecentFrame
from sightline.messages import BBox
from tests.frame_store.media import line_event

AT_EVENT = BBox(x1=100, y1=100, x2=150, y2=220)
TWO_FRAMES_LATER = BBox(x1=110, y1=104, x2=160, y2=224)
SOMEONE_ELSE = BBox(x1=600, y1=300, x2=640, y2=400)


@pytest.mark.parametrize(
    ("frame_number", "boxes", "drawn"),
    [
        (40, {7: AT_EVENT}, AT_EVENT),  # the event's own frame: as the event says
        (42, {7: TWO_FRAMES_LATER, 9: SOMEONE_ELSE}, TWO_FRAMES_LATER),  # the track's box there
        (42, {9: SOMEONE_ELSE}, AT_EVENT),  # the track is not in that frame: the event's box
        (42, {}, AT_EVENT),  # a frame without detections
    ],
)
def test_the_object_is_drawn_where_the_track_was_in_the_frame_used(
    frame_number: int, boxes: dict[int, BBox], drawn: BBox
) -> None:
    event = line_event("cam", 40, AT_EVENT, track_id=7)
    frame = RecentFrame(number=frame_number, jpeg=b"\xff\xd8", boxes=boxes)

    assert as_seen_in(event, frame).object.bbox == drawn
    assert as_seen_in(event, frame).event_id == event.event_id
