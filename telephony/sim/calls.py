"""Callers: what a sipp caller does (dial, wait with some patience, talk, hang up) and the handle
a test or the generator keeps for each call.

The caller is a SIP user agent outside the PBX.  It sends CANCEL when its patience runs out before
anybody answered, and BYE ``talk_s`` after it got its 200 OK.  What the PBX does with that is the
business of whichever application owns the caller's channel at that moment (``channel.owner``:
a queue call, a dial): it implements ``caller_cancel()`` and ``caller_bye()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from twisted.internet import defer

from .behaviour import Seconds, pick

if TYPE_CHECKING:
    from .pbx import PBX
    from .state import Channel

__all__ = ["CallHandle", "CallSpec", "CallerUA"]

#: a sipp caller answers its 200 OK with ACK and starts its talk timer a few ms later
BYE_LATENCY = 0.006


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One inbound call: who calls, what they dial, how long they talk, how long they wait.

    ``patience_s`` None: wait for ever (the caller never abandons).
    """

    caller: str = "13800138000"
    name: str = "张三"
    dial: str = "4000"
    talk_s: Seconds = 5.0
    patience_s: Seconds | None = None


class CallHandle:
    """What a test sees of one call while it runs and after it ends.

    ``outcome`` is None while the call runs, then ``answered``, ``abandoned`` or ``failed`` (or
    ``cut`` when a PBX restart killed it); ``agent`` is the extension that answered.
    :meth:`when_ended` gives a Deferred that fires with the handle.
    """

    def __init__(self, spec: CallSpec, placed_at: float) -> None:
        self.spec = spec
        self.placed_at = placed_at
        self.channel: str | None = None
        self.linkedid: str | None = None
        self.outcome: str | None = None
        self.agent: str | None = None
        self.hangup_by: str | None = None
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.queues: list[str] = []
        self._waiters: list[defer.Deferred] = []

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def when_ended(self) -> defer.Deferred:
        if self.ended:
            return defer.succeed(self)
        d: defer.Deferred = defer.Deferred()
        self._waiters.append(d)
        return d

    def finish(self, at: float, outcome: str, hangup_by: str | None) -> None:
        if self.ended:
            return
        self.ended_at = at
        self.outcome = outcome
        self.hangup_by = hangup_by
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self)

    def __repr__(self) -> str:
        return f"<CallHandle {self.spec.dial} {self.channel} {self.outcome or 'running'}>"


class CallerUA:
    """The caller's phone: patience before an answer, talk time after it."""

    def __init__(self, pbx: "PBX", handle: CallHandle, channel: "Channel",
                 on_end: Callable[[CallHandle], None] | None = None) -> None:
        self.pbx = pbx
        self.handle = handle
        self.channel = channel
        self.on_end = on_end
        patience = pick(handle.spec.patience_s, pbx.rng)
        self._patience = pbx.later(patience, self._give_up) if patience is not None else None
        self._bye = None

    def answered(self) -> None:
        """Our INVITE got its 200 OK: stop waiting, start talking."""
        self.pbx.cancel(self._patience)
        self._patience = None
        if self._bye is None:
            talk = pick(self.handle.spec.talk_s, self.pbx.rng) or 0.0
            self._bye = self.pbx.later(talk + BYE_LATENCY, self._hang_up)

    def _give_up(self) -> None:
        self._patience = None
        if self.channel.alive and self.channel.state != 6 and self.channel.owner is not None:
            self.channel.owner.caller_cancel(self.channel)

    def _hang_up(self) -> None:
        self._bye = None
        if self.channel.alive and self.channel.owner is not None:
            self.channel.owner.caller_bye(self.channel)

    def gone(self, outcome: str, hangup_by: str | None) -> None:
        """The caller's channel is hung up, whoever did it."""
        self.pbx.cancel(self._patience)
        self.pbx.cancel(self._bye)
        self.handle.finish(self.pbx.now(), outcome, hangup_by)
        if self.on_end is not None:
            self.on_end(self.handle)


@dataclass(slots=True)
class CdrLeg:
    """One outgoing leg that rang for a call; it becomes one ``Cdr`` when the call ends."""

    dest_channel: str
    application: str
    data: str
    destination: str
    context: str
    start: float
    answer: float | None = None
    end: float | None = None


class Call:
    """One call as the PBX sees it, keyed by the caller channel's Uniqueid (the Linkedid).

    It outlives the applications the caller passes through (a Redirect moves it from one queue to
    another, or from a queue's bridge into a ``Dial``): the CDR legs and app_queue's held-back
    ``AgentComplete`` (23a) live here.
    """

    def __init__(self, pbx: "PBX", caller: "Channel", handle: CallHandle | None = None,
                 ua: CallerUA | None = None) -> None:
        self.pbx = pbx
        self.caller = caller
        self.handle = handle
        self.ua = ua
        self.cdrs: list[CdrLeg] = []
        #: builds app_queue's AgentComplete once the caller hangs up, after a Redirect out of the bridge
        self.pending_complete: Callable[[], list[tuple[str, str]]] | None = None
        self.done = False
        pbx.call_started(self)

    def add_leg(self, leg: "Channel", application: str, data: str, *, first: bool) -> CdrLeg:
        """A CDR for a leg that is ringing; the first one starts when the caller's channel did."""
        record = CdrLeg(leg.name, application, data, self.caller.exten, self.caller.context,
                        self.caller.created if first else leg.created)
        self.cdrs.append(record)
        return record

    def leg_answered(self, record: CdrLeg | None) -> None:
        """A CDR is answered when its calling channel is up, and not before it started (06: the
        originated agent answered 3 s in; 23a: the redirected caller was long up)."""
        if record is not None:
            up = self.caller.answered
            record.answer = max(record.start, up if up is not None else self.pbx.now())

    def leg_ended(self, record: CdrLeg | None) -> None:
        """An answered CDR takes the caller's location when it ends (23a: both say agents,1003),
        an unanswered one keeps where the caller was when it rang (04)."""
        if record is not None and record.end is None:
            record.end = self.pbx.now()
            if record.answer is not None:
                record.destination, record.context = self.caller.exten, self.caller.context

    def emit_cdrs(self) -> None:
        from . import render

        caller = self.caller
        for leg in self.cdrs:
            self.leg_ended(leg)
            self.pbx.emit(render.cdr(
                account=caller.account, source=caller.cid_num, destination=leg.destination, context=leg.context,
                callerid=f'"{caller.cid_name}" <{caller.cid_num}>', channel=caller.name,
                dest_channel=leg.dest_channel, app=leg.application, data=leg.data, start=leg.start,
                answer=leg.answer, end=leg.end or 0.0, uniqueid=caller.uniqueid))
        self.cdrs.clear()

    def end(self, outcome: str, hangup_by: str | None) -> None:
        if self.done:
            return
        self.done = True
        # the call leaves the PBX's books first: whoever hears of its end may place the next one
        self.pbx.call_ended(self)
        stats = self.pbx.stats
        if outcome == "answered":
            stats.calls_answered += 1
        elif outcome == "abandoned":
            stats.calls_abandoned += 1
        elif outcome == "failed":
            stats.calls_failed += 1
        if self.ua is not None:
            self.ua.gone(outcome, hangup_by)
        elif self.handle is not None:
            self.handle.finish(self.pbx.now(), outcome, hangup_by)

    def abort(self) -> None:
        """The PBX restarted: the call is gone without a single event."""
        self.end("cut", None)
