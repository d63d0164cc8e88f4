"""The ring report on a small hand-made day, on SQLite and PostgreSQL; expected numbers by hand.

The day is 2026-11-20 in Asia/Shanghai (UTC+8).  Queue ``support`` on PBX ``default``:

====  ===============  =========================================  ==========================
call  entered (local)  offers (agent: rings, result)              outcome
====  ===============  =========================================  ==========================
C1    19th 23:59:50    1001: 2 answered (at 00:00:00.6 on 20th)   answered, 3 rings, 10.6 s
C6    20th 07:30:00    1001: 1 answered                           answered, 1 ring, 4.2 s
C3    20th 09:00:00    1001: 3 no_answer (a miss), 1002: 1 answ.  answered, 4 rings, 18.4 s
C4    20th 14:00:00    1003: 4 answered (the guard only watched)  answered, 4 rings, 17.2 s
C10   20th 16:00:00    none                                       incomplete
C5    20th 20:00:00    1001: 2 cancelled                          abandoned, 2 rings, 8.2 s
C2    20th 23:59:55    1002: 2 answered (at 00:00:03.6 on 21st)   answered, 2 rings, 8.6 s
====  ===============  =========================================  ==========================

Also: C8, a direct dial to 1002 at 11:00 (2 rings, answered, 6.2 s); C9, an outbound callback
ringing 1002 at 12:00 (not a queue call: counted nowhere); C7 on PBX ``south``; a miss of 1002 at
23:59:59 on the 19th and a guard pause of 1001 after its miss (pauses are not misses).  07:30 local
is 23:30 UTC on the 19th: a report that cut days in UTC would put C6 on the wrong day.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from telephony.live.events import CallSummary, OfferSummary

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 20)


def local(day: int, hh: int, mm: int, ss: float) -> float:
    whole = int(ss)
    moment = datetime(2026, 11, day, hh, mm, whole, round((ss - whole) * 1e6), tzinfo=SHANGHAI)
    return moment.timestamp()


def offer(agent: str, started_at: float, rang_s: float, rings: int, result: str, queue: str | None = "support"):
    return OfferSummary(agent=agent, queue=queue, rang_s=rang_s, rings=rings, result=result, started_at=started_at,
                        ring_started_at=started_at + 0.1, ended_at=started_at + 0.1 + rang_s)


def call(linkedid: str, entered_at: float, offers: tuple[OfferSummary, ...], *, outcome: str, wait_s: float,
         rings_to_answer: int, answered_by: str | None, queue: str | None = "support", pbx: str = "default",
         direction: str = "inbound") -> CallSummary:
    answered = answered_by is not None
    return CallSummary(
        pbx=pbx, linkedid=linkedid, caller="13800138000", caller_name=None, entered_at=entered_at,
        queues=(queue,) if queue else (), queue=queue, offers=offers, answered_by=answered_by,
        answered_at=entered_at + wait_s if answered else None, transferred_to=(), wait_s=wait_s,
        rings_to_answer=rings_to_answer, apologise=rings_to_answer >= 5, talk_s=30.0 if answered else None,
        outcome=outcome, hangup_by="caller", hangup_cause=16, ended_at=entered_at + wait_s + 30.0,
        direction=direction,
    )


@pytest.fixture
def day(sync_store):
    t1, t6, t3, t4 = local(19, 23, 59, 50), local(20, 7, 30, 0), local(20, 9, 0, 0), local(20, 14, 0, 0)
    t10, t5, t2 = local(20, 16, 0, 0), local(20, 20, 0, 0), local(20, 23, 59, 55)
    t8, t9, t7 = local(20, 11, 0, 0), local(20, 12, 0, 0), local(20, 10, 0, 0)
    calls = [
        call("C1", t1, (offer("1001", t1 + 0.5, 10.0, 2, "answered"),),
             outcome="answered", wait_s=10.6, rings_to_answer=3, answered_by="1001"),
        call("C6", t6, (offer("1001", t6 + 0.1, 4.0, 1, "answered"),),
             outcome="answered", wait_s=4.2, rings_to_answer=1, answered_by="1001"),
        call("C3", t3, (offer("1001", t3 + 0.1, 15.0, 3, "no_answer"), offer("1002", t3 + 15.3, 3.0, 1, "answered")),
             outcome="answered", wait_s=18.4, rings_to_answer=4, answered_by="1002"),
        call("C4", t4, (offer("1003", t4 + 0.1, 17.0, 4, "answered"),),
             outcome="answered", wait_s=17.2, rings_to_answer=4, answered_by="1003"),
        call("C10", t10, (), outcome="incomplete", wait_s=3.0, rings_to_answer=1, answered_by=None),
        call("C5", t5, (offer("1001", t5 + 0.1, 8.0, 2, "cancelled"),),
             outcome="abandoned", wait_s=8.2, rings_to_answer=2, answered_by=None),
        call("C2", t2, (offer("1002", t2 + 0.5, 8.0, 2, "answered"),),
             outcome="answered", wait_s=8.6, rings_to_answer=2, answered_by="1002"),
        call("C8", t8, (offer("1002", t8 + 0.1, 6.0, 2, "answered", queue=None),),
             outcome="answered", wait_s=6.2, rings_to_answer=2, answered_by="1002", queue=None),
        call("C9", t9, (offer("1002", t9, 2.0, 1, "answered", queue=None),),
             outcome="answered", wait_s=2.1, rings_to_answer=1, answered_by="1002", queue=None, direction="outbound"),
        call("C7", t7, (offer("1001", t7 + 0.1, 2.0, 1, "answered"),),
             outcome="answered", wait_s=2.2, rings_to_answer=1, answered_by="1001", pbx="south"),
    ]
    for c in calls:
        sync_store.save_call(c)
    sync_store.record_agent_event("default", "1001", "miss", t3 + 15.2, "guard", queue="support", linkedid="C3")
    sync_store.record_agent_event("default", "1001", "pause", t3 + 15.2, "guard", reason="振铃未接")
    sync_store.record_agent_event("default", "1002", "miss", local(19, 23, 59, 59), "guard", queue="support")
    return sync_store


def table(rows):
    return [(r.pbx, r.queue, r.agent, r.offers, r.answered_within, r.misses, r.calls, r.answered_in_time,
             None if r.share_in_time is None else round(r.share_in_time, 6),
             None if r.asa_s is None else round(r.asa_s, 6)) for r in rows]


def test_ring_report_of_the_day(day):
    rows = day.ring_report(DAY)
    assert {r.day for r in rows} == {DAY}
    assert table(rows) == [
        # pbx, queue, agent, offers, within 3 rings, misses, calls, in time, share, ASA
        ("default", "support", None, 6, 3, 1, 5, 2, 0.4, 12.1),  # C2 C3 C4 C5 C6; (8.6+18.4+17.2+4.2)/4
        ("default", "support", "1001", 3, 1, 1, 1, 1, 1.0, 4.2),  # offers C3 C5 C6; answered C6
        ("default", "support", "1002", 2, 2, 0, 2, 1, 0.5, 13.5),  # offers C3 C2; answered C3 (4 rings) C2
        ("default", "support", "1003", 1, 0, 0, 1, 0, 0.0, 17.2),  # C4 at ring 4
        ("default", None, None, 1, 1, 0, 1, 1, 1.0, 6.2),  # C8, the direct dial
        ("default", None, "1002", 1, 1, 0, 1, 1, 1.0, 6.2),
        ("south", "support", None, 1, 1, 0, 1, 1, 1.0, 2.2),
        ("south", "support", "1001", 1, 1, 0, 1, 1, 1.0, 2.2),
    ]


def test_ring_report_for_one_pbx_and_four_rings_allowed(day):
    rows = day.ring_report(DAY, pbx="default", rings_allowed=4)
    assert table(rows)[:4] == [
        ("default", "support", None, 6, 4, 1, 5, 4, 0.8, 12.1),  # C3 and C4 now in time; C5 still abandoned
        ("default", "support", "1001", 3, 1, 1, 1, 1, 1.0, 4.2),
        ("default", "support", "1002", 2, 2, 0, 2, 2, 1.0, 13.5),
        ("default", "support", "1003", 1, 1, 0, 1, 1, 1.0, 17.2),
    ]
    assert {r.pbx for r in rows} == {"default"}


def test_the_day_before_holds_the_call_that_began_before_midnight(day):
    assert table(day.ring_report(date(2026, 11, 19), pbx="default")) == [
        ("default", "support", None, 1, 1, 1, 1, 1, 1.0, 10.6),
        ("default", "support", "1001", 1, 1, 0, 1, 1, 1.0, 10.6),
        ("default", "support", "1002", 0, 0, 1, 0, 0, None, None),  # only the miss at 23:59:59
    ]


def test_days_are_cut_in_the_time_zone_asked_for(day):
    """The UTC 20th runs from 08:00 on the 20th to 08:00 on the 21st, Shanghai time: C6 (07:30) falls
    out; C2 and everything after 08:00 stay."""
    rows = table(day.ring_report(DAY, tz="UTC", pbx="default"))
    assert rows[:4] == [
        ("default", "support", None, 5, 2, 1, 4, 1, 0.25, 14.733333),  # C2 C3 C4 C5; (8.6+18.4+17.2)/3
        ("default", "support", "1001", 2, 0, 1, 0, 0, None, None),  # offers C3 C5, answered nothing
        ("default", "support", "1002", 2, 2, 0, 2, 1, 0.5, 13.5),
        ("default", "support", "1003", 1, 0, 0, 1, 0, 0.0, 17.2),
    ]


def test_an_empty_day_has_no_rows(day):
    assert day.ring_report(date(2026, 12, 25)) == []


def test_what_was_not_seen_is_left_out_and_counted(day):
    """A call first seen talking (C11: no wait known) and an offer that ended in a gap of the AMI link
    (C12) are in no figure; the report says how many it left out, with C10, still incomplete."""
    t11, t12 = local(20, 15, 0, 0), local(20, 15, 30, 0)
    unseen = OfferSummary(agent="1002", queue="support", rang_s=9.0, rings=2, result="unknown", started_at=t12,
                          ring_started_at=t12 + 0.1, ended_at=t12 + 9.1, ended_unseen=True)
    day.save_call(CallSummary(
        pbx="default", linkedid="C11", caller="13800138000", caller_name=None, entered_at=t11, queues=("support",),
        queue="support", offers=(), answered_by="1001", answered_at=None, transferred_to=(), wait_s=None,
        rings_to_answer=None, apologise=None, talk_s=None, outcome="answered", hangup_by="caller", hangup_cause=16,
        ended_at=t11 + 60))
    day.save_call(CallSummary(
        pbx="default", linkedid="C12", caller="13800138001", caller_name=None, entered_at=t12, queues=("support",),
        queue="support", offers=(unseen,), answered_by=None, answered_at=None, transferred_to=(), wait_s=9.1,
        rings_to_answer=2, apologise=False, talk_s=None, outcome="incomplete", hangup_by=None, hangup_cause=None,
        ended_at=t12 + 9.1, ended_unseen=True))
    rows = {(r.queue, r.agent): r for r in day.ring_report(DAY, pbx="default")}
    assert table(rows.values())[:4] == table(day.ring_report(DAY, pbx="default"))[:4]
    queue, a1001, a1002 = rows["support", None], rows["support", "1001"], rows["support", "1002"]
    assert (queue.calls, queue.share_in_time, queue.asa_s) == (5, 0.4, pytest.approx(12.1)), "figures unchanged"
    assert (queue.calls_left_out, queue.offers_left_out) == (3, 1)  # C10, C11, C12; C12's offer
    assert (a1001.calls, a1001.calls_left_out) == (1, 1)  # C11 is his, with no wait to judge
    assert (a1002.offers, a1002.offers_left_out) == (2, 1)
    stored = day.get_call("default", "C11")
    assert (stored.wait_s, stored.rings_to_answer, stored.apologise, stored.answered_by) == (None, None, None, "1001")
    assert day.get_call("default", "C12").offers[0].ended_unseen
