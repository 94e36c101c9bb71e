"""Actions by registry: every action kind is somebody's, the handler and the dispatcher
drive whatever is registered, and the job store keeps an action's work across restarts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from notifier import actions
from notifier.actions import ELSEWHERE, ActionContext, registered
from notifier.dispatch import Dispatcher
from notifier.handler import EventHandler
from notifier.jsonlog import JsonLog
from notifier.mailer import make_mailer
from notifier.smtphealth import SmtpHealth
from notifier.state import PendingEvent, StateStore
from sightline.config.notifier import NotifierSection
from sightline.messages import EventActions, MessageLimits, encode
from sightline.messages.event import ActionKind
from sightline.mqtt import ReceivedMessage
from sightline.topics import Topics
from tests.notifier.support import event_topic, make_event


def test_every_action_kind_is_a_wire_field_and_done_by_the_notifier_or_named_elsewhere() -> None:
    assert set(EventActions.model_fields) == {kind.value for kind in ActionKind}
    assert set(registered()) | set(ELSEWHERE) == set(ActionKind)
    assert not set(registered()) & set(ELSEWHERE)


def test_an_action_is_registered_once() -> None:
    factory = registered()[ActionKind.JSON_LOG]
    with pytest.raises(ValueError, match="'json_log' is registered twice"):
        actions.register(ActionKind.JSON_LOG)(lambda context: factory(context))


@dataclass
class Recorder:
    """An action that records what the handler and the dispatcher ask of it."""

    context: ActionContext
    accepted: list[str] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)

    def accept(self, event: object, pending: PendingEvent) -> tuple[int, int]:
        self.accepted.append(pending.event_id)
        return 1, 0

    def send_due(self, now: float) -> None:
        self.ticks.append(now)


def test_the_handler_and_the_dispatcher_drive_whatever_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Recorder] = []

    def recorder(context: ActionContext) -> Recorder:
        built.append(Recorder(context))
        return built[-1]

    monkeypatch.setitem(actions._REGISTRY, ActionKind.SNAPSHOT, recorder)
    section = NotifierSection.model_validate({"json_log": {"directory": tmp_path / "log"}})
    store = StateStore(tmp_path / "state")
    handler = EventHandler(
        store,
        JsonLog(section.json_log, section.timezone),
        section.digests,
        section.timezone,
        Topics(),
        MessageLimits(),
        section=section,
    )
    dispatcher = Dispatcher(
        section, store, make_mailer(section.smtp), print, SmtpHealth(CollectorRegistry()), 0.0
    )
    event = make_event(1, json_log=True)

    handler(ReceivedMessage(event_topic(event), encode(event)))
    dispatcher.tick(5.0)

    receiving, sending = built
    assert receiving.accepted == [event.event_id]
    assert receiving.context.json_log is handler.json_log
    assert sending.ticks == [5.0]
    assert sending.context.dispatcher is dispatcher
    assert list(handler.actions) == list(ActionKind)  # all of them, in their order
    assert list(dispatcher.actions) == list(ActionKind)
    assert (tmp_path / "log").is_dir()  # the JSON log action still wrote its line
    assert list((tmp_path / "log").iterdir())


def test_a_job_is_kept_until_done_and_never_taken_twice(tmp_path: Path) -> None:
    job = PendingEvent("e1", "events/cam/line_cross", "{}", 1.0)
    store = StateStore(tmp_path)
    assert store.add_job("webhook", job)
    store.begin_job("webhook", "e1")

    again = StateStore(tmp_path)  # a restart after a crash mid-way

    assert again.pending_jobs("webhook") == [job]
    assert again.job_began("webhook", "e1")
    assert not again.add_job("webhook", job)  # a redelivery
    again.finish_job("webhook", "e1", "sent")
    assert again.pending_jobs("webhook") == []
    assert not again.job_began("webhook", "e1")
    assert not again.add_job("webhook", job)
    assert again.remove_older_than(float("inf")) >= 1
    assert again.add_job("webhook", job)  # its record expired with the retention
