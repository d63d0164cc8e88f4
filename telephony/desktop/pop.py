"""The agent's live feed (``GET /api/v1/agents/{extension}/events``): the screen pop and what follows.

As soon as an offer to an agent's phone starts (``AgentRinging`` ring 1, before any answer), the
caller's customer record, his last calls with their wrap-ups and his open follow-ups are read from
the store (one indexed lookup, in the store's threads) and sent to that agent's streams as ``pop``;
then ``ring`` (2, 3, …), ``answered`` (with ``apologise``) and ``ended`` (``outcome``).  Each event's
``data`` is one JSON object with ``pbx``, ``linkedid`` and ``at`` (ISO-8601), numbers in full: the
feed is for the agent himself, a supervisor, or a program with a token (see CONTRACTS "Web").

The lookup starts as soon as the caller is known to wait for an agent (``CallOffered``: he joined a
queue), so when a phone starts ringing a moment later its pop usually needs no database at all;
the facts are kept for the call's length (``max_lookups`` calls at most) and serve every offer of
it.  A direct call is looked up at its first ring.  Rings that come while the lookup is still running wait for it, so a feed always shows ``pop``
first.  A browser that connects (or reconnects) while the phone rings gets the current pop and ring
at once.  A store that fails is logged and the pop goes out all the same with what the call itself
says, ``customer: null`` and ``history_unavailable: true``: the caller must not ring unseen.

The feed also says the agent's presence (``presence``: ``paused``, ``reason``, ``queues`` he is
paused in) when he connects and whenever a pause or unpause of his is seen, so a pause by the ring
guard (振铃未接) shows on his screen with its reason.

``: keepalive`` comments go to every stream every ``keepalive_s`` (15 s) so proxies keep the
connection and the browser learns quickly when the daemon is gone.  Memory is bounded: each
stream's backlog by ``max_queued`` (see :mod:`telephony.desktop.sse`), the calls remembered per
agent by ``remember`` (for wrap-ups saved after the call ended).
"""
from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.server import Request

from telephony.bus import EventBus
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.privacy import mask_number

from .sse import DEFAULT_MAX_QUEUED, Broadcaster, EventStream, format_event

log = logging.getLogger(__name__)

__all__ = ["AgentFeeds", "PopSource", "TakenCall", "presence_of"]

KEEPALIVE = b": keepalive\n\n"


class PopSource(Protocol):
    def pop_facts(self, number: str | None) -> defer.Deferred: ...


@dataclass(frozen=True, slots=True)
class TakenCall:
    """A call an agent was offered or answered, as the feed saw it (before the call log has it)."""

    pbx: str
    linkedid: str
    caller: str | None
    answered: bool


