"""The one id rule: camera ids, device ids, instance names, rule names and event ids.

An id ends up as one MQTT topic level, a file or folder name, a piece of an S3 key, a
broker user name (an edge logs in as its camera id) and, slugged, part of a Home Assistant
id. It is accepted only when it is safe as every one of them:

* 1 to :data:`MAX_ID_LENGTH` characters (:data:`MAX_EVENT_ID_LENGTH` for event ids);
* only ASCII letters, digits, ``-``, ``_`` and ``.``, so no ``/``, no wildcard, no white
  space, nothing that a file system, S3 or a shell reads specially, and no two spellings of
  one look (Unicode normal forms);
* the first character a letter or a digit: never ``.`` or ``..`` (a path that leaves its
  folder), never a hidden file, never an option (``-x``) to a command-line tool.

Names that start with ``.`` or ``_`` are therefore never ids: a service may name its own
files so (``.sent``, ``_digest``) without meeting an event id.

==================  ==========  ============================================
value               accepted?   why
==================  ==========  ============================================
``driveway``        yes
``jetson-01``       yes
``cam_2``           yes
``front.door``      yes         (slug ``front_door``)
``..``              no          must start with a letter or a digit
``.hidden``         no          must start with a letter or a digit
``-rf``             no          must start with a letter or a digit
``a/b``             no          ``/`` separates topic levels and folders
``a b``             no          white space
``Süd``             no          only ASCII letters
==================  ==========  ============================================

Example:
    >>> [is_valid_id(v) for v in ("driveway", "jetson-01", "cam_2", "front.door")]
    [True, True, True, True]
    >>> [is_valid_id(v) for v in ("..", ".hidden", "-rf", "a/b", "a b", "Süd", "")]
    [False, False, False, False, False, False, False]
    >>> validate_id("driveway", "camera_id")
    'driveway'
    >>> validate_id("..", "camera_id")
    Traceback (most recent call last):
    ...
    sightline.errors.TopicError: camera_id '..' must start with a letter or a digit
    >>> validate_id("a/b", "camera_id")
    Traceback (most recent call last):
    ...
    sightline.errors.TopicError: camera_id 'a/b' must not contain '/'

Services that name a file, a folder or an S3 key after an id (an event id, a camera id)
call :func:`file_safe` (or rely on a model field typed :data:`Identifier` /
:data:`EventId`, which applies the same rule) and carry no rule of their own.

Two ids or names with the same :func:`slug` would be the same Home Assistant entity;
configs refuse them with :func:`refuse_slug_collisions`. The services' broker user names
(:data:`RESERVED_CAMERA_IDS`) are refused as camera ids by :func:`validate_camera_id`: the
ACL grants every user the detections topic of its own name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

from sightline.errors import TopicError

MAX_ID_LENGTH = 64
"""Camera, device, instance and rule ids."""

MAX_EVENT_ID_LENGTH = 128
"""Event ids: ``<camera id>-<event type>-<24 hex digits>`` fits with room to spare."""

RESERVED_CAMERA_IDS = frozenset({"engine", "frames", "notifier", "homeassistant", "ops", "console"})
"""The broker user names of the services in ``mosquitto/acl``. An edge logs in with its
camera id, so a camera with one of these names would be one of those services."""

_FORBIDDEN = {"+": "'+'", "#": "'#'", "/": "'/'"}
_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""The whole rule in one match: a letter or digit first, then letters, digits, ``._-``."""


def _problem(value: str, max_length: int) -> str | None:
    """What is wrong with ``value`` as an id, or None."""
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"is {len(value)} characters; at most {max_length}"
    return _character_problem(value)


def _character_problem(value: str) -> str | None:
    """What is wrong with the characters of ``value``, or None.

    A valid id (every envelope's, every event's) costs one regular expression match;
    only an invalid one is looked at character by character, to name the problem.
    """
    if _VALID.fullmatch(value):
        return None
    for char in value:
        if char in _FORBIDDEN:
            return f"must not contain {_FORBIDDEN[char]}"
        if char.isspace() or not char.isprintable():
            return "must not contain white space or control characters"
    if not _ALLOWED.fullmatch(value):
        bad = next(c for c in value if not _ALLOWED.fullmatch(c))
        return f"must not contain {bad!r}: only ASCII letters, digits, '-', '_' and '.'"
    return "must start with a letter or a digit"


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:20]) + "..."


