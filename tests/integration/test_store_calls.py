"""Saving and reading calls on SQLite and PostgreSQL: idempotent by (pbx, linkedid), offers replaced."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from telephony.live.events import CallSummary, OfferSummary
from telephony.store.model import CallRow, OfferRow

T0 = 1_795_366_966.25  # a Linkedid-like moment with a fraction that must survive


def offer(agent: str, start: float, rang_s: float, rings: int, result: str, queue: str | None = "support"):
    return OfferSummary(agent=agent, queue=queue, rang_s=rang_s, rings=rings, result=result, started_at=start,
                        ring_started_at=start + 0.02 if rings else None, ended_at=start + 0.02 + rang_s)


def summary(linkedid: str = "1795366966.0", pbx: str = "default", entered_at: float = T0, **changes):
    call = CallSummary(
        pbx=pbx, linkedid=linkedid, caller="13912345678", caller_name="王伟", entered_at=entered_at,
        queues=("support",), queue="support",
        offers=(offer("1001", entered_at + 0.1, 15.0, 3, "no_answer"),
                offer("1002", entered_at + 17.1, 3.0, 1, "answered")),
        answered_by="1002", answered_at=entered_at + 20.12, transferred_to=(), wait_s=20.1, rings_to_answer=5,
        apologise=True, talk_s=5.0, outcome="answered", hangup_by="caller", hangup_cause=16,
        ended_at=entered_at + 25.1,
    )
    return dataclasses.replace(call, **changes)


def count(store, row_class) -> int:
    return store.run(lambda session: session.scalar(select(func.count()).select_from(row_class)))


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def test_a_saved_call_reads_back_as_it_was_given(sync_store):
    call_id = sync_store.save_call(summary())
    stored = sync_store.get_call("default", "1795366966.0")
    assert stored.id == call_id
    assert (stored.caller, stored.caller_name, stored.queue, stored.queues) == \
        ("13912345678", "王伟", "support", ("support",))
    assert stored.entered_at == utc(T0) and stored.entered_at.tzinfo == timezone.utc
    assert stored.entered_at.microsecond == 250000
    assert stored.answered_at == utc(T0 + 20.12)
    assert (stored.answered_by, stored.wait_s, stored.rings_to_answer, stored.apologise, stored.talk_s) == \
        ("1002", 20.1, 5, True, 5.0)
    assert (stored.outcome, stored.hangup_by, stored.hangup_cause, stored.direction, stored.transferred_to) == \
        ("answered", "caller", 16, "inbound", ())
    assert [(o.seq, o.agent, o.queue, o.rings, o.result) for o in stored.offers] == \
        [(1, "1001", "support", 3, "no_answer"), (2, "1002", "support", 1, "answered")]
    first = stored.offers[0]
    assert (first.started_at, first.ring_started_at, first.ended_at, first.rang_s) == \
        (utc(T0 + 0.1), utc(T0 + 0.12), utc(T0 + 15.12), 15.0)


def test_saving_the_same_call_twice_stores_one_call_with_the_same_offers(sync_store, store_clock):
    first_id = sync_store.save_call(summary())
    before = sync_store.get_call("default", "1795366966.0")
    store_clock.advance(60)
    assert sync_store.save_call(summary()) == first_id
    after = sync_store.get_call("default", "1795366966.0")
    assert (count(sync_store, CallRow), count(sync_store, OfferRow)) == (1, 2)
    assert after.offers == before.offers
    assert dataclasses.replace(after, updated_at=before.updated_at) == before
    assert after.created_at == before.created_at
    assert (after.updated_at - before.updated_at).total_seconds() == 60


def test_saving_an_updated_call_rewrites_the_row_and_replaces_its_offers(sync_store):
    sync_store.save_call(summary())
    transferred = summary(
        offers=(offer("1003", T0 + 0.1, 2.0, 1, "answered", queue="sales"),),
        queues=("support", "sales"), queue="sales", answered_by="1003", transferred_to=("1001",), wait_s=2.1,
        rings_to_answer=1, apologise=False,
    )
    sync_store.save_call(transferred)
    stored = sync_store.get_call("default", "1795366966.0")
    assert (count(sync_store, CallRow), count(sync_store, OfferRow)) == (1, 1)
    assert (stored.queue, stored.queues, stored.answered_by, stored.transferred_to, stored.apologise) == \
        ("sales", ("support", "sales"), "1003", ("1001",), False)
    assert [(o.seq, o.agent, o.queue) for o in stored.offers] == [(1, "1003", "sales")]


def test_a_failed_rewrite_leaves_the_stored_call_untouched(sync_store):
    sync_store.save_call(summary())
    broken = summary(outcome="abandoned", offers=(dataclasses.replace(offer("1001", T0, 1.0, 1, "x"), result=None),))
    with pytest.raises(IntegrityError):
        sync_store.save_call(broken)
    stored = sync_store.get_call("default", "1795366966.0")
    assert stored.outcome == "answered" and len(stored.offers) == 2


def test_the_same_linkedid_on_two_pbxes_is_two_calls(sync_store):
    sync_store.save_call(summary(pbx="north"))
    sync_store.save_call(summary(pbx="south", caller="13800138000"))
    assert count(sync_store, CallRow) == 2
    assert sync_store.get_call("north", "1795366966.0").caller == "13912345678"
    assert sync_store.get_call("south", "1795366966.0").caller == "13800138000"
    assert sync_store.get_call("east", "1795366966.0") is None


def test_recent_calls_are_the_pbxs_newest_first(sync_store):
    for n in range(5):
        sync_store.save_call(summary(linkedid=f"1795366966.{n}", entered_at=T0 + 100 * n))
    sync_store.save_call(summary(linkedid="other", pbx="south", entered_at=T0 + 1000))
    assert [c.linkedid for c in sync_store.recent_calls("default", limit=3)] == \
        ["1795366966.4", "1795366966.3", "1795366966.2"]
    assert [c.linkedid for c in sync_store.recent_calls("south")] == ["other"]
    assert sync_store.recent_calls("east") == []
    with pytest.raises(ValueError, match="limit"):
        sync_store.recent_calls("default", limit=0)


def test_calls_for_number_finds_the_callers_calls_on_every_pbx(sync_store):
    sync_store.save_call(summary(linkedid="a", entered_at=T0))
    sync_store.save_call(summary(linkedid="b", pbx="south", entered_at=T0 + 10))
    sync_store.save_call(summary(linkedid="c", entered_at=T0 + 20, caller="13800138000"))
    sync_store.save_call(summary(linkedid="d", entered_at=T0 + 30, caller=None))
    assert [(c.pbx, c.linkedid) for c in sync_store.calls_for_number("139-1234-5678")] == \
        [("south", "b"), ("default", "a")]
    assert [c.linkedid for c in sync_store.calls_for_number("13912345678", limit=1)] == ["b"]
    assert [c.linkedid for c in sync_store.calls_for_number("+86 139 1234 5678", limit=1)] == ["b"]
    assert [c.linkedid for c in sync_store.calls_for_number("013800138000")] == ["c"]
    assert sync_store.calls_for_number("13700001111") == []
    with pytest.raises(ValueError, match="not a phone number"):
        sync_store.calls_for_number("anonymous")


def test_several_calls_in_one_batch_are_stored_as_one_at_a_time_would_store_them(sync_store):
    first = summary(linkedid="b1", entered_at=T0)
    second = summary(linkedid="b2", entered_at=T0 + 30, caller="013800138000",
                     offers=(offer("1003", T0 + 30.1, 2.0, 1, "answered"),))
    ids = sync_store.save_calls([first, second])
    assert len(set(ids)) == 2
    assert [sync_store.get_call("default", lid).id for lid in ("b1", "b2")] == ids
    again = sync_store.save_calls([dataclasses.replace(first, outcome="incomplete"), second])  # a retried batch
    assert again == ids
    stored = sync_store.get_call("default", "b1")
    assert stored.outcome == "incomplete" and [o.agent for o in stored.offers] == ["1001", "1002"]
    assert [o.agent for o in sync_store.get_call("default", "b2").offers] == ["1003"]
    assert sync_store.calls_for_number("+86 138 0013 8000")[0].linkedid == "b2"
    assert sync_store.save_calls([]) == []
