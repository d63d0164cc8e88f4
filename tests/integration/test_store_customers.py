"""Customers by phone number, on SQLite and PostgreSQL: lookup and upsert."""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from telephony.numbers import NotAPhoneNumber
from telephony.store.model import CustomerRow, as_utc


def test_what_is_not_a_phone_number_is_refused_with_the_reason(sync_store):
    with pytest.raises(NotAPhoneNumber, match="no digits"):
        sync_store.upsert_customer("unknown", name="x")
    with pytest.raises(NotAPhoneNumber, match="too short"):
        sync_store.upsert_customer("1001", name="an extension")
    with pytest.raises(NotAPhoneNumber):
        sync_store.get_customer("4000")


def test_upsert_creates_a_customer_found_by_any_spelling_of_the_number(sync_store, store_clock):
    created = sync_store.upsert_customer("138-0013-8000", name="张三", category="潜在客户", company="青岛海鲜有限公司")
    assert (created.number, created.name, created.category, created.company, created.notes) == \
        ("+8613800138000", "张三", "潜在客户", "青岛海鲜有限公司", None)
    assert created.created_at == created.updated_at == as_utc(store_clock.seconds())
    for spelling in ("13800138000", "013800138000", "+86 138 0013 8000", "008613800138000", "8613800138000"):
        assert sync_store.get_customer(spelling) == created, spelling
    assert sync_store.get_customer("13900000000") is None


def test_upsert_changes_only_the_fields_given(sync_store, store_clock):
    first = sync_store.upsert_customer("13800138000", name="张三", category="潜在客户", notes="想要报价")
    store_clock.advance(3600)
    changed = sync_store.upsert_customer("13800138000", category="返利客户", notes=None)
    assert (changed.id, changed.name, changed.category, changed.notes) == (first.id, "张三", "返利客户", None)
    assert changed.created_at == first.created_at
    assert (changed.updated_at - first.updated_at).total_seconds() == 3600
    assert sync_store.get_customer("13800138000") == changed
    assert sync_store.run(lambda s: s.scalar(select(func.count()).select_from(CustomerRow))) == 1


def test_upsert_of_a_new_number_with_no_fields_stores_the_number(sync_store):
    customer = sync_store.upsert_customer("13800138000")
    assert (customer.name, customer.category, customer.company, customer.notes) == (None, None, None, None)


def test_unknown_category_is_refused_by_the_code_and_by_the_database(sync_store, store_clock):
    with pytest.raises(ValueError, match="潜在客户"):
        sync_store.upsert_customer("13800138000", category="VIP")
    assert sync_store.get_customer("13800138000") is None
    now = as_utc(store_clock.seconds())
    with pytest.raises(IntegrityError):
        sync_store.run(lambda s: s.execute(insert(CustomerRow).values(
            number="13800138000", category="VIP", created_at=now, updated_at=now)))
