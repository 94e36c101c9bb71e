"""Editing nested test data by a dotted path, list indexes as numbers.

Example:
    >>> set_dotted({"lines": [{"name": "a"}]}, "lines.0.name", "b")
    {'lines': [{'name': 'b'}]}
"""

from __future__ import annotations

from typing import Any


def set_dotted(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Replace the value at ``path`` in ``data`` (in place); ``data``."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data
