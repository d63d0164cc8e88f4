"""Writes what happens to the store: finished calls, misses, pauses and unpauses, alerts.

It listens on the bus and never blocks it: each write goes to the store's thread pool.  The rules it
keeps, because everything later (reports, screen pop, callbacks) reads these facts:

* **Order per subject.**  Writes for one call, and the facts of one agent, are stored one after the
  other in the order they happened (a later summary of a call wins; a pause is stored before the
  unpause that follows it).  Different calls and agents are written side by side, up to
  ``max_in_flight`` transactions at once (the store's threads); the calls waiting at the heads of
  their lines go together, up to ``CALL_BATCH`` in one transaction (``Store.save_calls``).
* **Nothing silently lost.**  A write that fails (the database is away, a lock timed out) is tried
  again with backoff, one at a time until the store answers.  Past ``max_pending`` writes in memory,
  new ones go to the journal (:mod:`.journal`; those of one reactor turn with one ``fsync``) and come
  back once the store works.  On stop the writer waits ``stop_timeout_s`` at most, then puts what is
  not stored into the journal, which the next start writes first.  A journal that cannot be written
  or read (a full disk) is said and tried again; what waits for it stays in order, and past
  ``max_pending`` the oldest is dropped loudly.  Every write is idempotent in the store, so a write
  that had in fact succeeded does no harm when it is made again.
* **Stalls are said.**  When the store has not answered a write for ``stall_after_s`` a warning says
  how long and how many writes wait, and again every minute while it lasts.
* **Personal data stays out of the log.**  A failure is logged by its kind and code
  (:func:`telephony.privacy.describe_error`), never with the values it tried to store.

Who paused an agent: the guard when the reason is the guard's (``振铃未接`` by default), app_queue
for ``Auto-Pause``; a pause or unpause Asterisk announced is credited in the store to whoever asked
for it (``telephony agent unpause`` records the request first), else to ``asterisk``, as is a
change only found in a status or after a gap.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from telephony.bus import EventBus
from telephony.live import events as ev
from telephony.privacy import describe_error

from .journal import Journal

log = logging.getLogger(__name__)

AUTOPAUSE_REASON = "Auto-Pause"
#: how often a stall is said again while it lasts
STALL_REPEAT_S = 60.0
#: spilled writes are appended to the journal once a reactor turn, or once this many have come
SPILL_BATCH = 256
#: calls stored in one transaction at most: a busy hour's calls cost one statement per batch, not per call
#: (bench/calllog.py), and a failed batch, all of it retried, stays small
CALL_BATCH = 200

Write = dict[str, Any]  #: {"kind": "call" | "agent_event" | "alert", "data": {…}}: JSON-ready
Key = tuple[str, ...]


def subject(write: Write) -> Key:
    """What a write is about: its writes are stored in order."""
    data = write["data"]
    if write["kind"] == "call":
        return ("call", data["pbx"], data["linkedid"])
    if data.get("agent"):
        return ("agent", data["pbx"], data["agent"])
    return ("alert", data["pbx"], data.get("queue") or "")


def describe(write: Write) -> str:
    """A write as the log may name it: ids, never numbers or names."""
    data = write["data"]
    if write["kind"] == "call":
        return f"call {data['pbx']}/{data['linkedid']}"
    if write["kind"] == "agent_event":
        return f"{data['kind']} {data['pbx']}/{data['agent']}"
    return f"alert {data['pbx']}/{data['kind']}/{data.get('agent') or data.get('queue')}"


class CallLogWriter(Service):
    def __init__(self, store: Any, bus: EventBus, clock: IReactorTime, *, guard_reasons: Callable[[], set[str]],
                 journal: Journal | None = None, max_pending: int = 10_000, max_in_flight: int = 4,
                 retry_delays: tuple[float, ...] = (1, 2, 5, 10, 30), stall_after_s: float = 10.0,
                 stop_timeout_s: float = 5.0) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.guard_reasons = guard_reasons
        self.journal = journal
        self.max_pending = max_pending
        self.max_in_flight = max_in_flight
        self.retry_delays = retry_delays
        self.stall_after_s = stall_after_s
        self.stop_timeout_s = stop_timeout_s
        self._lanes: dict[Key, deque[Write]] = {}
        self._ready: deque[Key] = deque()  #: subjects with writes waiting and none in flight
        self._busy: dict[Key, tuple[Write, float]] = {}  #: the write in flight per subject, since when
        self._in_flight = 0  #: transactions in flight (a batch of calls is one)
        self._queued = 0
        self._failures = 0
        self._retry: IDelayedCall | None = None
        self._stall: IDelayedCall | None = None
        self._from_journal = False  #: memory holds writes taken back from the journal
        self._spilling = False
        self._spill: list[Write] = []  #: writes for the journal, appended once this reactor turn ends
        self._spill_flush: IDelayedCall | None = None
        self._journal_retry: IDelayedCall | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._idle: list[Deferred] = []
        self._stopping = False
        self._stopped: Deferred | None = None
        self._stop_timer: IDelayedCall | None = None

    @property
    def backlog(self) -> int:
        """Writes not yet stored, in memory (in flight included)."""
        return self._queued + len(self._busy)

    def idle(self) -> Deferred:
        """Fires once every write received so far is stored (tests, and a clean shutdown)."""
        waiter: Deferred = Deferred()
        self._idle.append(waiter)
        self._check_idle()
        return waiter

    def _check_idle(self) -> None:
        if self.backlog == 0 and not self._spill and not (self.journal is not None and self.journal.waiting):
            waiters, self._idle = self._idle, []
            for waiter in waiters:
                waiter.callback(None)

    # -- lifetime -----------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._stopping, self._stopped, self._failures = False, None, 0
        self._unsubscribe = self.bus.subscribe(self.on_event)
        if self.journal is not None and self.journal.waiting:
            log.warning("call log: %d write(s) the last run could not store are in %s; storing them first",
                        self.journal.count(), self.journal.path)
            self._spilling = True
            self._refill()
            self._drain()

    def stopService(self) -> Deferred:
        """Stops listening, stores what it can within ``stop_timeout_s``, journals the rest."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().stopService()
        self._stopping = True
        self._retry = self._cancel(self._retry)  # one last attempt now rather than after the backoff
        self._stopped = Deferred()
        self._stop_timer = self.clock.callLater(self.stop_timeout_s, self._give_up, "timeout")
        self._flush_spill(drain=False)
        if self._spill:
            self._refill()  # the journal would not take them: to the store, from memory, if it can
        if self.backlog == 0 and not self._spill:
            self._give_up("done")
        else:
            self._drain()
        return self._stopped

    def _give_up(self, why: str) -> None:
        """Stopping, and the store did not take everything: keep the rest for the next start."""
        if self._stopped is None or self._stopped.called:
            return
        self._stop_timer = self._cancel(self._stop_timer)
        self._journal_retry = self._cancel(self._journal_retry)
        self._spill_flush = self._cancel(self._spill_flush)
        self._stall = self._cancel(self._stall)
        in_memory = [write for write, _ in self._busy.values()]
        for lane in self._lanes.values():
            in_memory.extend(lane)
        spilled, self._spill = self._spill, []
        if in_memory or spilled:
            reason = (f"not stored within {self.stop_timeout_s:g} s" if why == "timeout"
                      else "the store failed while stopping")
            self._keep_for_next_start(in_memory, spilled, reason)
        elif self.journal is not None and self.journal.waiting:
            log.warning("call log: %d write(s) still in %s, stored at the next start", self.journal.count(),
                        self.journal.path)
        self._lanes.clear()
        self._ready.clear()
        self._busy.clear()
        self._in_flight = 0
        self._queued = 0
        self._stopped.callback(None)

    def _keep_for_next_start(self, in_memory: list[Write], spilled: list[Write], reason: str) -> None:
        """In the journal, in the order they happened: those in memory (oldest), the journal's own
        untaken lines, then those waiting to be appended to it."""
        if self.journal is None:
            unstored = in_memory + spilled
            log.error("call log: %d write(s) %s and no journal to keep them: %s", len(unstored), reason,
                      ", ".join(describe(w) for w in unstored[:20]))
            return
        for writes, put in ((in_memory, self.journal.keep), (spilled, self.journal.append)):
            try:
                put(writes)
            except OSError as exc:
                lost = in_memory + spilled if put == self.journal.keep else spilled
                log.error("call log: %d write(s) %s, and the journal %s cannot be written (%s): lost: %s", len(lost),
                          reason, self.journal.path, exc.strerror, ", ".join(describe(w) for w in lost[:20]))
                return
        log.error("call log: %d write(s) %s; kept in %s, stored at the next start", self.journal.count(), reason,
                  self.journal.path)

    # -- events -> writes ---------------------------------------------------------------------

    def on_event(self, event: ev.DomainEvent) -> None:
        write = self.write_for(event)
        if write is not None:
            self._enqueue(write)

    def write_for(self, event: ev.DomainEvent) -> Write | None:
        pbx = event.pbx
        if isinstance(event, ev.CallEnded):
            return {"kind": "call", "data": event.to_dict()["call"]}
        if isinstance(event, ev.AgentMissed):
            return {"kind": "agent_event", "data": {
                "pbx": pbx, "agent": event.agent, "kind": "miss", "at": event.at, "source": "guard",
                "queue": event.queue, "linkedid": event.linkedid}}
        if isinstance(event, ev.AgentPaused):
            return {"kind": "agent_event", "data": {
                "pbx": pbx, "agent": event.agent, "kind": "pause" if event.paused else "unpause", "at": event.at,
                "source": self._pause_source(event), "queue": event.queue, "reason": event.reason or None,
                "unseen": event.seen == "resync"}}
        if isinstance(event, ev.SupervisorAlert):
            return {"kind": "alert", "data": {
                "pbx": pbx, "at": event.at, "kind": event.kind, "agent": event.agent, "queue": event.queue,
                "linkedid": event.linkedid, "caller_masked": event.caller,
                "detail": {"text": event.detail, "since": event.since}}}
        return None

    def _pause_source(self, event: ev.AgentPaused) -> str | None:
        if event.paused and event.reason in self.guard_reasons():
            return "guard"
        if event.reason == AUTOPAUSE_REASON:
            return "asterisk"
        # Announced: somebody asked for it; the store credits whoever recorded the request, else asterisk.
        return None if event.seen == "announced" else "asterisk"

    def _apply(self, write: Write) -> Deferred:
        data = dict(write["data"])
        if write["kind"] == "call":
            return self.store.save_call(ev.CallSummary.from_dict(data))
        if write["kind"] == "agent_event":
            return self.store.record_agent_event(data.pop("pbx"), data.pop("agent"), data.pop("kind"), data.pop("at"),
                                                 data.pop("source"), **data)
        return self.store.record_alert(data.pop("pbx"), data.pop("at"), data.pop("kind"), **data)

    # -- the queue ------------------------------------------------------------------------------

    def _enqueue(self, write: Write) -> None:
        # Once writes wait in the journal, new ones queue behind them there: the oldest are stored first.
        if self.journal is not None and (self._spill or self.journal.waiting or self._from_journal
                                         or self._queued >= self.max_pending):
            if not self._spilling:
                self._spilling = True
                log.warning("call log: %d writes wait for the store; the next ones go to %s until it catches up",
                            self.backlog, self.journal.path)
            if self._journal_retry is not None and len(self._spill) >= self.max_pending:
                log.error("call log: the journal %s cannot take writes and %d wait for it; dropped the oldest: %s",
                          self.journal.path, len(self._spill), describe(self._spill.pop(0)))
            self._spill.append(write)
            if self._journal_retry is None:
                if len(self._spill) >= SPILL_BATCH:
                    self._flush_spill()
                elif self._spill_flush is None:
                    self._spill_flush = self.clock.callLater(0, self._flush_spill)
            return
        if self._queued >= self.max_pending:
            lost = self._drop_oldest()
            log.error("call log: %d writes waiting for the store and no journal; dropped the oldest: %s",
                      self.max_pending, describe(lost))
        self._add(write)
        self._drain()

    def _add(self, write: Write) -> None:
        key = subject(write)
        lane = self._lanes.setdefault(key, deque())
        lane.append(write)
        self._queued += 1
        if key not in self._busy and len(lane) == 1:
            self._ready.append(key)

    def _drop_oldest(self) -> Write:
        key = self._ready[0] if self._ready else next(iter(self._lanes))
        lane = self._lanes[key]
        lost = lane.popleft()
        self._queued -= 1
        if not lane:
            del self._lanes[key]
            if key in self._ready:
                self._ready.remove(key)
        return lost

    def _drain(self) -> None:
        # While the store fails, one write at a time; else up to max_in_flight transactions, and the
        # calls at the head of their lanes go together (a store with save_calls takes them in one).
        limit = 1 if self._failures else self.max_in_flight
        batching = not self._failures and hasattr(self.store, "save_calls")
        while self._ready and self._retry is None and self._in_flight < limit:
            batch = [self._take(self._ready.popleft())]
            if batching and batch[0][1]["kind"] == "call":
                while len(batch) < CALL_BATCH and self._ready and self._lanes[self._ready[0]][0]["kind"] == "call":
                    batch.append(self._take(self._ready.popleft()))
            self._in_flight += 1
            written = maybeDeferred(self._apply_batch, [write for _, write in batch])
            keys = [key for key, _ in batch]
            written.addCallbacks(self._stored, self._not_stored, callbackArgs=(keys,), errbackArgs=(keys,))
            written.addErrback(self._bug)
        self._watch_stall()

    def _take(self, key: Key) -> tuple[Key, Write]:
        lane = self._lanes[key]
        write = lane.popleft()
        if not lane:
            del self._lanes[key]
        self._queued -= 1
        self._busy[key] = (write, self.clock.seconds())
        return key, write

    def _apply_batch(self, writes: list[Write]) -> Deferred:
        if len(writes) == 1:
            return self._apply(writes[0])
        return self.store.save_calls([ev.CallSummary.from_dict(dict(write["data"])) for write in writes])

    def _next_of(self, key: Key) -> None:
        if key in self._lanes and key not in self._busy:
            self._ready.append(key)

    def _stored(self, _: object, keys: list[Key]) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if not any(key in self._busy for key in keys):
            return  # given up on while stopping: in the journal too, and stored twice is stored once
        self._failures = 0
        for key in keys:
            self._busy.pop(key, None)
            self._next_of(key)
        self._refill()
        self._drain()
        self._check_idle()
        if self._stopped is not None and self.backlog == 0:
            self._give_up("done")

    def _not_stored(self, failure: Failure, keys: list[Key]) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        entries = [(key, self._busy.pop(key)) for key in keys if key in self._busy]
        if not entries:
            return
        # back to the head of their subjects' lines, in order: nothing of the same call or agent may pass
        for key, (write, _) in reversed(entries):
            self._lanes.setdefault(key, deque()).appendleft(write)
            self._queued += 1
            if key in self._ready:
                self._ready.remove(key)
            self._ready.appendleft(key)
        first = describe(entries[0][1][0]) + (f" and {len(entries) - 1} more" if len(entries) > 1 else "")
        if self._stopping:
            log.error("call log: %s not stored while stopping (%s)", first, describe_error(failure.value))
            self._give_up("failed")
            return
        delay = self.retry_delays[min(self._failures, len(self.retry_delays) - 1)]
        self._failures += 1
        log.warning("call log: %s not stored (%s); %d waiting, retrying in %.0f s",
                    first, describe_error(failure.value), self.backlog, delay)
        if self._retry is None or not self._retry.active():
            self._retry = self.clock.callLater(delay, self._retry_now)

    @staticmethod
    def _bug(failure: Failure) -> None:
        log.error("call log: the writer itself failed: %s", describe_error(failure.value))

    @staticmethod
    def _cancel(timer: IDelayedCall | None) -> None:
        """Cancel ``timer`` if it is pending; returns None, to clear the attribute that held it."""
        if timer is not None and timer.active():
            timer.cancel()
        return None

    def _retry_now(self) -> None:
        self._retry = None
        self._drain()

    def _flush_spill(self, *, drain: bool = True) -> None:
        """Append this turn's spilled writes to the journal with one sync; a failure is retried, and
        meanwhile they reach the store from memory once nothing older waits in the journal."""
        self._spill_flush = self._cancel(self._spill_flush)
        if not self._spill or self.journal is None:
            return
        try:
            self.journal.append(self._spill)
        except OSError as exc:
            self._journal_failed("written", exc)
            if drain:
                self._refill()
                self._drain()
            return
        self._spill = []

    def _journal_failed(self, how: str, exc: OSError) -> None:
        log.error("call log: the journal %s cannot be %s (%s); %d write(s) wait for it, trying again",
                  self.journal.path if self.journal else "-", how, exc.strerror, len(self._spill) + self.backlog)
        self._cancel(self._journal_retry)
        self._journal_retry = self.clock.callLater(self.retry_delays[0], self._journal_again)

    def _journal_again(self) -> None:
        self._journal_retry = None
        if self._stopping:
            return
        self._flush_spill()
        if self._journal_retry is None:
            self._refill()
            self._drain()
            self._check_idle()

    def _refill(self) -> None:
        """Memory is empty: take the next writes back, oldest first: the journal's lines, then the
        spilled writes not yet appended to it (they need not go through the file any more)."""
        if self.journal is None or self.backlog:
            return
        room = max(1, self.max_pending // 2)
        try:
            if self._from_journal:
                self.journal.all_stored()
                self._from_journal = False
            writes = self.journal.take(room) if self.journal.waiting else []
        except OSError as exc:
            self._journal_failed("read", exc)
            return
        if writes:
            self._from_journal = True
        elif self._spill:
            writes, self._spill = self._spill[:room], self._spill[room:]
        if writes:
            for write in writes:
                self._add(write)
        elif self._spilling:
            self._spilling = False
            log.warning("call log: the store caught up; the journal %s is written", self.journal.path)

    # -- stalls ---------------------------------------------------------------------------------

    def _watch_stall(self) -> None:
        if not self._busy:
            self._stall = self._cancel(self._stall)
        elif self._stall is None:
            self._stall = self.clock.callLater(self.stall_after_s, self._stalled)

    def _stalled(self) -> None:
        self._stall = None
        if not self._busy:
            return
        oldest = min(since for _, since in self._busy.values())
        waited = self.clock.seconds() - oldest
        if waited >= self.stall_after_s:
            log.warning("call log: the store has not answered for %.1f s; %d write(s) waiting", waited, self.backlog)
            self._stall = self.clock.callLater(STALL_REPEAT_S, self._stalled)
        else:
            self._stall = self.clock.callLater(self.stall_after_s - waited, self._stalled)
