"""Calls and their offers: save a finished call, read calls back.

Saving is idempotent by ``(pbx, linkedid)``: a replay, a restart or a corrected summary rewrites
the one row and replaces its offers in the same transaction, so a call is never stored twice and
never shown with half its offers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload

from telephony.live.events import CallSummary
from telephony.numbers import e164, e164_or_none
from telephony.store.db import upsert
from telephony.store.model import CallRow, OfferRow, as_utc

__all__ = ["StoredCall", "StoredOffer", "calls_for_number", "get_call", "recent_calls", "save_call", "save_calls"]


@dataclass(frozen=True, slots=True)
class StoredOffer:
    """One ring attempt of a stored call (see ``OfferSummary``); times are aware UTC datetimes."""

    seq: int
    agent: str
    queue: str | None
    started_at: datetime
    ring_started_at: datetime | None
    ended_at: datetime
    rang_s: float
    rings: int
    result: str
    ended_unseen: bool


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A stored call (see ``CallSummary``) with its offers in order; times are aware UTC datetimes."""

    id: int
    pbx: str
    linkedid: str
    caller: str | None
    caller_name: str | None
    entered_at: datetime
    queue: str | None
    queues: tuple[str, ...]
    answered_by: str | None
    answered_at: datetime | None
    wait_s: float | None
    rings_to_answer: int | None
    apologise: bool | None
    talk_s: float | None
    outcome: str
    hangup_by: str | None
    hangup_cause: int | None
    ended_at: datetime
    direction: str
    transferred_to: tuple[str, ...]
    offers: tuple[StoredOffer, ...]
    ended_unseen: bool
    created_at: datetime
    updated_at: datetime


def save_call(session: Session, call: CallSummary, *, now: datetime) -> int:
    """Insert or rewrite the call ``(call.pbx, call.linkedid)`` and replace its offers; returns its id.

    ``created_at`` stays as first written; ``updated_at`` becomes ``now``.
    """
    return save_calls(session, [call], now=now)[0]


def save_calls(session: Session, calls: Sequence[CallSummary], *, now: datetime) -> list[int]:
    """:func:`save_call` for several calls in one transaction → their ids, in order.

    One statement for all the calls and one for all their offers (executemany): the call log writes
    a busy hour's calls in batches, and a statement built and sent per call cost more CPU than the
    database's own work.  Two summaries of the same call must not share a batch (the writer keeps a
    call's writes in order, one at a time).
    """
    if not calls:
        return []
    values = [_call_values(call) for call in calls]
    stmt = upsert(session, CallRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["pbx", "linkedid"],
        set_={**{name: stmt.excluded[name] for name in values[0]}, "updated_at": stmt.excluded.updated_at},
    ).returning(CallRow.id, sort_by_parameter_order=True)
    ids = list(session.execute(stmt, [{**v, "created_at": now, "updated_at": now} for v in values]).scalars())
    session.execute(delete(OfferRow).where(OfferRow.call_id.in_(ids)))
    offers = [{"call_id": call_id, "seq": seq, "agent": offer.agent, "queue": offer.queue,
               "started_at": as_utc(offer.started_at),
               "ring_started_at": None if offer.ring_started_at is None else as_utc(offer.ring_started_at),
               "ended_at": as_utc(offer.ended_at), "rang_s": offer.rang_s, "rings": offer.rings,
               "result": offer.result, "ended_unseen": offer.ended_unseen}
              for call_id, call in zip(ids, calls) for seq, offer in enumerate(call.offers, start=1)]
    if offers:
        session.execute(insert(OfferRow), offers)
    return ids


def _call_values(call: CallSummary) -> dict:
    return {
        "pbx": call.pbx,
        "linkedid": call.linkedid,
        "caller": call.caller,
        "caller_name": call.caller_name,
        "caller_e164": e164_or_none(call.caller),
        "entered_at": as_utc(call.entered_at),
        "queue": call.queue,
        "queues": list(call.queues),
        "answered_by": call.answered_by,
        "answered_at": None if call.answered_at is None else as_utc(call.answered_at),
        "wait_s": call.wait_s,
        "rings_to_answer": call.rings_to_answer,
        "apologise": call.apologise,
        "talk_s": call.talk_s,
        "outcome": call.outcome,
        "hangup_by": call.hangup_by,
        "hangup_cause": call.hangup_cause,
        "ended_at": as_utc(call.ended_at),
        "direction": call.direction,
        "transferred_to": list(call.transferred_to),
        "ended_unseen": call.ended_unseen,
    }


def get_call(session: Session, pbx: str, linkedid: str) -> StoredCall | None:
    row = session.scalars(_calls().where(CallRow.pbx == pbx, CallRow.linkedid == linkedid)).one_or_none()
    return None if row is None else _stored(row)


def recent_calls(session: Session, pbx: str, limit: int = 20) -> list[StoredCall]:
    """The PBX's latest calls, newest first (by the time they began)."""
    return _newest(session, _calls().where(CallRow.pbx == pbx), limit)


def calls_for_number(session: Session, number: str, limit: int = 10) -> list[StoredCall]:
    """Calls from ``number`` on any PBX, newest first, however either was written
    (``+86 138-0013-8000`` finds calls from ``013800138000``).  Raises ``NotAPhoneNumber``
    (a ValueError) for what is not a phone number.
    """
    return _newest(session, _calls().where(CallRow.caller_e164 == e164(number)), limit)


def _calls():
    return select(CallRow).options(selectinload(CallRow.offers))


def _newest(session: Session, query, limit: int) -> list[StoredCall]:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = query.order_by(CallRow.entered_at.desc(), CallRow.id.desc()).limit(limit)
    return [_stored(row) for row in session.scalars(query)]


def _stored(row: CallRow) -> StoredCall:
    return StoredCall(
        id=row.id, pbx=row.pbx, linkedid=row.linkedid, caller=row.caller, caller_name=row.caller_name,
        entered_at=row.entered_at, queue=row.queue, queues=tuple(row.queues), answered_by=row.answered_by,
        answered_at=row.answered_at, wait_s=row.wait_s, rings_to_answer=row.rings_to_answer,
        apologise=row.apologise, talk_s=row.talk_s, outcome=row.outcome, hangup_by=row.hangup_by,
        hangup_cause=row.hangup_cause, ended_at=row.ended_at, direction=row.direction,
        transferred_to=tuple(row.transferred_to),
        offers=tuple(StoredOffer(seq=o.seq, agent=o.agent, queue=o.queue, started_at=o.started_at,
                                 ring_started_at=o.ring_started_at, ended_at=o.ended_at, rang_s=o.rang_s,
                                 rings=o.rings, result=o.result, ended_unseen=o.ended_unseen) for o in row.offers),
        ended_unseen=row.ended_unseen, created_at=row.created_at, updated_at=row.updated_at,
    )
