"""Composes the daemon's service tree; nothing else starts services.

    Store ─ CallLogWriter ─ LiveService ─ RingGuardService ─ MixMonitorRecorder ─ WebService ─ AMIConnection

Children start in that order and stop in reverse: the store first (a stale schema stops everything
before a single AMI byte is read), the AMI connection last (events flow only once every consumer
listens), and on the way down the connection closes before the writer flushes.
"""
from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore

from telephony.ami.connection import AMIConnection, Snapshot
from telephony.bus import EventBus
from telephony.calllog.journal import Journal
from telephony.calllog.writer import CallLogWriter
from telephony.config import Config
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.rings.guard import RingGuard
from telephony.rings.service import RingGuardService
from telephony.store.facade import Store
from telephony.weekly import WeeklyRecord

log = logging.getLogger(__name__)


class InOrder(MultiService):
    """Starts its children in order and stops them in reverse, each after the one before it
    has finished stopping (MultiService stops them all at once: the store could close under a
    write still in flight, and the AMI link could still deliver events to stopped consumers)."""

    @defer.inlineCallbacks
    def stopService(self):
        Service.stopService(self)
        # Only what started: after a failed start, the services after the failing one never ran.
        for service in [s for s in reversed(list(self)) if s.running]:
            try:
                yield defer.maybeDeferred(service.stopService)
            except Exception:
                log.exception("%r did not stop cleanly", service)


@dataclass
class Daemon:
    """The assembled daemon; its parts stay reachable for the demo and for tests."""

    root: InOrder
    config: Config
    model: LiveModel
    bus: EventBus
    store: Store
    connection: AMIConnection
    guard: RingGuardService
    writer: CallLogWriter
    web: Any = None  #: the WebService, when the daemon serves its pages
    recorder: Any = None  #: the MixMonitorRecorder, when calls are recorded

    def writer_idle(self):
        """A Deferred that fires once everything seen so far is in the store."""
        return self.writer.idle()


def settle_after_start() -> None:
    """Move what start-up made (imports, SQLAlchemy's metadata, Twisted, the config) out of the
    garbage collector's way: it lives as long as the process, and a full collection that walks it
    stops everything — the reactor, the ring guard, the screen pop — for 60–200 ms on a small
    machine (bench/screen_pop.py showed it as the pop's whole tail)."""
    gc.collect()
    gc.freeze()


def build_daemon(config: Config, reactor: IReactorCore, *, web: bool = True, web_fallback: bool = False) -> Daemon:
    """The daemon for ``config``; ``web_fallback``: serve the pages on a free port if theirs is taken."""
    model = LiveModel(config.pbx.name, policy=config.ring_policy, agent_endpoints=config.pbx.agents)
    bus = EventBus()
    rules = RingGuard(model, config.ring_policy, ZoneInfo(config.timezone), config.shifts)
    live = LiveService(model, bus, reactor, state_path=config.store.live_state_path(config.pbx.name),
                       keepers={"guard": rules})
    settings = config.store
    store = Store(settings.url, reactor=reactor, threads=settings.threads, connect_timeout_s=settings.connect_timeout_s,
                  statement_timeout_s=settings.statement_timeout_s, stop_timeout_s=settings.stop_timeout_s)

    def guard_reasons() -> set[str]:
        return {config.ring_policy(q).pause_reason for q in (None, *config.queues)}

    writer = CallLogWriter(store, bus, reactor, guard_reasons=guard_reasons,
                           journal=Journal(settings.journal_path(config.pbx.name)), max_pending=settings.max_pending,
                           max_in_flight=settings.threads, stall_after_s=settings.statement_timeout_s,
                           stop_timeout_s=settings.stop_timeout_s)

    def resynced(snapshot: Snapshot) -> None:
        live.on_snapshot(list(snapshot.channels), list(snapshot.queue_status), snapshot.at)

    connection = AMIConnection.from_config(config.pbx.ami, reactor=reactor, on_event=live.on_ami_event,
                                           on_resync=resynced, on_disconnect=live.on_link_lost)
    guard = RingGuardService(rules, bus, connection, reactor, store=store)
    root = InOrder()
    for service in (store, writer, live, guard):
        service.setServiceParent(root)
    recorder = None
    if config.recording.backend == "mixmonitor":
        from telephony.recorder.mixmonitor import MixMonitorRecorder

        recorder = MixMonitorRecorder(config.recording, bus, connection, store, reactor, model, tz=config.timezone)
        recorder.setServiceParent(root)
    # the week's record is made by itself before Friday's close (每周五下班之前递交主管)
    WeeklyRecord(config.report, store=store, bus=bus, clock=reactor, pbx=config.pbx.name, tz=config.timezone,
                 rings_allowed=lambda queue: config.ring_policy(queue).allowed,
                 wrapup_s=config.web.wrapup_s).setServiceParent(root)
    pages = None
    if web:
        from telephony.desktop.service import WebService  # the web layer is optional (e.g. a headless follower)

        pages = WebService.from_config(config, model=model, bus=bus, clock=reactor, store=store, fallback=web_fallback,
                                       ami=connection, recorder=recorder)
        pages.setServiceParent(root)
    connection.setServiceParent(root)
    return Daemon(root, config, model, bus, store, connection, guard, writer, pages, recorder)
