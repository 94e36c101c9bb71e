"""Ids that end up inside MQTT topics: camera ids, device ids, instance names.

An id is refused when it is empty, longer than :data:`MAX_ID_LENGTH`, or holds a character
that would change the meaning of a topic (``+``, ``#``, ``/``), white space or a control
character.

Example:
    >>> validate_id("driveway", "camera_id")
    'driveway'
    >>> validate_id("a/b", "camera_id")
    Traceback (most recent call last):
    ...
    sightline.errors.TopicError: camera_id 'a/b' must not contain '/'
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from sightline.errors import TopicError

MAX_ID_LENGTH = 64
_FORBIDDEN = {"+": "'+'", "#": "'#'", "/": "'/'"}


def validate_id(value: str, kind: str = "id") -> str:
    """Return ``value`` if it can stand as one level of a topic, else raise TopicError."""
    if not value:
        raise TopicError(f"{kind} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise TopicError(
            f"{kind} {value[:20]!r}... is {len(value)} characters; at most {MAX_ID_LENGTH}"
        )
    for char in value:
        if char in _FORBIDDEN:
            raise TopicError(f"{kind} {value!r} must not contain {_FORBIDDEN[char]}")
        if char.isspace() or not char.isprintable():
            raise TopicError(f"{kind} {value!r} must not contain white space or control characters")
    return value


def _check_id(value: str) -> str:
    try:
        return validate_id(value, "id")
    except TopicError as exc:
        raise ValueError(str(exc)) from None


def slug(value: str) -> str:
    """The form of an id or a name inside Home Assistant ids (lower case, ``_`` between runs).

    Two names with the same slug would be the same Home Assistant entity: configs refuse that.

    >>> slug("Back Yard"), slug("back-yard"), slug("front.door")
    ('back_yard', 'back_yard', 'front_door')
    """
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


Identifier = Annotated[str, AfterValidator(_check_id)]
"""A str field that must be usable as one topic level (see :func:`validate_id`)."""
