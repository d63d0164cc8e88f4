"""当日工作数据统计: each agent's and each queue's working day (or week), from the stored facts only.

Per agent and day: calls answered, outbound calls, talk time, average handle time (talk; the wrap-up
pause is counted apart as pause time), average speed of answer, average rings to answer, misses,
pauses and their time, follow-ups done, and the two counts the handbooks ask for that no PBX keeps:
**hung up first** (answered calls the agent ended before the customer: the handbook says wait for
the customer to hang up, 等对方挂断后再挂) and **without a wrap-up** (answered calls with no problem type
saved within ``wrapup_s`` of their end).  Per queue and day: callers offered, answered, answered
within the rings allowed, the service level (that ÷ offered), abandoned (and their mean wait), the
longest wait.  Per hour of day: callers and the service level, for the week's plot.

Unknown stays out of every average (a call answered unseen has no wait); days are the call
centre's local days (``tz``); a call counts on the day it began.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from telephony.store.model import AgentEventRow, CallRow, TaskRow, WrapUpRow
from telephony.store.report import day_bounds

__all__ = ["AGENT_FIELDS", "HOUR_FIELDS", "QUEUE_FIELDS", "AgentDay", "QueueDay", "work_report"]


@dataclass
class AgentDay:
    day: str
    agent: str
    calls_answered: int = 0
    outbound: int = 0
    talk_s: float = 0.0
    aht_s: float | None = None
    asa_s: float | None = None
    avg_rings: float | None = None
    misses: int = 0
    pauses: int = 0
    pause_s: float = 0.0
    follow_ups_done: int = 0
    hung_up_first: int = 0
    without_wrapup: int = 0
    _talks: list[float] = field(default_factory=list, repr=False)
    _waits: list[float] = field(default_factory=list, repr=False)
    _rings: list[int] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        self.aht_s, self.asa_s, self.avg_rings = _mean(self._talks), _mean(self._waits), _mean(self._rings)
        self.talk_s = round(self.talk_s, 1)
        self.pause_s = round(self.pause_s, 1)
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


@dataclass
class QueueDay:
    day: str
    queue: str
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    service_level: float | None = None
    abandoned: int = 0
    abandoned_mean_wait_s: float | None = None
    longest_wait_s: float | None = None
    _abandon_waits: list[float] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        self.service_level = round(self.answered_in_time / self.offered, 4) if self.offered else None
        self.abandoned_mean_wait_s = _mean(self._abandon_waits)
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


#: the columns of a report's rows, in order (tables, CSV and XLSX alike)
AGENT_FIELDS = tuple(f.name for f in fields(AgentDay) if not f.name.startswith("_"))
QUEUE_FIELDS = tuple(f.name for f in fields(QueueDay) if not f.name.startswith("_"))
HOUR_FIELDS = ("hour", "callers", "answered_in_time", "service_level")


def work_report(session: Session, first_day: date, days: int = 1, *, tz: str, pbx: str,
                rings_allowed: int | Callable[[str | None], int] = 3, wrapup_s: float = 30.0,
                now: datetime | None = None) -> dict[str, Any]:
    """``{"agents": [...], "queues": [...], "hours": [...]}`` for ``days`` local days from ``first_day``;
    a pause still open counts until ``now`` (or the period's end, if earlier)."""
    allowed = rings_allowed if callable(rings_allowed) else (lambda queue: rings_allowed)
    zone = ZoneInfo(tz)
    start, _ = day_bounds(first_day, tz)
    _, end = day_bounds(first_day + timedelta(days=days - 1), tz)
    agents: dict[tuple[str, str], AgentDay] = {}
    queues: dict[tuple[str, str], QueueDay] = {}
    hours: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # hour → [callers, answered in time]

    def local_day(at: datetime) -> str:
        return at.astimezone(zone).date().isoformat()

    def agent(day: str, name: str) -> AgentDay:
        return agents.setdefault((day, name), AgentDay(day, name))

    wrapped = {(linkedid, who): saved for linkedid, who, saved in session.execute(
        select(WrapUpRow.linkedid, WrapUpRow.agent, WrapUpRow.saved_at)
        .join(CallRow, and_(CallRow.pbx == WrapUpRow.pbx, CallRow.linkedid == WrapUpRow.linkedid))
        .where(WrapUpRow.pbx == pbx, CallRow.entered_at >= start, CallRow.entered_at < end))}
    calls = session.execute(select(
        CallRow.linkedid, CallRow.entered_at, CallRow.ended_at, CallRow.queue, CallRow.answered_by, CallRow.direction,
        CallRow.outcome, CallRow.wait_s, CallRow.rings_to_answer, CallRow.talk_s, CallRow.hangup_by)
        .where(CallRow.pbx == pbx, CallRow.entered_at >= start, CallRow.entered_at < end))
    for linkedid, entered, ended, queue, answered_by, direction, outcome, wait, rings, talk, hangup_by in calls:
        day = local_day(entered)
        if direction == "supervision":
            continue
        if direction == "outbound":
            if answered_by:
                agent(day, answered_by).outbound += 1
            continue
        in_time = outcome == "answered" and rings is not None and rings <= allowed(queue)
        if queue is not None:
            q = queues.setdefault((day, queue), QueueDay(day, queue))
            q.offered += 1
            q.answered += outcome == "answered"
            q.answered_in_time += in_time
            if outcome == "abandoned":
                q.abandoned += 1
                if wait is not None:
                    q._abandon_waits.append(wait)
            if wait is not None:
                q.longest_wait_s = max(q.longest_wait_s or 0.0, round(wait, 1))
            hour = entered.astimezone(zone).hour
            hours[hour][0] += 1
            hours[hour][1] += in_time
        if outcome != "answered" or not answered_by:
            continue
        a = agent(day, answered_by)
        a.calls_answered += 1
        if talk is not None:
            a.talk_s += talk
            a._talks.append(talk)
        if wait is not None:
            a._waits.append(wait)
        if rings is not None:
            a._rings.append(rings)
        a.hung_up_first += hangup_by == "agent"
        saved = wrapped.get((linkedid, answered_by))
        a.without_wrapup += saved is None or saved > ended + timedelta(seconds=wrapup_s)

    _pauses_and_misses(session, pbx, start, end if now is None else min(end, now), local_day, agent)
    for owner, done_at in session.execute(select(TaskRow.owner, TaskRow.done_at).where(
            TaskRow.kind == "follow_up", TaskRow.status == "done", TaskRow.done_at >= start, TaskRow.done_at < end)):
        agent(local_day(done_at), owner).follow_ups_done += 1
    return {
        "agents": [agents[k].row() for k in sorted(agents)],
        "queues": [queues[k].row() for k in sorted(queues)],
        "hours": [{"hour": h, "callers": hours[h][0], "answered_in_time": hours[h][1],
                   "service_level": round(hours[h][1] / hours[h][0], 4) if hours[h][0] else None}
                  for h in range(24)],
    }


def _pauses_and_misses(session: Session, pbx: str, start: datetime, end: datetime,
                       local_day: Callable[[datetime], str], agent: Callable[[str, str], AgentDay]) -> None:
    """Misses, and pauses as spans: an agent is paused while any of his queues is; a span still open
    at the end of the period ends there."""
    paused_in: dict[str, set[str | None]] = defaultdict(set)
    since: dict[str, datetime] = {}
    for name, queue, kind, at in session.execute(
            select(AgentEventRow.agent, AgentEventRow.queue, AgentEventRow.kind, AgentEventRow.at)
            .where(AgentEventRow.pbx == pbx, AgentEventRow.at >= start, AgentEventRow.at < end)
            .order_by(AgentEventRow.at, AgentEventRow.id)):
        if kind == "miss":
            agent(local_day(at), name).misses += 1
        elif kind == "pause":
            if not paused_in[name]:
                since[name] = at
                agent(local_day(at), name).pauses += 1
            paused_in[name].add(queue)
        elif kind == "unpause" and paused_in[name]:
            if queue is None:
                paused_in[name].clear()
            else:
                paused_in[name].discard(queue)
                paused_in[name].discard(None)
            if not paused_in[name]:
                began = since.pop(name)
                agent(local_day(began), name).pause_s += (at - began).total_seconds()
    for name, began in since.items():
        agent(local_day(began), name).pause_s += (end - began).total_seconds()


def _mean(values: list[float] | list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None
