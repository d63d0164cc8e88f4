"""The ring guard's shell: timers on the injected clock, AMI actions, events on the bus.

A deadline that falls due does not act in the same reactor turn: it first yields once
(``callLater(0)``) so that AMI bytes already received — an answer, a hang-up in the same instant —
reach the live model, then asks the guard whether the offer is still ringing.  When the link has
been quiet, it first makes sure the link is alive (``confirm_alive``: a Ping, answered after every
event sent before it); a link found dead makes the deadline wait for the resync, like any gap.  That costs one
reactor iteration (well under a millisecond) and is what keeps the guard from hanging up an answered
call, which Asterisk would turn into the end of the whole call (capture 17b).

Every action it sends is one INFO line with the agent, the queue, the masked caller and the
Linkedid (DESIGN.md, rules of the house), so what the daemon did to a call can always be read back.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from telephony.ami.client import ActionTimeout, ConnectionLost
from telephony.ami.connection import NotConnected
from telephony.bus import EventBus
from telephony.live.events import DomainEvent
from telephony.privacy import mask_number

from .guard import Command, Decision, HangupLeg, PauseAgent, RedirectCaller, RingGuard, TimerKey

log = logging.getLogger(__name__)

#: failures that mean the action did not (or may not) reach Asterisk
UNDELIVERED = (NotConnected, ConnectionLost, ActionTimeout)


class ActionSender(Protocol):
    """What the guard needs of the AMI link (``AMIConnection``); ``confirm_alive`` is optional."""

    def action(self, name: str, fields: Any = None, *, timeout: float | None = None) -> Deferred: ...


class RingGuardService(Service):
    def __init__(self, guard: RingGuard, bus: EventBus, ami: ActionSender | None, clock: IReactorTime,
                 *, store: Any = None) -> None:
        self.guard = guard
        self.bus = bus
        self.ami = ami  #: None: observe only, whatever the policy says (e.g. a replay)
        self.clock = clock
        self.store = store  #: where today's misses are read back from after a restart
        self._timers: dict[TimerKey, IDelayedCall] = {}
        self._unsubscribe = None

    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.bus.subscribe(self.on_event)
        if self.store is not None:
            now = self.clock.seconds()
            since = self.guard.day_start(now)
            loaded = self.store.agent_events(self.guard.pbx, since=since, until=now)
            loaded.addCallback(lambda rows: self.guard.restore_misses(
                [(row.agent, row.at.timestamp()) for row in rows if row.kind == "miss"]))
            loaded.addErrback(lambda failure: log.warning(
                "ring guard: today's misses could not be read back (%s); counting from zero",
                failure.getErrorMessage()))

    def stopService(self) -> Any:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for call in self._timers.values():
            if call.active():
                call.cancel()
        self._timers.clear()
        return super().stopService()

    def on_event(self, event: DomainEvent) -> None:
        self._carry_out(self.guard.on_event(event))

    def _carry_out(self, decision: Decision) -> None:
        for key in decision.cancels:
            timer = self._timers.pop(key, None)
            if timer is not None and timer.active():
                timer.cancel()
        now = self.clock.seconds()
        for at, key in decision.timers:
            self._timers[key] = self.clock.callLater(max(0.0, at - now), self._due, key)
        for command in decision.commands:
            self._send(command)
        self.bus.publish_all(decision.events)

    def _due(self, key: TimerKey) -> None:
        # kept with the timers, so that a stop cancels a deadline caught in its yield too
        self._timers[key] = self.clock.callLater(0, self._fire, key)

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        confirm = getattr(self.ami, "confirm_alive", None)
        if key[0] != "offer" or confirm is None:
            self._carry_out(self.guard.on_timer(key, self.clock.seconds()))
            return
        confirm().addCallback(self._judge_if_alive, key)

    def _judge_if_alive(self, alive: bool, key: TimerKey) -> None:
        if not self.running:
            return  # stopped while the Ping was under way: the next start judges it from the saved state
        if alive:
            self._carry_out(self.guard.on_timer(key, self.clock.seconds()))
        else:
            self.guard.judge_after_resync(key)

    def _send(self, command: Command) -> None:
        if self.ami is None:
            return
        if not self.guard.still_owned(command):
            log.info("ring guard: %s no longer ringing; nothing sent", getattr(command, "channel", command))
            return
        if isinstance(command, HangupLeg):
            name, fields = "Hangup", [("Channel", command.channel), ("Cause", command.cause)]
        elif isinstance(command, RedirectCaller):
            name, fields = "Redirect", [("Channel", command.channel), ("Context", command.context),
                                        ("Exten", command.exten), ("Priority", command.priority)]
        else:
            assert isinstance(command, PauseAgent)
            name, fields = "QueuePause", [("Interface", command.interface), ("Paused", True),
                                          ("Reason", command.reason)]
        log.info("ring guard: %s %s (%s)", name, fields[0][1], self._about(command))
        # maybeDeferred: "not connected" may be raised or returned failed; either way it is handled
        maybeDeferred(self.ami.action, name, fields).addErrback(self._failed, command, name, fields[0][1])

    def _about(self, command: Command) -> str:
        """Agent, queue, masked caller and call of a command, for its log line."""
        if isinstance(command, PauseAgent):
            return f"agent {command.agent}, every queue, reason {command.reason}"
        offer = self.guard.model.offer(command.offer_id)
        call = self.guard.model.calls.get(command.linkedid)
        return (f"agent {offer.agent if offer else '?'}, queue {offer.queue if offer else '?'}, "
                f"caller {mask_number(call.caller) if call else '?'}, call {command.linkedid}")

    def _failed(self, failure: Failure, command: Command, name: str, target: str) -> None:
        log.warning("ring guard: %s %s failed: %s", name, target, failure.getErrorMessage())
        if failure.check(*UNDELIVERED):
            # Asterisk did not get it (or may not have): try again once the link is back and synced.
            self._carry_out(self.guard.not_sent(command, self.clock.seconds()))
        # Anything else ("No such channel") is the race lost by a hair: the caller or the agent won.
