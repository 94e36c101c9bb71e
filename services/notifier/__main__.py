"""``sightline-notifier``: events -> JSON log, immediate e-mails, digests.

``/metrics`` carries ``sightline_notifier_smtp_ok`` and the setup-failure counter, and
``/healthz`` fails its ``smtp`` check after repeated login or set-up refusals, and its
``state`` check while the state directory or the JSON log cannot be written (disk full,
read-only; ``sightline_notifier_state_writable`` is 0 then). A state directory that cannot
be written at start ends the service with one line naming it and exit status 73.

Example:
    .. code-block:: console

        $ sightline-notifier --config notifier.yaml
"""

from __future__ import annotations

import logging
import sys
import time

from notifier.dispatch import Dispatcher
from notifier.handler import EventHandler
from notifier.housekeeping import Housekeeping
from notifier.jsonlog import JsonLog
from notifier.mailer import make_mailer
from notifier.metrics import NotifierMetrics
from notifier.smtphealth import SmtpHealth
from notifier.state import StateStore, disk_health
from sightline.config import NotifierSettings
from sightline.service import (
    EXIT_STATE_DIR,
    MainLoop,
    ServiceContext,
    argument_parser,
    run_service,
)
from sightline.topics import Service
from sightline.writes import probe_writable

log = logging.getLogger(__name__)

TICK_S = 0.5


def build(ctx: ServiceContext[NotifierSettings]) -> MainLoop:
    """Subscribe the event handler; return the loop that sends e-mails and digests."""
    section = ctx.settings.notifier
    for what, directory in (
        ("state directory", ctx.state_dir),
        ("json_log.directory", section.json_log.directory),
    ):
        problem = probe_writable(directory)
        if problem is not None:
            # one plain line, as for a bad config: what, where and why
            print(
                f"sightline-notifier: cannot write its {what} {directory}: {problem}",
                file=sys.stderr,
            )
            raise SystemExit(EXIT_STATE_DIR)
    metrics = NotifierMetrics(ctx.registry)
    disk = disk_health(ctx.registry, f"{ctx.state_dir} (or {section.json_log.directory})")
    ctx.health_checks["state"] = disk.ok
    store = StateStore(ctx.state_dir, metrics)
    json_log = JsonLog(section.json_log, section.timezone)
    handler = EventHandler(
        store,
        json_log,
        section.digests,
        section.timezone,
        ctx.client.topics,
        ctx.settings.limits,
        disk=disk,
        metrics=metrics,
        section=section,
    )
    ctx.client.subscribe(ctx.client.topics.all_events, handler)
    housekeeping = Housekeeping(store, json_log, section.retention_days)
    smtp_health = SmtpHealth(ctx.registry)
    ctx.health_checks["smtp"] = smtp_health.ok
    dispatcher = Dispatcher(
        section,
        store,
        make_mailer(section.smtp),
        ctx.client.dead_letter,
        smtp_health,
        time.time(),
        disk,
    )
    ctx.on_stop.append(dispatcher.record_on_stop)

    def loop() -> None:
        while not ctx.stopping.is_set():
            ctx.heartbeat.beat()
            try:
                housekeeping.run_if_due(time.time())
                dispatcher.tick(time.time())
            except Exception:  # a bad file or a bug: logged, the next tick tries again
                log.exception("notifier loop failed; retrying")
            ctx.stopping.wait(TICK_S)

    return loop


def main(argv: list[str] | None = None) -> int:
    """Run the notifier until SIGTERM; return its exit status."""
    parser = argument_parser("sightline-notifier", "Sightline notifier: JSON log and e-mails")
    return run_service(Service.NOTIFIER, NotifierSettings, build, argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
