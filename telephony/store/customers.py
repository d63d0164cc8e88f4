"""Customers, by phone number: look one up when a call rings, create or change one.

Numbers are stored in E.164 (:func:`telephony.numbers.e164`), so ``013800138000``,
``+86 138 0013 8000`` and ``13800138000`` are the same customer.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from telephony.numbers import e164
from telephony.store.db import upsert
from telephony.store.model import CUSTOMER_CATEGORIES, CustomerRow

__all__ = ["KEEP", "Customer", "get_customer", "upsert_customer"]


class _Keep(enum.Enum):
    KEEP = "keep"


#: Default of :func:`upsert_customer`'s fields: leave the stored value as it is.
KEEP = _Keep.KEEP


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    number: str
    name: str | None
    category: str | None  #: one of ``CUSTOMER_CATEGORIES``, or None when not classified yet
    company: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


def get_customer(session: Session, number: str) -> Customer | None:
    row = session.scalars(select(CustomerRow).where(CustomerRow.number == e164(number))).one_or_none()
    return None if row is None else _customer(row)


def upsert_customer(session: Session, number: str, *, now: datetime,
                    name: str | None | _Keep = KEEP,
                    category: str | None | _Keep = KEEP,
                    company: str | None | _Keep = KEEP,
                    notes: str | None | _Keep = KEEP) -> Customer:
    """Create the customer or change the fields given (None clears one); returns it as stored.

    Fields left at ``KEEP`` keep their stored value (None for a new customer).  Raises ValueError
    (``NotAPhoneNumber``) for what is not a phone number or a category outside ``CUSTOMER_CATEGORIES``.
    """
    if category is not KEEP and category is not None and category not in CUSTOMER_CATEGORIES:
        raise ValueError(f"category {category!r} is not one of {', '.join(CUSTOMER_CATEGORIES)}")
    given = {field: value for field, value in
             (("name", name), ("category", category), ("company", company), ("notes", notes))
             if value is not KEEP}
    stmt = upsert(session, CustomerRow).values(number=e164(number), **given,
                                               created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["number"],
        set_={**{field: stmt.excluded[field] for field in given}, "updated_at": now},
    ).returning(CustomerRow)
    return _customer(session.scalars(stmt, execution_options={"populate_existing": True}).one())


def _customer(row: CustomerRow) -> Customer:
    return Customer(id=row.id, number=row.number, name=row.name, category=row.category, company=row.company,
                    notes=row.notes, created_at=row.created_at, updated_at=row.updated_at)