class _Lookup:
    """One caller's facts, being read or read: every offer of the call takes them from here."""

    def __init__(self, caller: str | None) -> None:
        self.caller = caller
        self.facts: dict[str, Any] | None = None
        self.failure: Failure | None = None
        self._waiting: list[tuple[Callable[[dict[str, Any]], None], Callable[[Failure], None]]] = []

    def then(self, ok: Callable[[dict[str, Any]], None], failed: Callable[[Failure], None]) -> None:
        if self.facts is not None:
            ok(self.facts)
        elif self.failure is not None:
            failed(self.failure)
        else:
            self._waiting.append((ok, failed))

    def resolve(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        waiting, self._waiting = self._waiting, []
        for ok, _ in waiting:
            ok(facts)

    def fail(self, failure: Failure) -> None:
        self.failure = failure
        waiting, self._waiting = self._waiting, []
        for _, failed in waiting:
            failed(failure)


@dataclass
class _Offer:
    """One ringing (or answered) offer on one agent's screen."""

    extension: str
    linkedid: str
    caller: str | None
    pop: dict[str, Any] | None = None  #: None while the lookup runs
    finished: bool = False  #: ended while its lookup ran: forgotten once the pop and its end are out
    waiting: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  #: events held until the pop
    ring: dict[str, Any] | None = None
    answered: dict[str, Any] | None = None


def presence_of(model: LiveModel, extension: str) -> dict[str, Any]:
    """Whether the agent is paused (in any of his queues), why, and where."""
    members = [m for q in model.queues.values() for m in q.members.values() if m.agent == extension]
    paused = [m for m in members if m.paused]
    return {"agent": extension, "paused": bool(paused), "reason": next((m.reason for m in paused if m.reason), ""),
            "queues": sorted(m.queue for m in paused), "member_of": sorted(m.queue for m in members)}


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat()


class AgentFeeds:
    """Every agent's feed for one PBX; :meth:`start` subscribes to the bus."""

    def __init__(self, *, bus: EventBus, clock: IReactorTime, facts: PopSource | None, pbx: str,
                 model: LiveModel | None = None, keepalive_s: float = 15.0, max_queued: int = DEFAULT_MAX_QUEUED,
                 remember: int = 50, max_lookups: int = 10_000) -> None:
        self.bus = bus
        self.model = model
        self.clock = clock
        self.facts = facts
        self.pbx = pbx
        self.keepalive_s = keepalive_s
        self.max_queued = max_queued
        self._feeds: dict[str, Broadcaster] = {}
        self._offers: dict[str, _Offer] = {}  #: by offer id
        self._taken: dict[str, deque[TakenCall]] = {}
        self._remember = remember
        self._lookups: OrderedDict[str, _Lookup] = OrderedDict()  #: by linkedid, for the call's length
        self._max_lookups = max_lookups
        #: transfer notes by linkedid, shown in the receiver's pop (bounded like the calls remembered)
        self._notes: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._unsubscribe: Callable[[], None] | None = None
        self._keepalive = task.LoopingCall(self._send_keepalive)
        self._keepalive.clock = clock
        #: called with (extension, offer id) when a pop has been written (the benchmark's probe)
        self.on_pop: Callable[[str, str], None] | None = None

    # -- lifetime -------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.bus.subscribe(self.on_event)
            self._keepalive.start(self.keepalive_s, now=False)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._keepalive.running:
            self._keepalive.stop()
        for feed in list(self._feeds.values()):
            feed.close_all()
        self._feeds.clear()

    @property
    def clients(self) -> int:
        return sum(len(feed.clients) for feed in self._feeds.values())

    # -- what the routes ask --------------------------------------------------------------------------

    def open(self, request: Request, extension: str) -> EventStream:
        """Start ``extension``'s event stream on ``request``: what rings him now, then live events."""
        feed = self._feeds.get(extension)
        if feed is None:
            feed = self._feeds[extension] = Broadcaster(self.max_queued)
        now = [] if self.model is None else [format_event("presence", self._presence(extension))]
        now += [format_event(kind, data) for offer in self._offers.values()
               if offer.extension == extension and not offer.finished
               for kind, data in (("pop", offer.pop), ("ring", offer.ring), ("answered", offer.answered))
               if data is not None]
        stream = feed.open(request, b"".join(now))
        request.notifyFinish().addBoth(lambda _: self._drop_if_empty(extension))
        return stream

    def taken(self, extension: str) -> list[TakenCall]:
        """The calls ``extension`` is being offered or took lately, newest first."""
        current = [TakenCall(self.pbx, o.linkedid, o.caller, o.answered is not None)
                   for o in self._offers.values() if o.extension == extension and not o.finished]
        return current + list(reversed(self._taken.get(extension, ())))

    def took(self, extension: str, pbx: str, linkedid: str, *, answered: bool = False) -> TakenCall | None:
        """The call if ``extension`` is being offered it or was lately (``answered``: if he answered it)."""
        return next((t for t in self.taken(extension) if t.pbx == pbx and t.linkedid == linkedid
                     and (t.answered or not answered)), None)

    def note_transfer(self, linkedid: str, *, from_agent: str, to: str, note: str | None) -> None:
        """The agent passing the caller on says why: the receiver's pop for this call shows it."""
        self._notes[linkedid] = {"from": from_agent, "to": to, "note": note}
        self._notes.move_to_end(linkedid)
        while len(self._notes) > self._remember * 20:
            self._notes.popitem(last=False)

    # -- events ---------------------------------------------------------------------------------------

    def on_event(self, event: ev.DomainEvent) -> None:
        if isinstance(event, ev.AgentRinging):
            self._ringing(event)
        elif isinstance(event, ev.CallOffered):
            self._lookup(event.linkedid, event.caller)
        elif isinstance(event, ev.CallAnswered):
            offer = self._offer_of(event.agent, event.linkedid)
            if offer is not None:
                offer.answered = self._data(event, apologise=event.apologise, wait_s=event.wait_s,
                                            rings_to_answer=event.rings_to_answer)
                self._emit(offer, "answered", offer.answered)
        elif isinstance(event, ev.OfferEnded):
            offer = self._offers.get(event.offer_id)
            if offer is not None and event.result != "answered":
                self._finish(event.offer_id, event, event.result)
        elif isinstance(event, ev.CallEnded):
            for offer_id, offer in list(self._offers.items()):
                if offer.linkedid == event.call.linkedid:
                    self._finish(offer_id, event, event.call.outcome)
            self._lookups.pop(event.call.linkedid, None)
        elif isinstance(event, ev.AgentPaused) and self.model is not None and event.agent in self._feeds:
            self._send(event.agent, "presence", self._presence(event.agent, event))

    def _presence(self, extension: str, event: ev.DomainEvent | None = None) -> dict[str, Any]:
        at = self.clock.seconds() if event is None else event.at
        return {"pbx": self.pbx, "linkedid": None, "at": iso(at), **presence_of(self.model, extension)}

    def _ringing(self, event: ev.AgentRinging) -> None:
        offer = self._offers.get(event.offer_id)
        if offer is not None:
            offer.ring = self._data(event, ring=event.ring, offer_id=event.offer_id)
            self._emit(offer, "ring", offer.ring)
            return
        # ring is 1 unless the daemon started (or the link came back) while the phone rang
        self._offers[event.offer_id] = _Offer(event.agent, event.linkedid, event.caller)
        base = self._data(event, caller=event.caller, caller_name=event.caller_name, queue=event.queue,
                          ring=event.ring, offer_id=event.offer_id, agent=event.agent, messages=[],
                          transfer_note=self._note_for(event.linkedid, event.agent))
        self._lookup(event.linkedid, event.caller).then(
            lambda facts: self._popped(event.offer_id, {**base, **facts}),
            lambda failure: self._lookup_failed(failure, event, base))

    def _lookup(self, linkedid: str, caller: str | None) -> _Lookup:
        """The caller's facts for this call: being read, read, or asked of the store now."""
        found = self._lookups.get(linkedid)
        if found is not None and found.caller == caller and found.failure is None:
            return found
        lookup = self._lookups[linkedid] = _Lookup(caller)
        self._lookups.move_to_end(linkedid)
        while len(self._lookups) > self._max_lookups:
            self._lookups.popitem(last=False)
        if self.facts is None:
            lookup.resolve({"customer": None, "history": [], "callbacks": []})
        else:
            defer.maybeDeferred(self.facts.pop_facts, caller).addCallbacks(lookup.resolve, lookup.fail)
        return lookup

    def _note_for(self, linkedid: str, agent: str) -> dict[str, Any] | None:
        note = self._notes.get(linkedid)
        return note if note is not None and note["from"] != agent else None

    def _popped(self, offer_id: str, pop: dict[str, Any]) -> None:
        offer = self._offers.get(offer_id)
        if offer is None:
            return  # the feeds were stopped meanwhile
        offer.pop = pop
        self._send(offer.extension, "pop", pop)
        if self.on_pop is not None:
            self.on_pop(offer.extension, offer_id)
        waiting, offer.waiting = offer.waiting, []
        for kind, data in waiting:
            self._send(offer.extension, kind, data)
        if offer.finished:
            del self._offers[offer_id]

    def _lookup_failed(self, failure: Failure, event: ev.AgentRinging, base: dict[str, Any]) -> None:
        log.warning("screen pop for %s (caller %s): the store could not be read (%s); popping without history",
                    event.agent, mask_number(event.caller), failure.getErrorMessage())
        self._popped(event.offer_id, {**base, "customer": None, "history": [], "callbacks": [],
                                      "history_unavailable": True})

    def _emit(self, offer: _Offer, kind: str, data: dict[str, Any]) -> None:
        if offer.pop is None:
            offer.waiting.append((kind, data))
        else:
            self._send(offer.extension, kind, data)

    def _finish(self, offer_id: str, event: ev.DomainEvent, outcome: str) -> None:
        offer = self._offers[offer_id]
        self._emit(offer, "ended", self._data(event, linkedid=offer.linkedid, outcome=outcome, offer_id=offer_id))
        offer.finished = True
        if offer.pop is not None:
            del self._offers[offer_id]
        taken = self._taken.setdefault(offer.extension, deque(maxlen=self._remember))
        taken.append(TakenCall(self.pbx, offer.linkedid, offer.caller, offer.answered is not None))

    def _offer_of(self, agent: str, linkedid: str) -> _Offer | None:
        return next((o for o in self._offers.values() if o.extension == agent and o.linkedid == linkedid), None)

    def _data(self, event: ev.DomainEvent, **fields: Any) -> dict[str, Any]:
        return {"pbx": event.pbx, "linkedid": getattr(event, "linkedid", None), "at": iso(event.at), **fields}

    def _send(self, extension: str, kind: str, data: dict[str, Any]) -> None:
        feed = self._feeds.get(extension)
        if feed is not None:
            feed.send(kind, data)

    def _send_keepalive(self) -> None:
        for feed in list(self._feeds.values()):
            for client in list(feed.clients):
                client.send(KEEPALIVE)

    def _drop_if_empty(self, extension: str) -> None:
        feed = self._feeds.get(extension)
        if feed is not None and not feed.clients:
            del self._feeds[extension]
