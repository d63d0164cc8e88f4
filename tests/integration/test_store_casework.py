"""Wrap-ups, follow-up tasks, the facts of a screen pop and who may see which call, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from telephony.live.events import OfferSummary
from telephony.store.casework import WrapUp, WrapUpProblem
from telephony.store.model import TaskRow, WrapUpRow, as_utc
from tests.integration.test_store_calls import T0, offer, summary

NUMBER = "+8613800138000"  #: the customer of 013800138000, +86 138 0013 8000, 13800138000
DUE = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def count(store, row_class) -> int:
    return store.run(lambda session: session.scalar(select(func.count()).select_from(row_class)))


def now(store_clock) -> str:
    return as_utc(store_clock.seconds()).isoformat()


def iso(epoch: float) -> str:
    return as_utc(epoch).isoformat()


def only(agent: str, start: float = T0, result: str = "answered") -> tuple[OfferSummary, ...]:
    return (offer(agent, start + 0.1, 2.0, 1, result),)


# -- wrap-ups ------------------------------------------------------------------------------------


def test_a_wrap_up_is_stored_and_saving_again_rewrites_it(sync_store, store_clock):
    first = WrapUp("咨询", "resolved", order_no="SO-2026-0001", notes="问了发货时间")
    saved = sync_store.save_wrapup("default", "L1", "1002", "13800138000", first)
    assert saved == {"problem_type": "咨询", "order_no": "SO-2026-0001", "notes": "问了发货时间",
                     "resolution": "resolved", "follow_up_due": None, "saved_at": now(store_clock)}
    assert sync_store.wrapup_for("default", "L1", "1002") == saved

    store_clock.advance(120)
    again = sync_store.save_wrapup("default", "L1", "1002", "13800138000",
                                   WrapUp("投诉", "transferred", order_no="", notes="转给主管"))
    assert again == {"problem_type": "投诉", "order_no": None, "notes": "转给主管", "resolution": "transferred",
                     "follow_up_due": None, "saved_at": now(store_clock)}
    assert sync_store.wrapup_for("default", "L1", "1002") == again
    assert count(sync_store, WrapUpRow) == 1


def test_each_agent_and_each_pbx_has_a_wrap_up_of_its_own(sync_store):
    sync_store.save_wrapup("default", "L1", "1002", "13800138000", WrapUp("咨询", "resolved", notes="a"))
    sync_store.save_wrapup("default", "L1", "1001", "13800138000", WrapUp("建议", "resolved", notes="b"))
    sync_store.save_wrapup("south", "L1", "1002", "13800138000", WrapUp("求助", "resolved", notes="c"))
    assert count(sync_store, WrapUpRow) == 3
    assert sync_store.wrapup_for("default", "L1", "1002")["notes"] == "a"
    assert sync_store.wrapup_for("default", "L1", "1001")["notes"] == "b"
    assert sync_store.wrapup_for("south", "L1", "1002")["notes"] == "c"
    assert sync_store.wrapup_for("default", "L1", "1003") is None
    assert sync_store.wrapup_for("default", "L2", "1002") is None


@pytest.mark.parametrize(("wrapup", "field"), [
    (WrapUp("其他", "resolved"), "problem_type"),
    (WrapUp("", "resolved"), "problem_type"),
    (WrapUp("咨询", "done"), "resolution"),
    (WrapUp("咨询", "follow_up"), "follow_up_due"),
    (WrapUp("咨询", "resolved", order_no="9" * 65), "order_no"),
    (WrapUp("咨询", "follow_up", order_no="9" * 65, follow_up_due=DUE, category="返利客户"), "order_no"),
    (WrapUp("咨询", "resolved", notes="x" * 4001), "notes"),
])
def test_a_wrap_up_that_cannot_be_saved_is_refused_naming_the_field_and_stores_nothing(sync_store, wrapup, field):
    with pytest.raises(WrapUpProblem, match=f"^{field}:"):
        sync_store.save_wrapup("default", "L1", "1002", "13800138000", wrapup)
    assert sync_store.wrapup_for("default", "L1", "1002") is None
    assert (count(sync_store, WrapUpRow), count(sync_store, TaskRow)) == (0, 0)
    assert sync_store.get_customer(NUMBER) is None


def test_a_refused_rewrite_leaves_the_stored_wrap_up_as_it_was(sync_store):
    kept = sync_store.save_wrapup("default", "L1", "1002", "13800138000",
                                  WrapUp("咨询", "follow_up", notes="回电", follow_up_due=DUE))
    with pytest.raises(WrapUpProblem, match="resolution"):
        sync_store.save_wrapup("default", "L1", "1002", "13800138000", WrapUp("咨询", "closed"))
    assert sync_store.wrapup_for("default", "L1", "1002") == kept
    assert [t["due_at"] for t in sync_store.open_tasks("1002")] == [DUE.isoformat()]


def test_the_longest_order_number_and_notes_are_accepted(sync_store):
    saved = sync_store.save_wrapup("default", "L1", "1002", None,
                                   WrapUp("咨询", "resolved", order_no="9" * 64, notes="x" * 4000))
    assert (saved["order_no"], saved["notes"]) == ("9" * 64, "x" * 4000)


def test_a_category_given_updates_the_customer_creating_him_when_missing(sync_store, store_clock):
    sync_store.save_wrapup("default", "L1", "1002", "013800138000", WrapUp("咨询", "resolved", category="潜在客户"))
    created = sync_store.get_customer(NUMBER)
    assert (created.number, created.name, created.category) == (NUMBER, None, "潜在客户")

    sync_store.upsert_customer(NUMBER, name="张三", company="青岛海鲜有限公司")
    store_clock.advance(60)
    sync_store.save_wrapup("default", "L2", "1002", "+86 138 0013 8000", WrapUp("咨询", "resolved",
                                                                                 category="返利客户"))
    changed = sync_store.get_customer(NUMBER)
    assert (changed.id, changed.name, changed.company, changed.category) == \
        (created.id, "张三", "青岛海鲜有限公司", "返利客户")

    sync_store.save_wrapup("default", "L3", "1002", "13800138000", WrapUp("咨询", "resolved"))
    assert sync_store.get_customer(NUMBER).category == "返利客户"  # no category given: kept


def test_without_a_category_no_customer_is_made(sync_store):
    sync_store.save_wrapup("default", "L1", "1002", "13800138000", WrapUp("咨询", "resolved", notes="问价"))
    assert sync_store.get_customer(NUMBER) is None


def test_an_unknown_category_is_refused_naming_the_field_and_stores_nothing(sync_store):
    for caller in (None, "13800138000"):
        with pytest.raises(WrapUpProblem, match="^category:"):
            sync_store.save_wrapup("default", "L1", "1002", caller, WrapUp("咨询", "resolved", category="VIP"))
    assert sync_store.wrapup_for("default", "L1", "1002") is None
    assert sync_store.get_customer(NUMBER) is None


# -- follow-up tasks -----------------------------------------------------------------------------


def test_a_follow_up_is_one_open_task_for_the_agent_moved_by_saving_again_and_closed_when_resolved(
        sync_store, store_clock):
    sync_store.save_wrapup("default", "L1", "1002", "013800138000",
                           WrapUp("求助", "follow_up", notes="明天回电", follow_up_due=DUE))
    [task] = sync_store.open_tasks("1002")
    assert {k: v for k, v in task.items() if k != "id"} == {
        "kind": "follow_up", "owner": "1002", "customer": NUMBER, "text": "明天回电", "due_at": DUE.isoformat(),
        "pbx": "default", "linkedid": "L1"}
    assert sync_store.open_tasks("1001") == []

    later = DUE + timedelta(days=1)
    saved = sync_store.save_wrapup("default", "L1", "1002", "013800138000",
                                   WrapUp("求助", "follow_up", notes="后天回电", follow_up_due=later))
    assert saved["follow_up_due"] == later.isoformat()
    [moved] = sync_store.open_tasks("1002")
    assert (moved["id"], moved["due_at"], moved["text"]) == (task["id"], later.isoformat(), "后天回电")
    assert count(sync_store, TaskRow) == 1

    sync_store.save_wrapup("default", "L1", "1002", "013800138000", WrapUp("求助", "resolved", notes="已解决"))
    assert sync_store.open_tasks("1002") == []
    assert sync_store.pop_facts("13800138000")["callbacks"] == []
    assert count(sync_store, TaskRow) == 1


def test_follow_ups_of_two_calls_are_two_tasks_soonest_first(sync_store):
    sync_store.save_wrapup("default", "L1", "1002", "13800138000",
                           WrapUp("咨询", "follow_up", follow_up_due=DUE + timedelta(hours=2)))
    sync_store.save_wrapup("default", "L2", "1002", "13912345678", WrapUp("咨询", "follow_up", follow_up_due=DUE))
    sync_store.save_wrapup("default", "L1", "1001", "13800138000", WrapUp("咨询", "follow_up", follow_up_due=DUE))
    assert [(t["linkedid"], t["customer"]) for t in sync_store.open_tasks("1002")] == \
        [("L2", "+8613912345678"), ("L1", NUMBER)]
    assert [t["linkedid"] for t in sync_store.open_tasks("1001")] == ["L1"]


def test_a_task_is_closed_by_its_owner_or_by_anyone_for_a_supervisor_and_only_once(sync_store):
    sync_store.save_wrapup("default", "L1", "1002", "13800138000", WrapUp("咨询", "follow_up", follow_up_due=DUE))
    sync_store.save_wrapup("default", "L2", "1002", "13800138000", WrapUp("咨询", "follow_up", follow_up_due=DUE))
    first, second = (t["id"] for t in sync_store.open_tasks("1002"))

    assert sync_store.close_task(first, by="1001") is False  # not his
    assert [t["id"] for t in sync_store.open_tasks("1002")] == [first, second]
    assert sync_store.close_task(first, by="1002") is True
    assert sync_store.close_task(first, by="1002") is False  # closed already
    assert sync_store.close_task(first, by=None) is False
    assert [t["id"] for t in sync_store.open_tasks("1002")] == [second]

    assert sync_store.close_task(second, by=None) is True
    assert sync_store.open_tasks("1002") == []
    assert sync_store.close_task(second + 1000, by=None) is False
    done = sync_store.run(lambda s: [(r.status, r.done_at is not None) for r in s.scalars(select(TaskRow))])
    assert done == [("done", True), ("done", True)]


# -- the facts of a screen pop -------------------------------------------------------------------


def test_a_pop_shows_the_customer_his_last_ten_calls_with_their_wrap_ups_and_his_open_callbacks(sync_store):
    spellings = ("+86 138 0013 8000", "13800138000")
    for n in range(12):  # calls 0 … 11, alternately spelt, each answered by 1002 after 1001 did not answer
        sync_store.save_call(summary(linkedid=f"L{n}", entered_at=T0 + 100 * n, caller=spellings[n % 2]))
    sync_store.save_call(summary(linkedid="other", entered_at=T0 + 5000, caller="13912345678"))
    sync_store.upsert_customer("13800138000", name="张三", category="返利客户", company="青岛海鲜有限公司",
                               notes="老客户")

    # the answering agent's wrap-up is shown, not another agent's of the same call
    sync_store.save_wrapup("default", "L11", "1002", "13800138000",
                           WrapUp("投诉", "follow_up", order_no="SO-11", notes="货没到", follow_up_due=DUE))
    sync_store.save_wrapup("default", "L11", "1001", "13800138000", WrapUp("建议", "resolved", notes="not his"))
    sync_store.save_wrapup("default", "L10", "1001", "13800138000", WrapUp("建议", "resolved", notes="not his"))
    sync_store.save_wrapup("default", "L9", "1002", "13800138000", WrapUp("咨询", "resolved", notes="问价"))
    # callbacks: open tasks of this customer only, not closed ones nor another customer's
    sync_store.save_wrapup("default", "L5", "1002", "13800138000",
                           WrapUp("求助", "follow_up", notes="寄发票", follow_up_due=DUE - timedelta(hours=1)))
    sync_store.save_wrapup("default", "L4", "1002", "13800138000",
                           WrapUp("求助", "follow_up", notes="已办", follow_up_due=DUE))
    sync_store.save_wrapup("default", "L4", "1002", "13800138000", WrapUp("求助", "resolved", notes="已办"))
    sync_store.save_wrapup("default", "other", "1002", "13912345678",
                           WrapUp("求助", "follow_up", notes="别人的", follow_up_due=DUE))

    for number in ("013800138000", "+86 138 0013 8000", "13800138000"):
        pop = sync_store.pop_facts(number)
        assert pop["customer"] == {"number": NUMBER, "name": "张三", "category": "返利客户",
                                   "company": "青岛海鲜有限公司", "notes": "老客户"}, number
        history = pop["history"]
        assert [h["entered_at"] for h in history] == [iso(T0 + 100 * n) for n in range(11, 1, -1)], number
        assert [h["answered_by"] for h in history] == ["1002"] * 10
        assert all(h["outcome"] == "answered" for h in history)
        assert history[0] == {"entered_at": iso(T0 + 1100), "outcome": "answered", "answered_by": "1002",
                              "problem_type": "投诉", "order_no": "SO-11", "summary": "货没到",
                              "resolution": "follow_up"}
        assert (history[1]["problem_type"], history[1]["summary"]) == (None, None)  # L10: only 1001 wrote
        assert (history[2]["problem_type"], history[2]["order_no"], history[2]["summary"]) == ("咨询", None, "问价")
        assert [(c["linkedid"], c["owner"], c["customer"], c["text"]) for c in pop["callbacks"]] == \
            [("L5", "1002", NUMBER, "寄发票"), ("L11", "1002", NUMBER, "货没到")], number


def test_a_pop_for_a_number_never_seen_has_no_customer_no_history_no_callbacks(sync_store):
    sync_store.save_call(summary(linkedid="L1", caller="13800138000"))
    assert sync_store.pop_facts("13700001111") == {"customer": None, "history": [], "callbacks": []}


def test_a_pop_for_a_known_caller_without_a_customer_row_has_his_history(sync_store):
    sync_store.save_call(summary(linkedid="L1", caller="013800138000", outcome="abandoned", answered_by=None,
                                 answered_at=None, offers=only("1001", result="no_answer")))
    pop = sync_store.pop_facts("13800138000")
    assert pop["customer"] is None and pop["callbacks"] == []
    assert pop["history"] == [{"entered_at": iso(T0), "outcome": "abandoned", "answered_by": None,
                               "problem_type": None, "order_no": None, "summary": None, "resolution": None}]


@pytest.mark.parametrize("number", ["1001", None, "", "anonymous"])
def test_a_pop_for_what_is_no_phone_number_is_empty(sync_store, number):
    sync_store.save_call(summary(linkedid="L1", caller="1001"))
    sync_store.save_wrapup("default", "L1", "1002", "1001", WrapUp("咨询", "follow_up", follow_up_due=DUE))
    assert sync_store.pop_facts(number) == {"customer": None, "history": [], "callbacks": []}


# -- who may see what ----------------------------------------------------------------------------


def test_an_agent_sees_the_calls_he_answered_or_was_offered_and_no_other(sync_store):
    # summary(): offered to 1001 (no answer), then 1002 (answered)
    sync_store.save_call(summary(linkedid="L1", caller="13800138000"))
    assert sync_store.agent_may_see_call("1002", "default", "L1") is True
    assert sync_store.agent_may_see_call("1001", "default", "L1") is True
    assert sync_store.agent_may_see_call("1003", "default", "L1") is False
    # the same linkedid on another PBX is another call, not stored
    assert sync_store.agent_may_see_call("1002", "south", "L1") is False
    assert sync_store.agent_may_see_call("1002", "default", "nope") is False
    # an anonymous call answered while the daemon could not see it: no offers stored, no customer to serve;
    # the answering agent still sees it
    sync_store.save_call(summary(linkedid="unseen", caller=None, offers=(), answered_at=None, wait_s=None,
                                 rings_to_answer=None, apologise=None, talk_s=None))
    assert sync_store.get_call("default", "unseen").offers == ()
    assert sync_store.agent_may_see_call("1002", "default", "unseen") is True
    assert sync_store.agent_may_see_call("1001", "default", "unseen") is False


def test_an_agent_who_served_a_customer_sees_the_customers_other_calls_by_any_spelling(sync_store):
    sync_store.save_call(summary(linkedid="L1", caller="13800138000"))  # 1001 offered, 1002 answered
    sync_store.save_call(summary(linkedid="L2", caller="+86 138 0013 8000", entered_at=T0 + 100,
                                 answered_by="1004", offers=only("1004", T0 + 100)))
    sync_store.save_call(summary(linkedid="L3", caller="13912345678", entered_at=T0 + 200,
                                 answered_by="1004", offers=only("1004", T0 + 200)))
    for agent in ("1001", "1002", "1004"):
        assert sync_store.agent_may_see_call(agent, "default", "L2") is True, agent
    assert sync_store.agent_may_see_call("1003", "default", "L2") is False
    assert sync_store.agent_may_see_call("1002", "default", "L3") is False  # another customer's call
    assert sync_store.agent_may_see_call("1001", "default", "L3") is False

    for number in ("013800138000", "+86 138 0013 8000", "13800138000"):
        assert sync_store.agent_serves_customer("1001", number) is True, number  # offered only
        assert sync_store.agent_serves_customer("1002", number) is True, number  # answered
        assert sync_store.agent_serves_customer("1003", number) is False, number
    assert sync_store.agent_serves_customer("1002", "13912345678") is False
    assert sync_store.agent_serves_customer("1004", "13912345678") is True
    assert sync_store.agent_serves_customer("1002", "1001") is False
    assert sync_store.agent_serves_customer("1002", "13700001111") is False


def test_an_agent_who_owes_a_customer_a_follow_up_serves_him(sync_store):
    sync_store.save_call(summary(linkedid="L1", caller="13800138000"))
    assert sync_store.agent_serves_customer("1005", "13800138000") is False
    sync_store.save_wrapup("default", "elsewhere", "1005", "013800138000",
                           WrapUp("咨询", "follow_up", follow_up_due=DUE))
    assert sync_store.agent_serves_customer("1005", "13800138000") is True
    assert sync_store.agent_may_see_call("1005", "default", "L1") is True


def test_a_call_from_an_extension_is_seen_only_by_who_took_or_was_offered_it(sync_store):
    sync_store.save_call(summary(linkedid="internal", caller="1009"))
    sync_store.save_call(summary(linkedid="L2", caller="1009", entered_at=T0 + 100, answered_by="1004",
                                 offers=only("1004", T0 + 100)))
    assert sync_store.agent_may_see_call("1002", "default", "internal") is True
    assert sync_store.agent_may_see_call("1001", "default", "internal") is True
    assert sync_store.agent_may_see_call("1002", "default", "L2") is False  # an extension is nobody's customer
    assert sync_store.agent_may_see_call("1004", "default", "internal") is False
