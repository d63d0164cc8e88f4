"""What agents write down and owe: wrap-ups, follow-up tasks, and the facts a screen pop shows.

:func:`pop_facts` is the lookup made while a phone rings, so it is three indexed reads: the
customer by E.164 number, the number's last calls (``calls.caller_e164, entered_at``) with their
wrap-ups (unique on ``pbx, linkedid, agent``), and the customer's open tasks.  Its result is
JSON-ready (times in ISO-8601), because it goes to the agent's feed as it is.

Who may see what (an agent: his calls, and the customers he serves or has served) is answered
here too, from the same facts, so the pages cannot each invent their own rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session

from telephony.numbers import e164_or_none
from telephony.store.customers import get_customer, upsert_customer
from telephony.store.db import upsert
from telephony.store.model import (CUSTOMER_CATEGORIES, PROBLEM_TYPES, RESOLUTIONS, CallRow, OfferRow, TaskRow,
                                   WrapUpRow)

__all__ = ["WrapUp", "WrapUpProblem", "add_task", "agent_may_see_call", "agent_serves_customer", "close_task",
           "open_tasks", "pop_facts", "save_wrapup", "wrapup_for"]

HISTORY = 10  #: earlier calls in a pop (CONTRACTS: up to 10, newest first)
MAX_NOTES = 4000
MAX_ORDER_NO = 64


class WrapUpProblem(ValueError):
    """A wrap-up that cannot be saved as given; the message names the field."""


@dataclass(frozen=True, slots=True)
class WrapUp:
    problem_type: str
    resolution: str
    order_no: str | None = None
    notes: str | None = None
    follow_up_due: datetime | None = None
    category: str | None = None  #: the customer's category, when the agent set one

    def check(self) -> None:
        if self.problem_type not in PROBLEM_TYPES:
            raise WrapUpProblem(f"problem_type: one of {' / '.join(PROBLEM_TYPES)}")
        if self.resolution not in RESOLUTIONS:
            raise WrapUpProblem(f"resolution: one of {', '.join(RESOLUTIONS)}")
        if self.resolution == "follow_up" and self.follow_up_due is None:
            raise WrapUpProblem("follow_up_due: a follow-up needs a due time")
        if self.order_no is not None and len(self.order_no) > MAX_ORDER_NO:
            raise WrapUpProblem(f"order_no: at most {MAX_ORDER_NO} characters")
        if self.notes is not None and len(self.notes) > MAX_NOTES:
            raise WrapUpProblem(f"notes: at most {MAX_NOTES} characters")
        if self.category is not None and self.category not in CUSTOMER_CATEGORIES:
            raise WrapUpProblem(f"category: one of {', '.join(CUSTOMER_CATEGORIES)}")


def save_wrapup(session: Session, pbx: str, linkedid: str, agent: str, caller: str | None, wrapup: WrapUp, *,
                now: datetime) -> dict[str, Any]:
    """Store (or rewrite) ``agent``'s wrap-up of the call; a follow-up becomes an open task for him
    (one per call: saving again moves its due time).  → the wrap-up as :func:`wrapup_for` gives it."""
    wrapup.check()
    customer = e164_or_none(caller)
    values = dict(customer_e164=customer, problem_type=wrapup.problem_type, order_no=wrapup.order_no or None,
                  notes=wrapup.notes or None, resolution=wrapup.resolution, follow_up_due=wrapup.follow_up_due,
                  saved_at=now)
    stmt = upsert(session, WrapUpRow).values(pbx=pbx, linkedid=linkedid, agent=agent, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["pbx", "linkedid", "agent"],
                                               set_={name: stmt.excluded[name] for name in values}))
    if wrapup.category is not None and customer is not None:
        upsert_customer(session, customer, now=now, category=wrapup.category)
    task = session.scalars(select(TaskRow).where(TaskRow.pbx == pbx, TaskRow.linkedid == linkedid,
                                                 TaskRow.owner == agent, TaskRow.kind == "follow_up")).one_or_none()
    if wrapup.resolution == "follow_up":
        if task is None:
            session.add(TaskRow(pbx=pbx, linkedid=linkedid, owner=agent, customer_e164=customer, kind="follow_up",
                                text=wrapup.notes, due_at=wrapup.follow_up_due, status="open", created_at=now))
        else:
            task.due_at, task.text, task.status, task.done_at = wrapup.follow_up_due, wrapup.notes, "open", None
    elif task is not None and task.status == "open":
        task.status, task.done_at = "done", now  # the agent settled it after all
    found = wrapup_for(session, pbx, linkedid, agent)
    assert found is not None
    return found


def wrapup_for(session: Session, pbx: str, linkedid: str, agent: str) -> dict[str, Any] | None:
    row = session.scalars(select(WrapUpRow).where(WrapUpRow.pbx == pbx, WrapUpRow.linkedid == linkedid,
                                                  WrapUpRow.agent == agent)).one_or_none()
    if row is None:
        return None
    return {"problem_type": row.problem_type, "order_no": row.order_no, "notes": row.notes,
            "resolution": row.resolution, "follow_up_due": _iso(row.follow_up_due), "saved_at": _iso(row.saved_at)}


def pop_facts(session: Session, number: str | None, *, limit: int = HISTORY) -> dict[str, Any]:
    """``customer``, ``history`` and ``callbacks`` of a caller, as the pop event carries them."""
    normal = e164_or_none(number)
    if normal is None:
        return {"customer": None, "history": [], "callbacks": []}
    customer = get_customer(session, normal)
    rows = session.execute(
        select(CallRow.entered_at, CallRow.outcome, CallRow.answered_by, WrapUpRow.problem_type,
               WrapUpRow.order_no, WrapUpRow.notes, WrapUpRow.resolution)
        .outerjoin(WrapUpRow, and_(WrapUpRow.pbx == CallRow.pbx, WrapUpRow.linkedid == CallRow.linkedid,
                                   WrapUpRow.agent == CallRow.answered_by))
        .where(CallRow.caller_e164 == normal)
        .order_by(CallRow.entered_at.desc(), CallRow.id.desc()).limit(limit))
    history = [{"entered_at": _iso(entered_at), "outcome": outcome, "answered_by": answered_by,
                "problem_type": problem_type, "order_no": order_no, "summary": notes, "resolution": resolution}
               for entered_at, outcome, answered_by, problem_type, order_no, notes, resolution in rows]
    return {
        "customer": None if customer is None else {
            "number": customer.number, "name": customer.name, "category": customer.category,
            "company": customer.company, "notes": customer.notes},
        "history": history,
        "callbacks": [_task(t) for t in session.scalars(
            select(TaskRow).where(TaskRow.customer_e164 == normal, TaskRow.status == "open")
            .order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id).limit(limit))],
    }


def add_task(session: Session, owner: str, kind: str, text: str | None, *, customer: str | None, now: datetime,
             pbx: str | None = None, linkedid: str | None = None, due_at: datetime | None = None) -> int:
    """A new open task for ``owner`` (e.g. "follow the transferred case and report back") → its id."""
    row = TaskRow(pbx=pbx, linkedid=linkedid, owner=owner, customer_e164=e164_or_none(customer), kind=kind, text=text,
                  due_at=due_at, status="open", created_at=now)
    session.add(row)
    session.flush()
    return row.id


def open_tasks(session: Session, owner: str) -> list[dict[str, Any]]:
    return [_task(t) for t in session.scalars(
        select(TaskRow).where(TaskRow.owner == owner, TaskRow.status == "open")
        .order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id))]


def close_task(session: Session, task_id: int, *, by: str | None, now: datetime) -> bool:
    """Mark the task done → False when there is no open task with that id owned by ``by``
    (``by`` None: anyone's, for a supervisor)."""
    query = update(TaskRow).where(TaskRow.id == task_id, TaskRow.status == "open")
    if by is not None:
        query = query.where(TaskRow.owner == by)
    return bool(session.execute(query.values(status="done", done_at=now)).rowcount)


def agent_serves_customer(session: Session, agent: str, number: str) -> bool:
    """Whether ``agent`` took or was offered a call of this number, or owes its customer a task."""
    normal = e164_or_none(number)
    if normal is None:
        return False
    took = exists().where(CallRow.caller_e164 == normal, CallRow.answered_by == agent)
    offered = exists().where(OfferRow.call_id == CallRow.id, OfferRow.agent == agent, CallRow.caller_e164 == normal)
    owes = exists().where(TaskRow.customer_e164 == normal, TaskRow.owner == agent)
    return bool(session.scalar(select(took | offered | owes)))


def agent_may_see_call(session: Session, agent: str, pbx: str, linkedid: str) -> bool:
    """An agent sees a stored call he took or was offered, and the calls of customers he serves."""
    call = session.execute(select(CallRow.id, CallRow.answered_by, CallRow.caller)
                           .where(CallRow.pbx == pbx, CallRow.linkedid == linkedid)).one_or_none()
    if call is None:
        return False
    call_id, answered_by, caller = call
    if answered_by == agent or session.scalar(select(exists().where(OfferRow.call_id == call_id,
                                                                     OfferRow.agent == agent))):
        return True
    return caller is not None and agent_serves_customer(session, agent, caller)


def _task(row: TaskRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "owner": row.owner, "customer": row.customer_e164, "text": row.text,
            "due_at": _iso(row.due_at), "pbx": row.pbx, "linkedid": row.linkedid}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
