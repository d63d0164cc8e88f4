"""The board's live feed: domain events from the bus to the pages, and what the pages need that the
live model forgets (the last finished calls, the ring guard's recent alerts, whether the PBX link
is up).

Every domain event goes to every open event stream at once as ``event: <type>`` with the event's
``to_dict()``, numbers masked.  While events keep coming, a fresh ``board`` snapshot follows at most
once a second (``snapshot_interval``), timed on the injected clock: a burst of events costs one
snapshot, and a quiet call centre costs nothing.

The ring guard reports one miss three times (``ring_deadline``: what it did, ``agent_missed``: the
counts, ``supervisor_alert``: that someone must look).  The alerts list shows one line per
``supervisor_alert``, completed with the action and counts of the miss it belongs to; such a line is
also sent as ``event: alert``, which is what the page's list shows.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure
from twisted.web.server import Request

from telephony.bus import EventBus
from telephony.live import events as ev
from telephony.live.model import LiveModel

from .snapshot import FinishedCalls, finished_row, masked, snapshot
from .sse import Broadcaster, EventStream, format_event

log = logging.getLogger(__name__)

__all__ = ["BoardFeed", "RecentCallSource"]


class RecentCallSource(Protocol):
    """What the feed needs of the store (``telephony.store.Store`` provides it)."""

    def recent_calls(self, pbx: str, limit: int = 20) -> defer.Deferred: ...


class BoardFeed:
    """One PBX's feed.  ``store`` may be None (last calls are then those seen since start);
    ``recent_limit``/``alert_limit`` bound the lists kept in memory; ``max_queued`` caps each event
    stream's backlog (see :mod:`telephony.desktop.sse`).  Call :meth:`start` to listen on the bus."""

    def __init__(self, *, model: LiveModel, bus: EventBus, clock: IReactorTime, store: RecentCallSource | None,
                 pbx: str, mask_numbers: bool = True, recent_limit: int = 20, alert_limit: int = 50,
                 snapshot_interval: float = 1.0, max_queued: int | None = None) -> None:
        self.model = model
        self.bus = bus
        self.clock = clock
        self.store = store
        self.pbx = pbx
        self.mask_numbers = mask_numbers
        self.snapshot_interval = snapshot_interval
        self.streams = Broadcaster() if max_queued is None else Broadcaster(max_queued)
        self.finished = FinishedCalls(recent_limit)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=alert_limit)
        self.alert_limit = alert_limit
        self.link_up = True
        self._miss_facts: dict[str, Any] = {}  #: action and counts of the miss being reported
        self._unsubscribe = None
        self._snapshot_call: IDelayedCall | None = None
        self._last_snapshot = float("-inf")

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.bus.subscribe(self.on_event)

    def stop(self) -> None:
        """Stop listening, close every event stream, cancel the pending snapshot."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.streams.close_all()
        self._cancel_snapshot()

    # -- what pages read ------------------------------------------------------------------------

    def board(self) -> dict[str, Any]:
        """The board now, masked as this feed masks."""
        return snapshot(self.model, self.clock.seconds(), mask_numbers=self.mask_numbers)

    def alerts(self) -> list[dict[str, Any]]:
        """The latest supervisor alerts as list lines (see the module doc), newest first, masked."""
        return list(self._alerts)

    def recent_calls(self) -> defer.Deferred[list[dict[str, Any]]]:
        """The last finished calls, newest first: those seen since start merged with the store's.

        A store that fails (or is not running) is logged and the page shows what was seen since
        start: an outage of the database must not blank the supervisor's board.
        """
        if self.store is None:
            return defer.succeed(self._mask(self.finished.rows()))
        d = defer.maybeDeferred(self.store.recent_calls, self.pbx, self.finished.limit)
        d.addCallback(lambda stored: self.finished.merged(finished_row(call) for call in stored))
        d.addErrback(self._store_failed)
        d.addCallback(self._mask)
        return d

    def _store_failed(self, failure: Failure) -> list[dict[str, Any]]:
        log.warning("last calls: the store could not be read (%s); showing calls since start only",
                    failure.getErrorMessage())
        return self.finished.rows()

    def open_stream(self, request: Request) -> EventStream:
        """Start an event stream on ``request``: the board first, then live events."""
        stream = self.streams.open(request, format_event("board", self.board()))
        request.notifyFinish().addBoth(lambda _: self._cancel_snapshot() if not self.streams.clients else None)
        return stream

    # -- events -----------------------------------------------------------------------------------

    def on_event(self, event: ev.DomainEvent) -> None:
        data = self._mask(event.to_dict())
        alert = None
        if isinstance(event, ev.CallEnded):
            self.finished.add(finished_row(event.call))
        elif isinstance(event, ev.RingDeadline):
            self._miss_facts = {"linkedid": event.linkedid, "agent": event.agent, "action": event.action}
        elif isinstance(event, ev.AgentMissed):
            if self._miss_facts.get("linkedid") == event.linkedid and self._miss_facts.get("agent") == event.agent:
                self._miss_facts.update(misses_today=event.misses_today, consecutive=event.consecutive,
                                        misses_this_shift=event.misses_this_shift)
        elif isinstance(event, ev.SupervisorAlert):
            alert = self._alert(event, data)
            self._alerts.appendleft(alert)
        elif isinstance(event, ev.Resynced):
            self.link_up = True
        elif isinstance(event, ev.PbxLink):
            self.link_up = event.state != "disconnected"
        if not self.streams.clients:
            return
        self.streams.send(event.type, data)
        if alert is not None:
            self.streams.send("alert", alert)
        self._schedule_snapshot()

    def _alert(self, event: ev.SupervisorAlert, data: dict[str, Any]) -> dict[str, Any]:
        row = {name: data[name] for name in ("at", "kind", "agent", "queue", "linkedid", "caller", "detail")}
        facts, self._miss_facts = self._miss_facts, {}
        if event.kind == "miss" and facts.get("linkedid") == event.linkedid and facts.get("agent") == event.agent:
            row.update({k: v for k, v in facts.items()
                        if k in ("action", "misses_today", "consecutive", "misses_this_shift")})
        return row

    def _schedule_snapshot(self) -> None:
        if self._snapshot_call is not None:
            return
        delay = max(0.0, self._last_snapshot + self.snapshot_interval - self.clock.seconds())
        self._snapshot_call = self.clock.callLater(delay, self._send_snapshot)

    def _send_snapshot(self) -> None:
        self._snapshot_call = None
        self._last_snapshot = self.clock.seconds()
        self.streams.send("board", self.board())

    def _cancel_snapshot(self) -> None:
        if self._snapshot_call is not None and self._snapshot_call.active():
            self._snapshot_call.cancel()
        self._snapshot_call = None

    def _mask(self, data: Any) -> Any:
        return masked(data) if self.mask_numbers else data
