"""Alerts for the supervisor (a miss, a pause, a caller waiting long…), open until acknowledged.

An alert is ``(pbx, kind, at, agent, queue, linkedid)``: recording it again (a retry after a
write that had in fact succeeded, a replay) returns the stored alert's id and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from telephony.store.db import upsert
from telephony.store.model import AlertRow, as_utc, fact_key

__all__ = ["Alert", "acknowledge_alert", "acknowledge_alert_fact", "open_alerts", "record_alert"]


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    pbx: str
    at: datetime
    kind: str  #: miss | pause | long_wait | …
    agent: str | None
    queue: str | None
    linkedid: str | None
    caller_masked: str | None
    detail: dict[str, Any]
    acknowledged_at: datetime | None


def record_alert(session: Session, *, pbx: str, at: float | datetime, kind: str, agent: str | None = None,
                 queue: str | None = None, linkedid: str | None = None, caller_masked: str | None = None,
                 detail: dict[str, Any] | None = None) -> int:
    """Store the alert unless stored already; returns its id.

    ``caller_masked`` is shown on boards people may see without signing in: pass the number
    already masked (``138****8000``).  ``detail`` must be JSON-serialisable.
    """
    when = as_utc(at)
    stmt = upsert(session, AlertRow).values(
        pbx=pbx, fact_key=fact_key(kind, when, agent, queue, linkedid), at=when, kind=kind, agent=agent,
        queue=queue, linkedid=linkedid, caller_masked=caller_masked, detail=detail or {},
    )
    # A no-op update rather than DO NOTHING, so that RETURNING gives the stored row's id too.
    stmt = stmt.on_conflict_do_update(index_elements=["pbx", "fact_key"], set_={"fact_key": stmt.excluded.fact_key})
    return session.execute(stmt.returning(AlertRow.id)).scalar_one()


def acknowledge_alert(session: Session, alert_id: int, *, at: float | datetime) -> bool:
    """Mark the alert seen at ``at``; False when there is no such open alert (unknown or seen before)."""
    stmt = (update(AlertRow).where(AlertRow.id == alert_id, AlertRow.acknowledged_at.is_(None))
            .values(acknowledged_at=as_utc(at)))
    return session.execute(stmt).rowcount == 1


def acknowledge_alert_fact(session: Session, pbx: str, kind: str, at: float | datetime, agent: str | None,
                           queue: str | None, linkedid: str | None, *, now: float | datetime) -> bool:
    """Acknowledge the alert known by its facts (what a board shows of it) → False when it is not open."""
    key = fact_key(kind, as_utc(at), agent, queue, linkedid)
    stmt = (update(AlertRow).where(AlertRow.pbx == pbx, AlertRow.fact_key == key, AlertRow.acknowledged_at.is_(None))
            .values(acknowledged_at=as_utc(now)))
    return session.execute(stmt).rowcount == 1


def open_alerts(session: Session, pbx: str, limit: int = 100) -> list[Alert]:
    """The PBX's unacknowledged alerts, newest first."""
    query = (select(AlertRow).where(AlertRow.pbx == pbx, AlertRow.acknowledged_at.is_(None))
             .order_by(AlertRow.at.desc(), AlertRow.id.desc()).limit(limit))
    return [Alert(id=r.id, pbx=r.pbx, at=r.at, kind=r.kind, agent=r.agent, queue=r.queue, linkedid=r.linkedid,
                  caller_masked=r.caller_masked, detail=r.detail, acknowledged_at=r.acknowledged_at)
            for r in session.scalars(query)]
