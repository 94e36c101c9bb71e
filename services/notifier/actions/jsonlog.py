"""``json_log``: one JSON line per event, written before the event is acknowledged.

Example:
    >>> from notifier.actions import registered
    >>> ActionKind.JSON_LOG in registered()
    True
"""

from __future__ import annotations

from notifier.actions import ActionContext, register
from notifier.jsonlog import JsonLog
from notifier.state import PendingEvent
from sightline.messages import Event
from sightline.messages.event import ActionKind


class JsonLogAction:
    """Appends the event to the JSON log (idempotent by event id); nothing to send."""

    def __init__(self, json_log: JsonLog | None) -> None:
        self.json_log = json_log

    def accept(self, event: Event, pending: PendingEvent) -> tuple[int, int]:
        """Append ``event`` if it asks for the JSON log."""
        if not event.actions.json_log or self.json_log is None:
            return 0, 0
        return 1, int(not self.json_log.append(event))

    def send_due(self, now: float) -> None:
        """Nothing: the line is written when the event comes."""


@register(ActionKind.JSON_LOG)
def build(context: ActionContext) -> JsonLogAction:
    """The JSON log action of ``context`` (the handler's log)."""
    return JsonLogAction(context.json_log)
