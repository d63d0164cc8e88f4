"""The ring report (``telephony report rings --date D``), computed from stored facts only.

For one local day (``tz``, default the call centre's Asia/Shanghai), per PBX, queue and agent:

* ``offers``: offers of inbound calls made to the agent (by when the offer was made);
* ``answered_within``: those the agent answered within ``rings_allowed`` rings of their phone ringing;
* ``misses``: the agent's recorded misses (``agent_events`` of kind ``miss``, by when they happened);
* ``calls``, ``answered_in_time``, ``share_in_time``, ``asa_s``: for the calls that entered that
  day (by ``entered_at``), answered within ``rings_allowed`` rings of the caller arriving
  (``rings_to_answer``, counted over ``wait_s``), and the average speed of answer (mean
  ``wait_s`` of the answered calls).  On an agent's row these are the calls the agent answered;
  on the queue's row (``agent`` None) every inbound call whose queue it was, abandoned ones
  included, so ``share_in_time`` there is the share of callers served in time.

Unknown is left out and counted: calls still ``incomplete`` and calls answered unseen (no wait is
known: the daemon started, or its AMI link came back, after the answer) count in no call figure but
in ``calls_left_out``; offers that ended unseen (in a gap of the AMI link: ``unknown``, or answered at
a moment nobody saw) count in no offer figure but in ``offers_left_out``.  Outbound calls (a callback
rings the agent first) and supervision count nowhere.  Direct dials are the rows
with ``queue`` None.  A call that crosses midnight counts on the day it began; its offers on the
day each was made.  Each run recomputes everything, so the report can be made again any time.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from telephony.store.model import AgentEventRow, CallRow, OfferRow

__all__ = ["RingReportRow", "day_bounds", "queues_today", "ring_report"]


@dataclass(frozen=True, slots=True)
class RingReportRow:
    day: date
    pbx: str
    queue: str | None  #: None: direct dials
    agent: str | None  #: None: the whole queue
    offers: int
    answered_within: int
    misses: int
    calls: int
    answered_in_time: int
    share_in_time: float | None  #: answered_in_time / calls; None without calls
    asa_s: float | None  #: None when no call was answered
    calls_left_out: int = 0  #: incomplete, or answered with an unknown wait
    offers_left_out: int = 0  #: ended unseen


@dataclass
class _Tally:
    offers: int = 0
    answered_within: int = 0
    misses: int = 0
    calls: int = 0
    answered_in_time: int = 0
    waits: list[float] = field(default_factory=list)  #: of the answered calls
    calls_left_out: int = 0
    offers_left_out: int = 0


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The local day as an aware [start, end) interval (23 or 25 hours long on a DST change)."""
    zone = ZoneInfo(tz)
    return (datetime.combine(day, time(), tzinfo=zone),
            datetime.combine(day + timedelta(days=1), time(), tzinfo=zone))


