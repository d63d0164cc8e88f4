"""Facts about agents: misses (the phone rang out), pauses and unpauses, whoever made them.

The ring guard records these as they happen and reads them back (consecutive misses survive a
restart); the ring report counts the misses.  Recording the same fact twice stores one row: a
fact is ``(pbx, agent, queue, kind, at)``, and the first recording's reason and source stay.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from telephony.store.db import upsert
from telephony.store.model import AgentEventRow, as_utc, fact_key

__all__ = ["EVENT_KINDS", "EVENT_SOURCES", "AgentEvent", "agent_events", "record_agent_event"]

EVENT_KINDS = ("miss", "pause", "unpause")
EVENT_SOURCES = ("guard", "agent", "supervisor", "asterisk")


@dataclass(frozen=True, slots=True)
class AgentEvent:
    id: int
    pbx: str
    agent: str  #: extension, e.g. "1001"
    queue: str | None  #: None: all queues (a pause everywhere), or a direct dial's miss
    kind: str  #: miss | pause | unpause
    at: datetime
    linkedid: str | None  #: the call an agent missed
    reason: str | None
    source: str  #: guard | agent | supervisor | asterisk (app_queue's own autopause)


def record_agent_event(session: Session, *, pbx: str, agent: str, kind: str, at: float | datetime,
                       source: str, queue: str | None = None, linkedid: str | None = None,
                       reason: str | None = None) -> bool:
    """Store the fact unless it is stored already; True when it was new.

    ``at`` is epoch seconds (as on domain events) or an aware datetime.  Raises ValueError for an
    unknown kind or source.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    if source not in EVENT_SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(EVENT_SOURCES)}")
    when = as_utc(at)
    stmt = upsert(session, AgentEventRow).values(
        pbx=pbx, fact_key=fact_key(agent, queue, kind, when), agent=agent, queue=queue, kind=kind, at=when,
        linkedid=linkedid, reason=reason, source=source,
    ).on_conflict_do_nothing(index_elements=["pbx", "fact_key"]).returning(AgentEventRow.id)
    return session.execute(stmt).scalar_one_or_none() is not None


def agent_events(session: Session, pbx: str, *, agent: str | None = None, since: float | datetime | None = None,
                 until: float | datetime | None = None) -> list[AgentEvent]:
    """The PBX's agent facts in time order, optionally one agent's, in ``[since, until)``."""
    query = select(AgentEventRow).where(AgentEventRow.pbx == pbx)
    if agent is not None:
        query = query.where(AgentEventRow.agent == agent)
    if since is not None:
        query = query.where(AgentEventRow.at >= as_utc(since))
    if until is not None:
        query = query.where(AgentEventRow.at < as_utc(until))
    return [AgentEvent(id=r.id, pbx=r.pbx, agent=r.agent, queue=r.queue, kind=r.kind, at=r.at,
                       linkedid=r.linkedid, reason=r.reason, source=r.source)
            for r in session.scalars(query.order_by(AgentEventRow.at, AgentEventRow.id))]
