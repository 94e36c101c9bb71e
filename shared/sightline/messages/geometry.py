"""Points and boxes in pixel coordinates of the full frame."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from sightline.messages.base import MAX_COORDINATE, Message


class Point(Message):
    """A point in pixels; finite, within a sane bound.

    Example:
        >>> Point(x=250, y=350).as_tuple()
        (250.0, 350.0)
    """

    x: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)
    y: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)

    def as_tuple(self) -> tuple[float, float]:
        """``(x, y)``."""
        return (self.x, self.y)


class BBox(Message):
    """An axis-aligned box ``(x1, y1)``-``(x2, y2)`` in pixels, ``x2 >= x1`` and ``y2 >= y1``.

    Example:
        >>> BBox(x1=100, y1=200, x2=400, y2=500).bottom_center.as_tuple()
        (250.0, 500.0)
    """

    x1: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)
    y1: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)
    x2: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)
    y2: float = Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.x2 < self.x1:
            raise ValueError(f"x2: must be >= x1 (got x1={self.x1}, x2={self.x2})")
        if self.y2 < self.y1:
            raise ValueError(f"y2: must be >= y1 (got y1={self.y1}, y2={self.y2})")
        return self

    @property
    def center(self) -> Point:
        """The middle of the box."""
        return Point(x=(self.x1 + self.x2) / 2, y=(self.y1 + self.y2) / 2)

    @property
    def bottom_center(self) -> Point:
        """The middle of the bottom edge: where feet and wheels touch the ground."""
        return Point(x=(self.x1 + self.x2) / 2, y=self.y2)