def ring_report(session: Session, day: date, *, tz: str = "Asia/Shanghai", pbx: str | None = None,
                rings_allowed: int | Callable[[str | None], int] = 3) -> list[RingReportRow]:
    """The report rows for ``day``, ordered by PBX, queue (direct dials last), queue row first, agent.

    ``rings_allowed`` is one number for every queue, or the queue's own (``Config.ring_policy``:
    queues may allow fewer or more rings; ``None`` is the direct dials').  Raises
    ``zoneinfo.ZoneInfoNotFoundError`` for an unknown ``tz``.
    """
    allowed = rings_allowed if callable(rings_allowed) else (lambda queue: rings_allowed)
    start, end = day_bounds(day, tz)
    tallies: dict[tuple[str, str | None, str | None], _Tally] = defaultdict(_Tally)

    offers = (select(CallRow.pbx, OfferRow.queue, OfferRow.agent, OfferRow.result, OfferRow.rings,
                     OfferRow.ended_unseen)
              .join(CallRow, OfferRow.call_id == CallRow.id)
              .where(OfferRow.started_at >= start, OfferRow.started_at < end, CallRow.direction == "inbound"))
    for row_pbx, queue, agent, result, rings, unseen in session.execute(_only(offers, CallRow.pbx, pbx)):
        within = result == "answered" and rings <= allowed(queue)
        for key in ((row_pbx, queue, agent), (row_pbx, queue, None)):
            if unseen:
                tallies[key].offers_left_out += 1
                continue
            tallies[key].offers += 1
            tallies[key].answered_within += int(within)

    misses = (select(AgentEventRow.pbx, AgentEventRow.queue, AgentEventRow.agent)
              .where(AgentEventRow.kind == "miss", AgentEventRow.at >= start, AgentEventRow.at < end))
    for row_pbx, queue, agent in session.execute(_only(misses, AgentEventRow.pbx, pbx)):
        tallies[row_pbx, queue, agent].misses += 1
        tallies[row_pbx, queue, None].misses += 1

    calls = (select(CallRow.pbx, CallRow.queue, CallRow.answered_by, CallRow.outcome, CallRow.rings_to_answer,
                    CallRow.wait_s)
             .where(CallRow.entered_at >= start, CallRow.entered_at < end, CallRow.direction == "inbound"))
    for row_pbx, queue, answered_by, outcome, rings_to_answer, wait_s in session.execute(
            _only(calls, CallRow.pbx, pbx)):
        answered = outcome == "answered" and answered_by is not None
        keys = [(row_pbx, queue, None)] + ([(row_pbx, queue, answered_by)] if answered else [])
        unknown = outcome == "incomplete" or (answered and (wait_s is None or rings_to_answer is None))
        for key in keys:
            tally = tallies[key]
            if unknown:
                tally.calls_left_out += 1
                continue
            tally.calls += 1
            if answered:
                tally.answered_in_time += int(rings_to_answer <= allowed(queue))
                tally.waits.append(wait_s)

    return [_row(day, key, tally) for key, tally in sorted(tallies.items(), key=_order)]


def _only(query, column, pbx: str | None):
    return query if pbx is None else query.where(column == pbx)


def _order(item: tuple[tuple[str, str | None, str | None], _Tally]) -> tuple:
    (pbx, queue, agent), _ = item
    return (pbx, queue is None, queue or "", agent is not None, agent or "")


def _row(day: date, key: tuple[str, str | None, str | None], tally: _Tally) -> RingReportRow:
    pbx, queue, agent = key
    waits = tally.waits
    return RingReportRow(
        day=day, pbx=pbx, queue=queue, agent=agent, offers=tally.offers, answered_within=tally.answered_within,
        misses=tally.misses, calls=tally.calls, answered_in_time=tally.answered_in_time,
        share_in_time=tally.answered_in_time / tally.calls if tally.calls else None,
        asa_s=sum(waits) / len(waits) if waits else None,
        calls_left_out=tally.calls_left_out, offers_left_out=tally.offers_left_out,
    )


def queues_today(session: Session, day: date, *, tz: str, pbx: str,
                 rings_allowed: int | Callable[[str | None], int] = 3) -> list[dict]:
    """Each queue's day for the supervisor's board: callers (``calls``), answered within the rings
    allowed, the service level (that ÷ calls; None without calls), misses, and abandoned calls with
    their mean wait.  From the ring report's queue rows, so both always agree."""
    start, end = day_bounds(day, tz)
    abandoned: dict[str | None, list[float]] = defaultdict(list)
    for queue, wait in session.execute(select(CallRow.queue, CallRow.wait_s).where(
            CallRow.pbx == pbx, CallRow.outcome == "abandoned", CallRow.direction == "inbound",
            CallRow.entered_at >= start, CallRow.entered_at < end)):
        abandoned[queue].append(wait)
    out = []
    for row in ring_report(session, day, tz=tz, pbx=pbx, rings_allowed=rings_allowed):
        if row.agent is not None or row.queue is None:
            continue
        waits = [w for w in abandoned.get(row.queue, ()) if w is not None]
        out.append({"queue": row.queue, "calls": row.calls, "answered_in_time": row.answered_in_time,
                    "service_level": row.share_in_time, "misses": row.misses,
                    "abandoned": len(abandoned.get(row.queue, ())),
                    "abandoned_mean_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
                    "calls_left_out": row.calls_left_out})
    return out
