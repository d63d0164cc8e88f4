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
                        String, Text, UniqueConstraint, false, true)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["CUSTOMER_CATEGORIES", "PROBLEM_TYPES", "RESOLUTIONS", "ROLES", "AgentEventRow", "AlertRow", "ApiTokenRow",
           "AnnouncementReadRow", "AnnouncementRow", "Base", "CallRow", "CustomerRow", "HandoverRow", "OfferRow",
           "PauseRequestRow", "RECORDING_STATES", "RecordingRow", "SessionRow", "TaskRow", "UTCDateTime", "UserRow",
           "WrapUpRow", "as_utc", "fact_key", "metadata"]

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


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint("{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values)), name=name)


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
        Index(None, "caller_e164", "entered_at"),
        Index(None, "answered_by", "entered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(255))
    #: the caller in E.164 (``telephony.numbers``), NULL when not a phone number: the customer's key
    caller_e164: Mapped[str | None] = mapped_column(String(32))
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
        Index(None, "started_at"),  #: the day's reports read a day of offers, not the whole table
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
    """A caller we know, by phone number in E.164 (see ``telephony.numbers``)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("number"),
        _one_of("category", CUSTOMER_CATEGORIES, "category"),
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


#: 咨询 (a question), 投诉 (a complaint), 建议 (a suggestion), 求助 (a request for help).
PROBLEM_TYPES = ("咨询", "投诉", "建议", "求助")
#: How the agent left the case: settled, a follow-up owed by a due time, or passed on.
RESOLUTIONS = ("resolved", "follow_up", "transferred")


class WrapUpRow(Base):
    """What the agent wrote down after a call (话后处理).  One per agent and call: saving again rewrites it.

    Kept apart from ``calls`` (not a column of it) because the agent saves it while the call is
    still going or before the call log has written the call; reads join the two by (pbx, linkedid).
    """

    __tablename__ = "wrapups"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", "agent"),
        Index(None, "customer_e164", "saved_at"),
        _one_of("problem_type", PROBLEM_TYPES, "problem_type"),
        _one_of("resolution", RESOLUTIONS, "resolution"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(64))
    customer_e164: Mapped[str | None] = mapped_column(String(32))
    problem_type: Mapped[str] = mapped_column(String(8))
    order_no: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(16))
    follow_up_due: Mapped[datetime | None]
    saved_at: Mapped[datetime]


#: Who a person or a program is to the web screens: an agent (with an extension), a supervisor, ops staff.
ROLES = ("agent", "supervisor", "ops")


class UserRow(Base):
    """A person who signs in.  ``password_hash`` is an argon2id hash (never the password)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username"), _one_of("role", ROLES, "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str | None] = mapped_column(String(64))  #: the agent's phone; NULL for the others
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SessionRow(Base):
    """A signed-in browser.  The cookie holds a random token; only its SHA-256 is stored, so a copy of
    the database signs nobody in.  Changing or removing the user's password ends his sessions."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("token_hash"), Index(None, "expires_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiTokenRow(Base):
    """A program's bearer token (a CRM reading the pop feed); stored as its SHA-256 like sessions."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("name"), UniqueConstraint("token_hash"), _one_of("role", ROLES, "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class TaskRow(Base):
    """Something an agent owes: a follow-up promised in a wrap-up, a transferred case to report back on.

    Callbacks (dialled by the daemon) come later and will be made from open follow-ups.
    """

    __tablename__ = "tasks"
    __table_args__ = (Index(None, "owner", "status"), Index(None, "customer_e164", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str | None] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))  #: the call it came from
    owner: Mapped[str] = mapped_column(String(64))  #: the agent's extension
    customer_e164: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  #: follow_up | transfer
    text: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(8))  #: open | done
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class HandoverRow(Base):
    """A shift handover (交接班): the leaving agent's day and open items, handed to a colleague who
    must acknowledge them at his next sign-in."""

    __tablename__ = "handovers"
    __table_args__ = (Index(None, "to_agent", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_agent: Mapped[str] = mapped_column(String(64))
    to_agent: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    #: the day's figures and the items handed over, as they were at the handover
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]


#: What a supervisor posts on the board before a shift (岗前 信息同步).
ANNOUNCEMENT_KINDS = ("announcement", "faq")


class AnnouncementRow(Base):
    """An announcement (a new product, a promotion, a process change) or an FAQ entry."""

    __tablename__ = "announcements"
    __table_args__ = (Index(None, "kind", "active"), _one_of("kind", ANNOUNCEMENT_KINDS, "kind"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    posted_by: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class AnnouncementReadRow(Base):
    """Who acknowledged which announcement, and when."""

    __tablename__ = "announcement_reads"
    __table_args__ = (UniqueConstraint("announcement_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(64))
    read_at: Mapped[datetime]


#: recording (MixMonitor or the SIP recorder writes), done (the call ended), failed (the PBX refused),
#: deleted (pruned: the file is gone, the row says when and why)
RECORDING_STATES = ("recording", "done", "failed", "deleted")


class RecordingRow(Base):
    """One recording of a call: where the file is (on the PBX's host, or the SIP recorder's), when it
    ran, the spans it was paused (a customer reading card numbers; the file keeps them as silence)."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index(None, "pbx", "linkedid"),
        Index(None, "started_at"),
        _one_of("state", RECORDING_STATES, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(16))  #: mixmonitor | sip
    path: Mapped[str] = mapped_column(String(1024))
    channel: Mapped[str | None] = mapped_column(String(128))  #: the channel MixMonitor runs on
    agent: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    #: [[start, end or null], …] in epoch seconds
    paused: Mapped[list[list[float | None]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(255))  #: why it failed or was deleted
