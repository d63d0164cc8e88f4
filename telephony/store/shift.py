"""The shift around the calls: announcements and FAQ before it (岗前 信息同步), the handover after it (交接班).

* A supervisor posts announcements and FAQ entries; an agent sees the active announcements he has
  not acknowledged and acknowledges each.  The FAQ is searched by substring of title or text, which
  works for Chinese (no word splitting needed) on SQLite and PostgreSQL alike.
* At shift end an agent hands over to a named colleague: his day in figures (:func:`agent_day`)
  and his open items, which change owner at once; the colleague acknowledges the handover at his
  next sign-in.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from telephony.store.model import (ANNOUNCEMENT_KINDS, AgentEventRow, AnnouncementReadRow, AnnouncementRow, CallRow,
                                   HandoverRow, TaskRow, UserRow)

__all__ = ["ShiftProblem", "acknowledge_announcement", "acknowledge_handover", "agent_day", "announcements_for",
           "hand_over", "pending_handovers", "post_announcement", "search_faq"]

MAX_TITLE = 255
MAX_BODY = 10_000


class ShiftProblem(ValueError):
    """Input that cannot be taken; the message names the field."""


def post_announcement(session: Session, kind: str, title: str, body: str, *, by: str, now: datetime) -> int:
    if kind not in ANNOUNCEMENT_KINDS:
        raise ShiftProblem(f"kind: one of {', '.join(ANNOUNCEMENT_KINDS)}")
    title, body = (title or "").strip(), (body or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise ShiftProblem(f"title: 1–{MAX_TITLE} characters")
    if not body or len(body) > MAX_BODY:
        raise ShiftProblem(f"body: 1–{MAX_BODY} characters")
    row = AnnouncementRow(kind=kind, title=title, body=body, posted_by=by, posted_at=now, active=True)
    session.add(row)
    session.flush()
    return row.id


def announcements_for(session: Session, username: str, *, unread_only: bool = False) -> list[dict[str, Any]]:
    """The active announcements, newest first, each with ``read`` for this user."""
    read = (select(AnnouncementReadRow.announcement_id).where(AnnouncementReadRow.username == username)
            .scalar_subquery())
    query = (select(AnnouncementRow, AnnouncementRow.id.in_(read))
             .where(AnnouncementRow.kind == "announcement", AnnouncementRow.active.is_(True))
             .order_by(AnnouncementRow.posted_at.desc(), AnnouncementRow.id.desc()))
    rows = [{**_announcement(row), "read": bool(seen)} for row, seen in session.execute(query)]
    return [r for r in rows if not r["read"]] if unread_only else rows


def acknowledge_announcement(session: Session, announcement_id: int, username: str, *, now: datetime) -> bool:
    """→ False when there is no such active announcement; acknowledging twice is fine."""
    exists = session.scalar(select(AnnouncementRow.id).where(AnnouncementRow.id == announcement_id,
                                                             AnnouncementRow.active.is_(True)))
    if exists is None:
        return False
    if session.scalar(select(AnnouncementReadRow.id).where(AnnouncementReadRow.announcement_id == announcement_id,
                                                           AnnouncementReadRow.username == username)) is None:
        session.add(AnnouncementReadRow(announcement_id=announcement_id, username=username, read_at=now))
    return True


def search_faq(session: Session, text: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """FAQ entries whose title or text contains ``text`` (all of them for an empty search)."""
    query = select(AnnouncementRow).where(AnnouncementRow.kind == "faq", AnnouncementRow.active.is_(True))
    words = (text or "").split()
    for word in words[:5]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(AnnouncementRow.title.like(pattern, escape="\\"),
                                AnnouncementRow.body.like(pattern, escape="\\")))
    return [_announcement(row) for row in session.scalars(query.order_by(AnnouncementRow.title).limit(limit))]


def agent_day(session: Session, agent: str, day: date, tz: str) -> dict[str, Any]:
    """The agent's figures for a local day: calls answered, average handle (talk) time, average
    speed of answer, misses.  Averages leave out what is unknown (a call answered unseen) and are
    None when nothing is known."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    answered, talk, wait = session.execute(
        select(func.count(CallRow.id), func.avg(CallRow.talk_s), func.avg(CallRow.wait_s))
        .where(CallRow.answered_by == agent, CallRow.entered_at >= start, CallRow.entered_at < end)).one()
    misses = session.scalar(select(func.count(AgentEventRow.id)).where(
        AgentEventRow.agent == agent, AgentEventRow.kind == "miss", AgentEventRow.at >= start, AgentEventRow.at < end))
    return {"day": day.isoformat(), "calls_answered": answered, "avg_handle_s": _round(talk),
            "avg_speed_of_answer_s": _round(wait), "misses": misses}


def hand_over(session: Session, from_agent: str, to_username: str, note: str | None, *, day: date, tz: str,
              now: datetime) -> dict[str, Any]:
    """Hand ``from_agent``'s open items to the colleague named ``to_username`` (a user name or his
    extension) → the handover as stored."""
    # a user name first; an extension only when no agent has that name (names may be all digits)
    to_agent = session.scalar(select(UserRow.extension).where(UserRow.role == "agent", UserRow.username == to_username))
    if to_agent is None:
        to_agent = session.scalar(select(UserRow.extension).where(UserRow.role == "agent",
                                                                  UserRow.extension == to_username))
    if to_agent is None:
        raise ShiftProblem(f"to: no agent named {to_username!r}")
    if to_agent == from_agent:
        raise ShiftProblem("to: hand over to a colleague, not to yourself")
    if note is not None and len(note) > MAX_BODY:
        raise ShiftProblem(f"note: at most {MAX_BODY} characters")
    items = session.scalars(select(TaskRow).where(TaskRow.owner == from_agent, TaskRow.status == "open")
                            .order_by(TaskRow.id)).all()
    summary = {"day": agent_day(session, from_agent, day, tz),
               "items": [{"id": t.id, "kind": t.kind, "customer": t.customer_e164, "text": t.text,
                          "due_at": None if t.due_at is None else t.due_at.isoformat()} for t in items]}
    session.execute(update(TaskRow).where(TaskRow.id.in_([t.id for t in items])).values(owner=to_agent))
    row = HandoverRow(from_agent=from_agent, to_agent=to_agent, note=note, summary=summary, created_at=now)
    session.add(row)
    session.flush()
    return _handover(row)


def pending_handovers(session: Session, agent: str) -> list[dict[str, Any]]:
    """Handovers to ``agent`` he has not acknowledged yet, oldest first."""
    return [_handover(row) for row in session.scalars(
        select(HandoverRow).where(HandoverRow.to_agent == agent, HandoverRow.acknowledged_at.is_(None))
        .order_by(HandoverRow.id))]


def acknowledge_handover(session: Session, handover_id: int, agent: str, *, now: datetime) -> bool:
    """→ False unless it is an open handover to ``agent``."""
    return bool(session.execute(update(HandoverRow).where(
        HandoverRow.id == handover_id, HandoverRow.to_agent == agent, HandoverRow.acknowledged_at.is_(None))
        .values(acknowledged_at=now)).rowcount)


def _announcement(row: AnnouncementRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "posted_by": row.posted_by,
            "posted_at": row.posted_at.isoformat()}


def _handover(row: HandoverRow) -> dict[str, Any]:
    return {"id": row.id, "from": row.from_agent, "to": row.to_agent, "note": row.note, "summary": row.summary,
            "created_at": row.created_at.isoformat(),
            "acknowledged_at": None if row.acknowledged_at is None else row.acknowledged_at.isoformat()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)
