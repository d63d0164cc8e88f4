"""Facts about agents: misses (the phone rang out), pauses and unpauses, whoever made them.

The ring guard records these as they happen and reads them back (consecutive misses survive a
restart); the ring report counts the misses.  Recording the same fact twice stores one row: a
fact is ``(pbx, agent, queue, kind, at)``, and the first recording's reason and source stay.

Who made a pause or unpause: Asterisk's ``QueueMemberPause`` does not say.  A tool that asks for one
on somebody's behalf records the request first (:func:`request_pause_change`); a pause or unpause
recorded with no known source is credited to the request for it made within
``REQUEST_WINDOW_S`` before, and otherwise to ``asterisk``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from telephony.store.db import upsert
from telephony.store.model import AgentEventRow, PauseRequestRow, as_utc, fact_key

__all__ = ["EVENT_KINDS", "EVENT_SOURCES", "REQUESTERS", "AgentEvent", "agent_events", "forget_pause_request",
           "record_agent_event", "request_pause_change"]

EVENT_KINDS = ("miss", "pause", "unpause")
EVENT_SOURCES = ("guard", "agent", "supervisor", "asterisk")
REQUESTERS = ("agent", "supervisor")
#: a request credits the pause or unpause Asterisk reports this soon after it (clocks of two hosts)
REQUEST_WINDOW_S = 60.0


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
    source: str  #: guard | agent | supervisor | asterisk (app_queue's own autopause, or nobody known)
    unseen: bool  #: found after a gap of the AMI link: it happened before ``at``


def record_agent_event(session: Session, *, pbx: str, agent: str, kind: str, at: float | datetime,
                       source: str | None, queue: str | None = None, linkedid: str | None = None,
                       reason: str | None = None, unseen: bool = False) -> bool:
    """Store the fact unless it is stored already; True when it was new.

    ``at`` is epoch seconds (as on domain events) or an aware datetime.  ``source`` None: a pause
    or unpause whose maker is not known (see the module doc).  Raises ValueError for an unknown
    kind or source.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    when = as_utc(at)
    if source is None:
        source = _requested_by(session, pbx, agent, kind, when) if kind != "miss" else None
        source = source or "asterisk"
    if source not in EVENT_SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(EVENT_SOURCES)}")
    stmt = upsert(session, AgentEventRow).values(
        pbx=pbx, fact_key=fact_key(agent, queue, kind, when), agent=agent, queue=queue, kind=kind, at=when,
        linkedid=linkedid, reason=reason, source=source, unseen=unseen,
    ).on_conflict_do_nothing(index_elements=["pbx", "fact_key"]).returning(AgentEventRow.id)
    return session.execute(stmt).scalar_one_or_none() is not None


def request_pause_change(session: Session, *, pbx: str, agent: str, paused: bool, by: str, at: float | datetime,
                         reason: str | None = None) -> int:
    """Record that ``by`` (agent | supervisor) asked to pause or unpause ``agent``; returns its id.

    Record it before asking Asterisk: its answer and events may reach the daemon first."""
    if by not in REQUESTERS:
        raise ValueError(f"by {by!r} is not one of {', '.join(REQUESTERS)}")
    when = as_utc(at)
    # a request credits only what follows it within the window: older ones can go (the table stays small)
    session.execute(delete(PauseRequestRow).where(PauseRequestRow.pbx == pbx,
                                                  PauseRequestRow.at < when - timedelta(days=1)))
    stmt = insert(PauseRequestRow).values(pbx=pbx, agent=agent, paused=paused, by=by, at=when, reason=reason)
    return session.execute(stmt.returning(PauseRequestRow.id)).scalar_one()


def forget_pause_request(session: Session, request_id: int) -> None:
    """Asterisk refused the change: the request credits nothing."""
    session.execute(delete(PauseRequestRow).where(PauseRequestRow.id == request_id))


def _requested_by(session: Session, pbx: str, agent: str, kind: str, when: datetime) -> str | None:
    query = (select(PauseRequestRow.by)
             .where(PauseRequestRow.pbx == pbx, PauseRequestRow.agent == agent,
                    PauseRequestRow.paused == (kind == "pause"),
                    PauseRequestRow.at <= when, PauseRequestRow.at >= when - timedelta(seconds=REQUEST_WINDOW_S))
             .order_by(PauseRequestRow.at.desc()).limit(1))
    return session.scalars(query).first()


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
                       linkedid=r.linkedid, reason=r.reason, source=r.source, unseen=r.unseen)
            for r in session.scalars(query.order_by(AgentEventRow.at, AgentEventRow.id))]
