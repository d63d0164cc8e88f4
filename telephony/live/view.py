"""Read-only pictures of the live state for screens: plain JSON-ready data, no live objects.

``board(model, now)`` is what a supervisor's wall shows: each queue with its waiting callers and its
members, and every call in progress (queued, ringing with its ring number, talking).  Numbers are
as the model has them; whoever shows the board to a person masks them as that person may see.
"""
from __future__ import annotations

from typing import Any, Callable

from .model import LiveModel
from .ringcount import count_rings


def board(model: LiveModel, now: float, *, mask: Callable[[str | None], str | None] = lambda n: n) -> dict[str, Any]:
    queues = []
    for name in sorted(model.queues):
        queue = model.queues[name]
        waiting = [_waiting(model, e.linkedid, e.position, e.joined_at, now, mask)
                   for e in sorted(queue.entries.values(), key=lambda e: e.position)]
        queues.append({
            "name": name,
            "waiting": waiting,
            # what the caller lived through: from the call's first ring, like each row
            "longest_wait_s": max((row["waiting_s"] for row in waiting), default=0.0),
            "members": [
                {"agent": m.agent, "name": m.name, "interface": m.interface, "status": m.status,
                 "paused": m.paused, "reason": m.reason, "paused_since": m.paused_since}
                for m in sorted(queue.members.values(), key=lambda m: m.agent)
            ],
        })
    return {"pbx": model.pbx, "at": now, "queues": queues, "calls": calls_in_progress(model, now, mask=mask)}


def calls_in_progress(model: LiveModel, now: float, *, mask: Callable[[str | None], str | None] = lambda n: n) -> list[dict[str, Any]]:
    out = []
    for call in sorted(model.calls.values(), key=lambda c: c.entered_at):
        ringing = [o for o in call.offers if o.ringing]
        if call.answered:
            # first seen talking after a gap: it talks since then at least
            state, since = "talking", call.answered_at if call.answered_at is not None else call.talking_seen_at
        elif ringing:
            state, since = "ringing", call.entered_at
        elif call.current_queue is not None:
            state, since = "queued", call.entered_at
        else:
            state, since = "starting", call.entered_at
        cycle = model.policy(call.current_queue or call.answered_queue).cycle_s
        out.append({
            "linkedid": call.linkedid,
            "direction": call.direction,
            "caller": mask(call.caller),
            "caller_name": call.caller_name,
            "state": state,
            "queue": call.current_queue or call.answered_queue or (call.queues[-1] if call.queues else None),
            "agent": call.talking_with if call.answered else None,
            "answered_by": call.answered_by,
            "ringing": [{"agent": o.agent, "ring": max(1, count_rings(now - o.ring_started_at, cycle))}
                        for o in ringing],
            "since": since,
            # unknown when the answer was not seen
            "waited_s": None if call.answered and call.answered_at is None else
            round((call.answered_at or now) - call.entered_at, 1),
        })
    return out


def _waiting(model: LiveModel, linkedid: str, position: int, joined_at: float, now: float,
             mask: Callable[[str | None], str | None]) -> dict[str, Any]:
    call = model.calls.get(linkedid)
    return {
        "linkedid": linkedid,
        "position": position,
        "caller": mask(call.caller) if call else None,
        "caller_name": call.caller_name if call else None,
        "waiting_s": round(now - (call.entered_at if call else joined_at), 1),
    }
