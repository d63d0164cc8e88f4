"""Announcements, the FAQ and handovers in the store, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from telephony.store.model import as_utc
from telephony.store.shift import ShiftProblem, agent_day
from tests.integration.test_store_calls import T0, summary


def test_an_announcement_is_unread_until_acknowledged_and_only_by_who_read_it(sync_store):
    first = sync_store.post_announcement("announcement", "双十二促销", "满300减50", by="boss")
    sync_store.post_announcement("faq", "退款多久到账", "原路退回", by="boss")
    assert [a["title"] for a in sync_store.announcements_for("wang", unread_only=True)] == ["双十二促销"]
    assert sync_store.acknowledge_announcement(first, "wang") is True
    assert sync_store.acknowledge_announcement(first, "wang") is True  # twice is fine, stored once
    assert sync_store.announcements_for("wang", unread_only=True) == []
    assert [a["read"] for a in sync_store.announcements_for("li")] == [False]
    assert sync_store.acknowledge_announcement(first + 99, "wang") is False
    with pytest.raises(ShiftProblem, match="title"):
        sync_store.post_announcement("announcement", "", "x", by="boss")
    with pytest.raises(ShiftProblem, match="kind"):
        sync_store.post_announcement("memo", "t", "x", by="boss")


def test_the_faq_is_searched_by_substring_chinese_included_and_wildcards_are_characters(sync_store):
    sync_store.post_announcement("faq", "退款多久到账", "原路退回，3至5个工作日", by="boss")
    sync_store.post_announcement("faq", "发票", "电子发票100%当天开", by="boss")
    assert [f["title"] for f in sync_store.search_faq("退款")] == ["退款多久到账"]
    assert [f["title"] for f in sync_store.search_faq("工作日 退回")] == ["退款多久到账"]
    assert [f["title"] for f in sync_store.search_faq("100%")] == ["发票"]
    assert sync_store.search_faq("_") == []  # no entry has an underscore: it matches no "any character"
    assert len(sync_store.search_faq("")) == 2


def test_a_handover_goes_to_the_agent_named_not_to_one_whose_extension_looks_like_the_name(sync_store, store_clock):
    sync_store.add_user("1002", "agent", "password-1", extension="1005")  # a user name of digits
    sync_store.add_user("li", "agent", "password-2", extension="1002")
    sync_store.add_user("zhao", "agent", "password-3", extension="1003")
    sync_store.add_task("1001", "follow_up", "回电", customer="13800138000")
    handover = sync_store.hand_over("1001", "1002", "张三的退款", tz="Asia/Shanghai")
    assert handover["to"] == "1005"
    assert [t["text"] for t in sync_store.open_tasks("1005")] == ["回电"]
    assert sync_store.hand_over("1001", "1003", None, tz="Asia/Shanghai")["to"] == "1003"  # by extension
    with pytest.raises(ShiftProblem, match="no agent named"):
        sync_store.hand_over("1001", "nobody", None, tz="Asia/Shanghai")
    with pytest.raises(ShiftProblem, match="yourself"):
        sync_store.hand_over("1003", "zhao", None, tz="Asia/Shanghai")


def test_the_agents_day_counts_what_is_known(sync_store):
    sync_store.save_call(summary(linkedid="a", entered_at=T0))  # 1002 answered after 20.1 s, talked 5 s
    sync_store.save_call(summary(linkedid="b", entered_at=T0 + 60, wait_s=None, rings_to_answer=None,
                                 apologise=None, talk_s=None))  # answered unseen: counted, no figures
    sync_store.record_agent_event("default", "1002", "miss", T0 + 5, "guard", queue="support", linkedid="a")
    day = as_utc(T0).astimezone(ZoneInfo("Asia/Shanghai")).date()
    figures = sync_store.run(agent_day, "1002", day, "Asia/Shanghai")
    assert figures == {"day": day.isoformat(), "calls_answered": 2, "avg_handle_s": 5.0,
                       "avg_speed_of_answer_s": 20.1, "misses": 1}
    assert sync_store.run(agent_day, "1002", date(2020, 1, 1), "Asia/Shanghai")["calls_answered"] == 0
