"""How a finished call is summed up: outcome, wait, rings heard, who hung up (CONTRACTS.md).

* ``wait_s``: first channel of the call → first answer by an agent, or → the caller leaving.
* ``rings_to_answer``: rings heard over ``wait_s``; ``apologise`` when an answered caller heard the
  queue's ``apologise_at`` rings or more.
* ``talk_s``: first answer → end of the caller's channel, transfers included.
* ``outcome``: answered; voicemail (reached a mailbox, no agent); abandoned (left a queue or a ringing
  agent before any answer); failed (never reached a queue, an agent or a mailbox; an outbound call
  whose agent never answered); incomplete (the end was not seen).
* ``hangup_by``: whoever sent the last ``HangupRequest`` that counts (the caller's own, or a talking
  channel's): ``caller`` or ``agent``; ``system`` when nobody asked (an AMI Hangup, a timeout).
Times are rounded to 0.1 s, as printed; ring counts use the unrounded times.

What the daemon did not see stays unknown (CONTRACTS.md, "Across a gap"): a call answered unseen has
no wait, rings, apology or talk time; a call whose caller ended unseen (``ended_unseen``) keeps its
answer and its agent, its times end at the last moment it was known alive, and nobody is named for
the hang-up.  Its outcome is ``answered`` or ``voicemail`` when that was seen, else ``incomplete``.
"""
from __future__ import annotations

from typing import Callable

from telephony.config import RingPolicy

from .events import CallSummary, OfferSummary
from .ringcount import count_rings
from .state import Call


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summarise(call: Call, policy: Callable[[str | None], RingPolicy], *, complete: bool) -> CallSummary:
    queue = call.answered_queue if call.answered and call.answered_queue else (
        call.queues[-1] if call.queues else None)
    ring_policy = policy(queue)
    end = call.caller_ended_at if call.caller_ended_at is not None else call.ended_at
    assert end is not None
    wait: float | None
    if call.answered_at is not None:
        wait, talk = call.answered_at - call.entered_at, end - call.answered_at
    elif call.answered:
        wait = talk = None
    else:
        wait, talk = end - call.entered_at, None
    rings = None if wait is None else count_rings(wait, ring_policy.cycle_s)
    if call.answered_at is not None:
        apologise = rings is not None and rings >= ring_policy.apologise_at
    else:
        apologise = None if call.answered else False
    offers = tuple(
        OfferSummary(agent=o.agent, queue=o.queue, rang_s=_r(o.rang_s), rings=count_rings(o.rang_s, policy(o.queue).cycle_s),
                     result=o.result or "cancelled", started_at=o.started_at, ring_started_at=o.ring_started_at,
                     ended_at=o.ended_at if o.ended_at is not None else end, ended_unseen=o.ended_unseen)
        for o in call.offers)
    unseen = call.ended_unseen
    return CallSummary(
        pbx=call.pbx, linkedid=call.linkedid, caller=call.caller, caller_name=call.caller_name,
        entered_at=call.entered_at, queues=tuple(call.queues), queue=queue, offers=offers,
        answered_by=call.answered_by, answered_at=call.answered_at, transferred_to=tuple(call.transferred_to),
        wait_s=_r(wait), rings_to_answer=rings, apologise=apologise,
        talk_s=_r(talk), outcome=_outcome(call, complete),
        hangup_by=None if unseen else call.last_hangup_request or "system",
        hangup_cause=None if unseen else call.hangup_cause, ended_at=call.ended_at, direction=call.direction,
        ended_unseen=unseen,
    )


def _outcome(call: Call, complete: bool) -> str:
    if not complete:
        return "incomplete"
    if call.answered:
        return "answered"
    if call.ended_unseen:
        return "voicemail" if call.voicemail else "incomplete"
    if call.voicemail:
        return "voicemail"
    if call.direction == "inbound" and (call.queues or call.offers):
        return "abandoned"
    return "failed"
