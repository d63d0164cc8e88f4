"""Composes the daemon's service tree; nothing else starts services.

    Store ─ CallLogWriter ─ LiveService ─ RingGuardService ─ WebService ─ AMIConnection

Children start in that order and stop in reverse: the store first (a stale schema stops everything
before a single AMI byte is read), the AMI connection last (events flow only once every consumer
listens), and on the way down the connection closes before the writer flushes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore

from telephony.ami.connection import AMIConnection, Snapshot
from telephony.bus import EventBus
from telephony.calllog.writer import CallLogWriter
from telephony.config import Config
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.rings.guard import RingGuard
from telephony.rings.service import RingGuardService
from telephony.store.facade import Store

log = logging.getLogger(__name__)


class InOrder(MultiService):
    """Starts its children in order and stops them in reverse, each after the one before it
    has finished stopping (MultiService stops them all at once: the store could close under a
    write still in flight, and the AMI link could still deliver events to stopped consumers)."""

    @defer.inlineCallbacks
    def stopService(self):
        Service.stopService(self)
        for service in reversed(list(self)):
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

    def writer_idle(self):
        """A Deferred that fires once everything seen so far is in the store."""
        return self.writer.idle()


def build_daemon(config: Config, reactor: IReactorCore, *, web: bool = True) -> Daemon:
    model = LiveModel(config.pbx.name, policy=config.ring_policy, agent_endpoints=config.pbx.agents)
    bus = EventBus()
    live = LiveService(model, bus, reactor)
    store = Store(config.store.url, reactor=reactor, threads=config.store.threads)

    def guard_reasons() -> set[str]:
        return {config.ring_policy(q).pause_reason for q in (None, *config.queues)}

    writer = CallLogWriter(store, bus, reactor, guard_reasons=guard_reasons)

    def resynced(snapshot: Snapshot) -> None:
        live.on_snapshot(list(snapshot.channels), list(snapshot.queue_status), snapshot.at)

    def disconnected(reason: str) -> None:
        log.warning("AMI connection to %s:%s lost: %s", config.pbx.ami.host, config.pbx.ami.port, reason)
        bus.publish(ev.PbxLink(config.pbx.name, reactor.seconds(), state="disconnected", detail=reason))

    connection = AMIConnection.from_config(config.pbx.ami, reactor=reactor, on_event=live.on_ami_event,
                                           on_resync=resynced, on_disconnect=disconnected)
    guard = RingGuardService(RingGuard(model, config.ring_policy, ZoneInfo(config.timezone), config.shifts), bus,
                             connection, reactor,
                             store=store)
    root = InOrder()
    for service in (store, writer, live, guard):
        service.setServiceParent(root)
    if web:
        from telephony.desktop.service import WebService  # the web layer is optional (e.g. a headless follower)

        WebService.from_config(config, model=model, bus=bus, clock=reactor, store=store).setServiceParent(root)
    connection.setServiceParent(root)
    return Daemon(root, config, model, bus, store, connection, guard, writer)
