"""Replaying an AMI capture through the framer and the live model (``telephony replay``).

The capture's record times are arrival times, exactly what the daemon times events by (Asterisk's
``timestampevents`` is off on most servers).  They are anchored to the wall clock with the start
time in the capture's first NOTE (``… started 2026-11-22T17:02:45+0000``) when there is one.

A capture may hold several connections one after another (a reconnect, a restart): the events of
one connection are followed at a time, so a stream seen twice is not counted twice.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

from telephony.ami.capture import Record, read_capture
from telephony.ami.protocol import Framer, ProtocolError
from telephony.live.events import CallEnded, CallSummary, DomainEvent
from telephony.live.model import LiveModel

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


@dataclass
class Replay:
    """Feeds records to a model; yields every domain event with the capture's own clock."""

    model: LiveModel
    t0: float = 0.0

    def events(self, records: list[Record]) -> Iterator[DomainEvent]:
        framers: dict[str, Framer] = {}
        following: str | None = None
        closed: set[str] = set()
        last = 0.0
        for record in records:
            last = record.t
            conn = record.connection
            if record.kind == "CLOSE":
                closed.add(conn)
                continue
            if record.kind != "RECV" or conn in closed and conn != following:
                continue
            if following is None or (following in closed and conn != following):
                following = conn
            if conn != following:
                continue
            framer = framers.setdefault(conn, Framer())
            try:
                messages = framer.feed(record.payload)
            except ProtocolError as exc:
                log.warning("connection %s at %.3f s: %s; skipping the rest of it", conn, record.t, exc)
                closed.add(conn)
                continue
            at = self.t0 + record.t
            for message in messages:
                yield from self.model.apply(message, at)
        yield from self.model.finish(self.t0 + last)


def calls_from_capture(path: str | os.PathLike[str], *, pbx: str = "default", model: LiveModel | None = None) -> Iterator[tuple[CallSummary, float]]:
    """Every call in the capture, in the order they ended, with the capture's t0 (epoch seconds)."""
    records = read_capture(path)
    t0 = capture_start(records)
    replay = Replay(model or LiveModel(pbx), t0)
    for event in replay.events(records):
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
