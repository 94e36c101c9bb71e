"""Turn pydantic's validation errors into lines a person can act on.

Each line is ``<key path>: <problem>``, the key path written as a user writes it in YAML or
JSON: ``devices.jetson-02.zones[0].x2_pct: must be greater than x1_pct``.

Example:
    >>> from pydantic import BaseModel, ValidationError
    >>> class Box(BaseModel):
    ...     width: int
    >>> try:
    ...     Box.model_validate({"width": "wide"})
    ... except ValidationError as exc:
    ...     describe_errors(exc)
    ['width: Input should be a valid integer, unable to parse string as an integer']
"""

from __future__ import annotations

import re

from pydantic import ValidationError

# A model validator that wants to point below its own model starts its message with a
# relative path: "events[0].match.line: no line named 'x'".
_RELATIVE_PATH = re.compile(r"^([A-Za-z_][\w-]*(?:\[\d+\])*(?:\.[\w-]+(?:\[\d+\])*)*): (.*)$", re.S)
_PREFIXES = ("Value error, ", "Assertion failed, ")


def format_path(loc: tuple[str | int, ...]) -> str:
    """``("devices", "jetson-02", "zones", 0, "x2_pct")`` -> ``devices.jetson-02.zones[0].x2_pct``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe_errors(exc: ValidationError) -> list[str]:
    """One ``path: problem`` line per error of ``exc``."""
    lines = []
    for error in exc.errors(include_url=False):
        # tagged unions add the tag as a level of the path; a user never writes it
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("tag:")))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and its place in the file)"
        for prefix in _PREFIXES:
            if message.startswith(prefix):
                message = message[len(prefix) :]
        path = format_path(loc)
        match = _RELATIVE_PATH.match(message)
        if match and error["type"] == "value_error":
            sub, message = match.groups()
            path = f"{path}.{sub}" if path else sub
        lines.append(f"{path}: {message}" if path else message)
    return lines