def validate_id(value: str, kind: str = "id", *, max_length: int = MAX_ID_LENGTH) -> str:
    """Return ``value`` if it is a valid id (see the module's rule), else raise TopicError.

    Args:
        value: the id.
        kind: what it is, for the message (``camera_id``); empty to start the message
            with the value itself (a pydantic error already names the key).
        max_length: :data:`MAX_ID_LENGTH`, or :data:`MAX_EVENT_ID_LENGTH` for event ids.
    """
    problem = _problem(value, max_length)
    if problem is None:
        return value
    if not value:
        raise TopicError(f"{kind} {problem}" if kind else problem)
    raise TopicError(f"{kind} {_shown(value)} {problem}" if kind else f"{_shown(value)} {problem}")


def is_valid_id(value: str, *, max_length: int = MAX_ID_LENGTH) -> bool:
    """Whether ``value`` is a valid id."""
    return _problem(value, max_length) is None


def file_safe(value: str, kind: str = "id") -> str:
    """``value`` if it may name a file, a folder or an S3 key segment, else raise TopicError.

    The id rule with the event id length: use it for every id that becomes a file name.

    >>> file_safe("driveway-line_cross-0123456789abcdef01234567", "event_id")
    'driveway-line_cross-0123456789abcdef01234567'
    >>> file_safe("../../etc/passwd", "event_id")
    Traceback (most recent call last):
    ...
    sightline.errors.TopicError: event_id '../../etc/passwd' cannot name a file: must not contain '/'
    """
    problem = _problem(value, MAX_EVENT_ID_LENGTH)
    if problem is None:
        return value
    raise TopicError(f"{kind} {_shown(value)} cannot name a file: {problem}")


def validate_camera_id(value: str, kind: str = "camera_id") -> str:
    """A valid id that is not a service's broker user name (:data:`RESERVED_CAMERA_IDS`).

    >>> validate_camera_id("engine")
    Traceback (most recent call last):
    ...
    sightline.errors.TopicError: camera_id 'engine' is reserved: it is the broker user name of a service (console, engine, frames, homeassistant, notifier, ops)
    """
    validate_id(value, kind)
    if value.lower() in RESERVED_CAMERA_IDS:
        shown = f"{kind} {value!r}" if kind else repr(value)
        raise TopicError(
            f"{shown} is reserved: it is the broker user name of a service "
            f"({', '.join(sorted(RESERVED_CAMERA_IDS))})"
        )
    return value


def slug(value: str) -> str:
    """The form of an id or a name inside Home Assistant ids (lower case, ``_`` between runs).

    Two names with the same slug would be the same Home Assistant entity: configs refuse that.

    >>> slug("Back Yard"), slug("back-yard"), slug("front.door")
    ('back_yard', 'back_yard', 'front_door')
    """
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def refuse_slug_collisions(names: Iterable[str], key_path: str) -> None:
    """Raise ValueError if two of ``names`` have the same :func:`slug`, or one has none.

    The message starts with ``key_path`` (``devices``, ``devices.jetson-01.zones``), so
    :func:`sightline.validation.describe_errors` reports it at that key.

    >>> refuse_slug_collisions(["driveway", "front-door"], "devices")
    >>> refuse_slug_collisions(["front-door", "Back Yard", "front.door"], "devices")
    Traceback (most recent call last):
    ...
    ValueError: devices: 'front-door' and 'front.door' would be the same Home Assistant id 'front_door'; rename one
    >>> refuse_slug_collisions(["***"], "zones")
    Traceback (most recent call last):
    ...
    ValueError: zones: '***' has no letter or digit to make a Home Assistant id of
    """
    seen: dict[str, str] = {}
    for name in names:
        key = slug(name)
        if not key:
            raise ValueError(
                f"{key_path}: {name!r} has no letter or digit to make a Home Assistant id of"
            )
        if key in seen and seen[key] != name:
            raise ValueError(
                f"{key_path}: {seen[key]!r} and {name!r} would be the same Home Assistant "
                f"id {key!r}; rename one"
            )
        seen.setdefault(key, name)


def _check_id(value: str) -> str:
    try:
        return validate_id(value, "")
    except TopicError as exc:
        raise ValueError(str(exc)) from None


def _check_event_id(value: str) -> str:
    try:
        return validate_id(value, "", max_length=MAX_EVENT_ID_LENGTH)
    except TopicError as exc:
        raise ValueError(str(exc)) from None


Identifier = Annotated[str, AfterValidator(_check_id)]
"""A str field that must be a valid id (see :func:`validate_id`)."""

EventId = Annotated[str, AfterValidator(_check_event_id)]
"""A str field that must be a valid event id (the id rule, up to 128 characters)."""
