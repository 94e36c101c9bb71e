"""The notifier's actions, by registry keyed by :class:`~sightline.messages.ActionKind`.

Each action is one module of this package that registers a factory with :func:`register`;
every module here is imported by :func:`load`, so adding an action is its own module plus
its two registrations outside the notifier: the wire flag (an ``ActionKind`` member and an
:class:`~sightline.messages.EventActions` field, in ``sightline/messages/event.py``) and, if
it has settings, its config model in ``sightline/config/notifier.py``. The handler and the
dispatcher derive from the registry: the handler asks each action to record what an event
asks of it (:meth:`Action.accept`, durably, before the message is acknowledged), the
dispatcher asks each to send what is due (:meth:`Action.send_due`), in ``ActionKind`` order.

An action that has no durable state of its own keeps its jobs with
:meth:`~notifier.state.StateStore.add_job` and friends.

Example:
    >>> {ActionKind.JSON_LOG, ActionKind.EMAIL_IMMEDIATE, ActionKind.EMAIL_DIGEST} <= set(registered())
    True
    >>> sorted(set(ActionKind) - set(registered()) - set(ELSEWHERE))
    []
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from notifier.jsonlog import JsonLog
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import NotifierSection
from sightline.messages import Event
from sightline.messages.event import ActionKind

if TYPE_CHECKING:
    from notifier.dispatch import Dispatcher

ELSEWHERE = {ActionKind.SNAPSHOT: "frame-store"}
"""Actions another service does (the notifier only reads them)."""


class Action(Protocol):
    """One action, as the handler and the dispatcher use it."""

    def accept(self, event: Event, pending: PendingEvent) -> tuple[int, int]:
        """Record what ``event`` asks of this action (raises OSError if a write fails):
        ``(asked, already_done)``, counts of the jobs it asked for and of those already
        recorded before (a redelivery)."""
        ...

    def send_due(self, now: float) -> None:
        """Do what is due now (raise TransientMailError or OSError to back off)."""
        ...


@dataclass
class ActionContext:
    """What an action's factory may use. ``json_log`` is set on the handler's side,
    ``dispatcher`` on the sending side."""

    section: NotifierSection
    store: StateStore
    json_log: JsonLog | None = None
    dispatcher: Dispatcher | None = None


Factory = Callable[[ActionContext], Action]
_REGISTRY: dict[ActionKind, Factory] = {}


def register(kind: ActionKind) -> Callable[[Factory], Factory]:
    """Register the factory of ``kind``'s action (a decorator); twice is a bug."""

    def add(factory: Factory) -> Factory:
        if kind in _REGISTRY and _REGISTRY[kind] is not factory:
            raise ValueError(f"action {kind.value!r} is registered twice")
        _REGISTRY[kind] = factory
        return factory

    return add


def load() -> None:
    """Import every action module of this package (each registers itself)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def registered() -> dict[ActionKind, Factory]:
    """Every registered action's factory, in ``ActionKind`` order."""
    load()
    return {kind: _REGISTRY[kind] for kind in ActionKind if kind in _REGISTRY}


def build_actions(context: ActionContext) -> dict[ActionKind, Action]:
    """One of each registered action, built for ``context``, in ``ActionKind`` order."""
    return {kind: factory(context) for kind, factory in registered().items()}
