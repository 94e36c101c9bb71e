"""The engine, the notifier and the frame-store together on one broker, as real processes."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from tests.event_engine.engine_process import EngineProcess
from tests.frame_store.process import FrameStoreProcess
from tests.notifier.notifier_process import NotifierProcess
from tests.notifier.support import SmtpServer
from tests.reliability.suite import (
    announcements,
    bus_events,
    json_log_ids,
    make_engine,
    make_frame_store,
    make_notifier,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen
from tests.support.service_process import ServiceProcess, said, status_now, status_topic
from tests.support.waiting import wait_until


class Service(StrEnum):
    """A service of the suite, by its status topic's name."""

    ENGINE = "event-engine"
    NOTIFIER = "notifier"
    FRAME_STORE = "frame-store"

    @property
    def status_topic(self) -> str:
        """Where it says online/offline."""
        return status_topic(self.value)


def online_since(service: Service, seen: int) -> Callable[[list[Seen]], bool]:
    """A collector predicate: ``service`` said online after the first ``seen`` messages (the
    frame-store: said it at all since, as ``FrameStoreProcess.start_online`` waits)."""
    if service is Service.FRAME_STORE:
        online = said(service.status_topic, b"online")
    else:
        online = status_now(service.status_topic, b"online")
    return lambda messages: online(messages[seen:])


@dataclass
class RunningSuite:
    """The three processes; :meth:`start` them, stop one with a signal, :meth:`close`."""

    collector: Collector
    tmp_path: Path
    engine: EngineProcess
    notifier: NotifierProcess
    frame_store: FrameStoreProcess

    @classmethod
    def on(
        cls, broker: Broker, collector: Collector, smtp: SmtpServer, tmp_path: Path
    ) -> RunningSuite:
        """The suite's processes on ``broker`` (not started)."""
        return cls(
            collector,
            tmp_path,
            make_engine(broker, tmp_path),
            make_notifier(broker, smtp, tmp_path),
            make_frame_store(broker, tmp_path),
        )

    def start(self, *services: Service) -> None:
        """Start ``services`` (all when none given) side by side; wait until each is online."""
        wanted = services or tuple(Service)
        seen = len(self.collector.messages)
        for service in wanted:
            self.process(service).start()
        for service in wanted:
            self.collector.wait_for(online_since(service, seen), timeout=30)

    def signal(self, service: Service, signum: signal.Signals) -> int:
        """Send ``signum`` to ``service``; its exit status."""
        return self.process(service).send(signum)

    def process(self, service: Service) -> ServiceProcess:
        """The process of ``service``."""
        return {
            Service.ENGINE: self.engine,
            Service.NOTIFIER: self.notifier,
            Service.FRAME_STORE: self.frame_store,
        }[service]

    def wait_done(self, reference: list[dict[str, Any]], timeout: float = 60) -> None:
        """Wait until every reference event is on the bus, logged and announced."""
        wanted = {e["event_id"] for e in reference}
        logged = {e["event_id"] for e in reference if e["actions"]["json_log"]}
        wait_until(
            lambda: wanted <= {e["event_id"] for e in bus_events(self.collector)},
            timeout,
            "every reference event on the bus",
        )
        wait_until(lambda: logged <= set(json_log_ids(self.tmp_path)), timeout, "every log line")
        wait_until(
            lambda: wanted <= {a["event_id"] for a in announcements(self.collector)},
            timeout,
            "a snapshot announcement for every event",
        )

    def close(self) -> None:
        """Stop whatever still runs (SIGTERM, so that the notifier's files are flushed)."""
        self.engine.close()
        self.notifier.close()
        self.frame_store.close()
