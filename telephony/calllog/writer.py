"""Writes what happens to the store: finished calls, misses, pauses and unpauses, alerts.

It listens on the bus and never blocks it: each write goes to the store's thread pool.  A write
that fails (the database is away, a lock timed out) is kept and tried again with backoff, in order
of arrival, up to ``max_pending`` writes; beyond that the oldest is dropped *loudly*, naming the
call or fact, so an operator can recover it from the AMI capture or the logs.  Every write is
idempotent in the store, so a retry that had in fact succeeded does no harm.

Who paused an agent: the guard when the reason is the guard's (``振铃未接`` by default),
app_queue for ``Auto-Pause``, otherwise the agent (a supervisor's pause, made from the board in a
later issue, will say so itself).
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from telephony.bus import EventBus
from telephony.live import events as ev

log = logging.getLogger(__name__)

AUTOPAUSE_REASON = "Auto-Pause"


class CallLogWriter(Service):
    def __init__(self, store: Any, bus: EventBus, clock: IReactorTime, *, guard_reasons: Callable[[], set[str]],
                 max_pending: int = 10_000, retry_delays: tuple[float, ...] = (1, 2, 5, 10, 30)) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.guard_reasons = guard_reasons
        self.max_pending = max_pending
        self.retry_delays = retry_delays
        self._pending: deque[tuple[str, Callable[[], Deferred]]] = deque()
        self._in_flight = 0
        self._failures = 0
        self._retry: IDelayedCall | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._idle: list[Deferred] = []
        self._stopping = False

    @property
    def backlog(self) -> int:
        """Writes waiting for the store (retries included)."""
        return len(self._pending)

    def idle(self) -> Deferred:
        """Fires once every write received so far is stored (tests, and a clean shutdown)."""
        waiter: Deferred = Deferred()
        self._idle.append(waiter)
        self._check_idle()
        return waiter

    def _check_idle(self) -> None:
        if not self._pending and not self._in_flight:
            waiters, self._idle = self._idle, []
            for waiter in waiters:
                waiter.callback(None)

    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.bus.subscribe(self.on_event)

    def stopService(self) -> Any:
        """Stops listening; waits for the writes under way when the store works, and names those
        it cannot store when the store is failing (a retry would wait for minutes)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().stopService()
        self._stopping = True
        if self._failures == 0:
            return self.idle()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        log.error("call log: stopping with %d write(s) not stored: %s", len(self._pending),
                  ", ".join(what for what, _ in list(self._pending)[:20]))
        return None

    def on_event(self, event: ev.DomainEvent) -> None:
        write = self._write_for(event)
        if write is not None:
            self._enqueue(*write)

    def _write_for(self, event: ev.DomainEvent) -> tuple[str, Callable[[], Deferred]] | None:
        store, pbx = self.store, event.pbx
        if isinstance(event, ev.CallEnded):
            call = event.call
            return f"call {pbx}/{call.linkedid}", lambda: store.save_call(call)
        if isinstance(event, ev.AgentMissed):
            return (f"miss {pbx}/{event.agent}/{event.linkedid}",
                    lambda: store.record_agent_event(pbx, event.agent, "miss", event.at, "guard", queue=event.queue,
                                                     linkedid=event.linkedid))
        if isinstance(event, ev.AgentPaused):
            kind = "pause" if event.paused else "unpause"
            source = ("guard" if event.paused and event.reason in self.guard_reasons()
                      else "asterisk" if event.reason == AUTOPAUSE_REASON else "agent")
            return (f"{kind} {pbx}/{event.agent}/{event.queue}",
                    lambda: store.record_agent_event(pbx, event.agent, kind, event.at, source, queue=event.queue,
                                                     reason=event.reason or None))
        if isinstance(event, ev.SupervisorAlert):
            return (f"alert {pbx}/{event.kind}/{event.agent or event.queue}",
                    lambda: store.record_alert(pbx, event.at, event.kind, agent=event.agent, queue=event.queue,
                                               linkedid=event.linkedid, caller_masked=event.caller,
                                               detail={"text": event.detail, "since": event.since}))
        return None

    def _enqueue(self, what: str, write: Callable[[], Deferred]) -> None:
        if len(self._pending) >= self.max_pending:
            lost, _ = self._pending.popleft()
            log.error("call log: %d writes waiting for the store; dropped the oldest: %s", self.max_pending, lost)
        self._pending.append((what, write))
        self._drain()

    def _drain(self) -> None:
        # One write at a time while the store is failing (to find out when it is back); all at once
        # while it works, the pool bounds the concurrency.
        while self._pending and (self._failures == 0 or self._in_flight == 0) and self._retry is None:
            what, write = self._pending.popleft()
            self._in_flight += 1
            write().addCallbacks(self._stored, self._not_stored, errbackArgs=(what, write))
            if self._failures:
                break

    def _stored(self, _: object) -> None:
        self._in_flight -= 1
        self._failures = 0
        self._drain()
        self._check_idle()

    def _not_stored(self, failure: Failure, what: str, write: Callable[[], Deferred]) -> None:
        self._in_flight -= 1
        if self._stopping:
            # No retry on the way down: the store may be gone, and Ctrl-C must end.
            log.error("call log: %s not stored while stopping (%s)", what, failure.getErrorMessage())
            self._drain()
            self._check_idle()
            return
        self._pending.appendleft((what, write))
        delay = self.retry_delays[min(self._failures, len(self.retry_delays) - 1)]
        self._failures += 1
        log.warning("call log: %s not stored (%s); %d waiting, retrying in %.0f s",
                    what, failure.getErrorMessage(), len(self._pending), delay)
        if self._retry is None or not self._retry.active():
            self._retry = self.clock.callLater(delay, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        self._drain()
