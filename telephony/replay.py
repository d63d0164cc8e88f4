"""Replaying an AMI capture through the daemon's own pipeline (``telephony replay``).

Framer → live model → event bus, on a ``task.Clock`` that follows the capture's record times:
those are arrival times, exactly what the daemon times events by (Asterisk's ``timestampevents`` is
off on most servers).  Optionally the ring guard rides along in observe mode (no AMI to act on), so
a capture shows when the guard would have acted.  Times are anchored to the wall clock with the
start time in the capture's first NOTE (``… started 2026-11-22T17:02:45+0000``) when there is one.

A capture may hold several connections one after another (a reconnect, a restart): one connection
is followed at a time, so a stream seen twice is not counted twice.
"""
from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone, tzinfo
from typing import Any, Iterator, Sequence

from twisted.internet.task import Clock

from telephony.ami.capture import Record, read_capture
from telephony.ami.protocol import Framer, Message, ProtocolError
from telephony.bus import EventBus
from telephony.config import RingPolicy, Shift
from telephony.live.events import CallEnded, CallSummary, DomainEvent
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.rings.guard import RingGuard
from telephony.rings.service import RingGuardService

log = logging.getLogger(__name__)

_STARTED = re.compile(r"started (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d{4}|Z))")


def capture_start(records: list[Record]) -> float:
    """Epoch seconds of the capture's t=0, from its first NOTE; 0.0 when it does not say."""
    for record in records[:5]:
        if record.kind == "NOTE":
            found = _STARTED.search(record.text)
            if found:
                return datetime.strptime(found.group(1).replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return 0.0


def advance_to(clock: Clock, when: float) -> None:
    """Move ``clock`` to ``when`` one due call at a time, so each runs at its own time."""
    while True:
        due = [c.getTime() for c in clock.getDelayedCalls()]
        step = min(due) if due else None
        if step is None or step > when:
            break
        clock.advance(max(0.0, step - clock.seconds()))
    clock.advance(max(0.0, when - clock.seconds()))


def received_messages(records: list[Record]) -> Iterator[tuple[float, Message]]:
    """(record time, message) for every message of the connection being followed."""
    framers: dict[str, Framer] = {}
    following: str | None = None
    closed: set[str] = set()
    for record in records:
        conn = record.connection
        if record.kind == "CLOSE":
            closed.add(conn)
        if record.kind != "RECV":
            continue
        if following is None or (following in closed and conn not in closed):
            following = conn
        if conn != following:
            continue
        try:
            messages = framers.setdefault(conn, Framer()).feed(record.payload)
        except ProtocolError as exc:
            log.warning("connection %s at %.3f s: %s; skipping the rest of it", conn, record.t, exc)
            closed.add(conn)
            continue
        for message in messages:
            yield record.t, message


def replay_events(records: list[Record], model: LiveModel, *, guard_tz: tzinfo | None = None,
                  shifts: Sequence[Shift] = ()) -> Iterator[DomainEvent]:
    """Every domain event the daemon would publish for this capture, in order.

    With ``guard_tz`` the ring guard runs in observe mode (``guard_tz`` is the call centre's zone,
    for its per-day and per-shift counts).
    """
    t0 = capture_start(records)
    clock = Clock()
    clock.advance(t0)
    bus = EventBus()
    published: list[DomainEvent] = []
    bus.subscribe(published.append)
    live = LiveService(model, bus, clock)
    live.startService()
    guard = None
    if guard_tz is not None:
        def observe(queue: str | None) -> RingPolicy:
            return model.policy(queue).model_copy(update={"mode": "observe"})

        guard = RingGuardService(RingGuard(model, observe, guard_tz, shifts), bus, ami=None, clock=clock)
        guard.startService()
    last = records[-1].t if records else 0.0
    for t, message in received_messages(records):
        advance_to(clock, t0 + t)
        live.on_ami_event(message, t0 + t)
        yield from published
        published.clear()
    advance_to(clock, t0 + last)
    live.finish()
    yield from published
    for service in (live, guard):
        if service is not None:
            service.stopService()


def calls_from_capture(path: str | os.PathLike[str], *, model: LiveModel | None = None) -> Iterator[tuple[CallSummary, float]]:
    """Every call in the capture, in the order they ended, with the capture's t0 (epoch seconds)."""
    records = read_capture(path)
    t0 = capture_start(records)
    for event in replay_events(records, model or LiveModel()):
        if isinstance(event, CallEnded):
            yield event.call, t0


def call_as_json(call: CallSummary, t0: float) -> dict[str, Any]:
    """The object ``telephony replay`` prints for one call (CONTRACTS.md, "One call")."""
    return {
        "pbx": call.pbx,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "caller": call.caller,
        "caller_name": call.caller_name,
        "entered_at": datetime.fromtimestamp(call.entered_at, timezone.utc).isoformat(timespec="milliseconds"),
        "t0_s": round(call.entered_at - t0, 1),
        "queues": list(call.queues),
        "queue": call.queue,
        "offers": [{"agent": o.agent, "queue": o.queue, "rang_s": o.rang_s, "rings": o.rings, "result": o.result}
                   for o in call.offers],
        "answered_by": call.answered_by,
        "transferred_to": list(call.transferred_to),
        "wait_s": call.wait_s,
        "rings_to_answer": call.rings_to_answer,
        "apologise": call.apologise,
        "talk_s": call.talk_s,
        "outcome": call.outcome,
        "hangup_by": call.hangup_by,
        "hangup_cause": call.hangup_cause,
    }
