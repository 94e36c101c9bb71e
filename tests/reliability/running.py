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
from tests.notifier.support import SmtpServer
from tests.notifier.test_service import NotifierProcess
from tests.reliability.suite import (
    ENGINE_STATUS,
    FRAME_STORE_STATUS,
    NOTIFIER_STATUS,
    announcements,
    bus_events,
    json_log_ids,
    make_engine,
    make_frame_store,
    make_notifier,
    status_now,
    wait_until,
)
from tests.support.broker import Broker
from tests.support.mqtt import Collector, Seen


class Service(StrEnum):
    """A service of the suite, by its status topic's name."""

    ENGINE = "event-engine"
    NOTIFIER = "notifier"
    FRAME_STORE = "frame-store"

    @property
    def status_topic(self) -> str:
        """Where it says online/offline."""
        return {
            Service.ENGINE: ENGINE_STATUS,
            Service.NOTIFIER: NOTIFIER_STATUS,
            Service.FRAME_STORE: FRAME_STORE_STATUS,
        }[self]


def online_since(service: Service, seen: int) -> Callable[[list[Seen]], bool]:
    """A collector predicate: ``service`` said online after the first ``seen`` messages."""
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
        """Start ``services`` (all when none given) and wait until each is online."""
        for service in services or tuple(Service):
            if service is Service.FRAME_STORE:
                self.frame_store.start(self.collector)
                continue
            seen = len(self.collector.messages)
            (self.engine if service is Service.ENGINE else self.notifier).start()
            self.collector.wait_for(online_since(service, seen), timeout=30)

    def signal(self, service: Service, signum: signal.Signals) -> int:
        """Send ``signum`` to ``service``; its exit status."""
        process = {
            Service.ENGINE: self.engine.process,
            Service.NOTIFIER: self.notifier.process,
            Service.FRAME_STORE: self.frame_store.process,
        }[service]
        assert process is not None
        process.send_signal(signum)
        return process.wait(30)

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
