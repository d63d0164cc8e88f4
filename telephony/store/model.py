"""The tables: calls, their offers (each ring attempt), customers, agent events and alerts.

This module is the schema the migrations must produce (a test compares the migrated database with
these models).  Change it only together with a new migration in ``migrations/versions/``.

Every row that comes from a PBX carries ``pbx``: Asterisk's ids are unique only within one server,
so calls are keyed by ``(pbx, linkedid)``.  Times are timezone-aware UTC datetimes (:class:`UTCDateTime`)
on SQLite and PostgreSQL alike; the domain events carry epoch seconds, converted by :func:`as_utc`.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, MetaData,
                        String, Text, UniqueConstraint, false)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["CUSTOMER_CATEGORIES", "AgentEventRow", "AlertRow", "Base", "CallRow", "CustomerRow", "OfferRow",
           "PauseRequestRow", "UTCDateTime", "as_utc", "fact_key", "metadata"]

#: Constraint names are spelled out so migrations (and SQLite's batch mode, which must name what it
#: drops) refer to the same names on every database.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def as_utc(value: float | datetime) -> datetime:
    """Epoch seconds (as the domain events carry them) or an aware datetime → an aware UTC datetime.

    Raises ValueError for a naive datetime: its zone is unknown, and guessing would shift stored
    facts by hours.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware time")
        return value.astimezone(timezone.utc)
    return datetime.fromtimestamp(value, tz=timezone.utc)


def fact_key(*identity: str | datetime | None) -> str:
    """What makes a stored fact the same fact, hashed to a fixed length (any queue name fits).

    Facts keyed this way are stored once however often they are recorded; a unique constraint on
    the columns themselves cannot do that when one of them is NULL (SQL treats NULLs as distinct).
    """
    parts = [as_utc(p).isoformat() if isinstance(p, datetime) else p for p in identity]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime that reads back the same on SQLite and PostgreSQL.

    PostgreSQL keeps ``timestamptz``; SQLite has no zones, so UTC is stored as naive text in one
    fixed format, which also keeps range comparisons in SQL correct.  Writing a naive datetime
    raises ValueError.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class CallRow(Base):
    """One call, as summarised when it ended (``CallSummary``); one row per ``(pbx, linkedid)``.

    Unknown is NULL: a call answered unseen has no ``answered_at``, ``wait_s``, ``rings_to_answer``
    or ``apologise``; ``ended_unseen`` marks a call whose end fell in a gap of the AMI link (its
    times are lower bounds).
    """

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid"),
        Index(None, "entered_at"),
        Index(None, "pbx", "entered_at"),
        Index(None, "caller"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(255))
    entered_at: Mapped[datetime]
    queue: Mapped[str | None] = mapped_column(String(128))
    queues: Mapped[list[str]] = mapped_column(JSON)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None]
    wait_s: Mapped[float | None] = mapped_column(Float)
    rings_to_answer: Mapped[int | None] = mapped_column(Integer)
    apologise: Mapped[bool | None] = mapped_column(Boolean)
    talk_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(16))
    transferred_to: Mapped[list[str]] = mapped_column(JSON)
    ended_unseen: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    offers: Mapped[list["OfferRow"]] = relationship(order_by="OfferRow.seq", passive_deletes=True)


class OfferRow(Base):
    """One attempt to ring one agent's phone for a call, in the order they were made (``seq``)."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("call_id", "seq"),
        Index(None, "agent", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))  #: NULL for a direct dial
    started_at: Mapped[datetime]
    ring_started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    rang_s: Mapped[float] = mapped_column(Float)
    rings: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(16))
    ended_unseen: Mapped[bool] = mapped_column(Boolean, server_default=false())  #: rang_s/rings are lower bounds


#: The customer categories the call centre uses; NULL when nobody has classified the number yet.
CUSTOMER_CATEGORIES = ("潜在客户", "返利客户", "多次返利客户", "未沟通客户", "骚扰客户")


class CustomerRow(Base):
    """A caller we know, by phone number (digits only, see ``customers.normalise_number``)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("number"),
        CheckConstraint("category IN ({})".format(", ".join(f"'{c}'" for c in CUSTOMER_CATEGORIES)),
                        name="category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(16))
    company: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentEventRow(Base):
    """A fact about an agent: a miss (the phone rang out), a pause or an unpause.

    ``fact_key`` (see :func:`fact_key`) identifies the fact (agent, queue, kind, time) so that
    recording it twice stores one row, also when ``queue`` is NULL ("all queues").
    """

    __tablename__ = "agent_events"
    __table_args__ = (
        UniqueConstraint("pbx", "fact_key"),
        Index(None, "pbx", "agent", "at"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    fact_key: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))  #: NULL = all queues
    kind: Mapped[str] = mapped_column(String(16))  #: miss | pause | unpause
    at: Mapped[datetime]
    linkedid: Mapped[str | None] = mapped_column(String(64))  #: the call, for a miss
    reason: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  #: guard | agent | supervisor | asterisk
    #: found in the snapshot after a gap of the AMI link: it happened unseen, before ``at``
    unseen: Mapped[bool] = mapped_column(Boolean, server_default=false())


class PauseRequestRow(Base):
    """Somebody asked to pause or unpause an agent (``telephony agent unpause``, later the screens).

    Asterisk's ``QueueMemberPause`` does not say who asked; the call log credits a pause or unpause
    to the request made just before it, and to ``asterisk`` when there is none.
    """

    __tablename__ = "pause_requests"
    __table_args__ = (Index(None, "pbx", "agent", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str] = mapped_column(String(16))  #: agent | supervisor
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(255))


class AlertRow(Base):
    """Something the supervisor should look at; open until ``acknowledged_at`` is set.

    Stored once per ``fact_key`` (kind, time, agent, queue, call), so a retried write that had in
    fact succeeded raises no second alert.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("pbx", "fact_key"),
        Index(None, "pbx", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    fact_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))  #: miss | pause | long_wait | …
    agent: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    caller_masked: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None]
