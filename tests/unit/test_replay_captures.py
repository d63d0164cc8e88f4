"""Every real capture replays to what its README says happened, field by field.

The expected values are the facts of tests/fixtures/ami-real/README.md's table (times rounded to
0.1 s as ``telephony replay`` prints them); 21-busy-hour is held against its SIP-side truth file.
"""
from __future__ import annotations

import json

import pytest

from telephony.replay import call_as_json, calls_from_capture
from tests.conftest import CAPTURES, capture_path


def replay(name: str) -> list[dict]:
    return [call_as_json(call, t0) for call, t0 in calls_from_capture(capture_path(name))]


def offers(call: dict) -> list[tuple]:
    return [(o["agent"], o["queue"], o["rang_s"], o["rings"], o["result"]) for o in call["offers"]]


def by_caller(calls: list[dict]) -> dict[str, dict]:
    return {c["caller"]: c for c in calls}


@pytest.mark.parametrize("name", ["01-", "09-", "10-", "14-", "15-"])
def test_captures_without_calls_print_nothing(name):
    assert replay(name) == []


def test_02_answered_at_four_seconds():
    (call,) = replay("02-")
    assert call["caller"] == "13800138000" and call["caller_name"] == "张三"
    assert call["queues"] == ["support"] and call["queue"] == "support"
    assert offers(call) == [("1001", "support", 4.0, 1, "answered")]
    assert (call["answered_by"], call["wait_s"], call["rings_to_answer"], call["talk_s"]) == ("1001", 4.0, 1, 5.0)
    assert (call["outcome"], call["hangup_by"], call["hangup_cause"]) == ("answered", "caller", 16)
    assert call["entered_at"] == "2026-11-22T17:02:45.116+00:00" and call["t0_s"] == 0.1
    assert call["apologise"] is False and call["transferred_to"] == []


def test_03_ring_no_answer_then_next_agent():
    (call,) = replay("03-")
    assert offers(call) == [("1001", "support", 15.0, 3, "no_answer"), ("1002", "support", 3.0, 1, "answered")]
    assert (call["answered_by"], call["wait_s"], call["rings_to_answer"], call["talk_s"]) == ("1002", 20.0, 4, 5.0)
    assert call["outcome"] == "answered"


def test_04_redirect_to_sales_is_one_call_in_two_queues():
    (call,) = replay("04-")
    assert call["queues"] == ["support", "sales"] and call["queue"] == "sales"
    assert offers(call) == [("1001", "support", 5.0, 1, "cancelled"), ("1003", "sales", 3.0, 1, "answered")]
    assert (call["answered_by"], call["wait_s"], call["talk_s"], call["outcome"]) == ("1003", 8.0, 5.0, "answered")


def test_05_caller_abandons_while_ringing():
    (call,) = replay("05-")
    assert offers(call) == [("1001", "support", 8.0, 2, "cancelled")]
    assert (call["outcome"], call["answered_by"], call["wait_s"], call["talk_s"]) == ("abandoned", None, 8.0, None)
    assert (call["hangup_by"], call["hangup_cause"]) == ("caller", 127)


def test_06_originate_callbacks_answered_no_answer_busy_and_no_channel():
    calls = by_caller(replay("06-"))
    assert set(calls) == {"13900139000", "13900139001", "13900139002"}, "(d) made no channel: not a call"
    a, b, c = calls["13900139000"], calls["13900139001"], calls["13900139002"]
    assert all(x["direction"] == "outbound" for x in (a, b, c))
    assert offers(a) == [("1002", None, 3.0, 1, "answered")]
    assert (a["outcome"], a["answered_by"], a["talk_s"], a["hangup_by"]) == ("answered", "1002", 6.0, "agent")
    assert offers(b) == [("1002", None, 10.0, 2, "no_answer")]
    assert (b["outcome"], b["hangup_cause"]) == ("failed", 19)
    assert offers(c) == [("1003", None, 0.0, 0, "rejected")], "a phone that rejects at once never rang"
    assert (c["outcome"], c["hangup_cause"]) == ("failed", 17)


def test_07_and_22_recorded_calls():
    (call,) = replay("07-")
    assert (call["caller"], call["answered_by"], call["wait_s"], call["talk_s"]) == ("13500003333", "1001", 2.0, 12.0)
    (call,) = replay("22-")
    assert (call["caller_name"], call["answered_by"], call["wait_s"], call["talk_s"]) == ("何丽", "1001", 2.0, 14.0)


def test_08_one_talking_one_abandoned():
    calls = by_caller(replay("08-"))
    a, b = calls["13800001111"], calls["13800002222"]
    assert (a["answered_by"], a["wait_s"], a["outcome"]) == ("1001", 1.0, "answered")
    assert offers(b) == [("1002", "support", 10.0, 2, "cancelled")]
    assert (b["outcome"], b["wait_s"]) == ("abandoned", 10.0)


def test_13_supervisor_spy_is_not_a_customer_call():
    calls = replay("13-")
    customer = [c for c in calls if c["direction"] == "inbound"]
    spy = [c for c in calls if c["direction"] == "supervision"]
    assert len(customer) == 1 and len(spy) == 1
    assert (customer[0]["answered_by"], customer[0]["talk_s"]) == ("1001", 14.0)
    assert spy[0]["answered_by"] == "1003"


def test_16_guard_hangup_moves_the_call_to_the_next_agent_at_once():
    (call,) = replay("16-")
    assert offers(call) == [("1001", "guard", 15.0, 3, "no_answer"), ("1002", "guard", 3.0, 1, "answered")]
    assert (call["wait_s"], call["rings_to_answer"], call["talk_s"], call["caller_name"]) == (18.0, 4, 5.0, "钱七")


def test_17_races():
    calls = by_caller(replay("17-"))
    a, b = calls["13866661111"], calls["13866662222"]
    assert offers(a) == [("1001", "support", 5.0, 1, "cancelled")]
    assert (a["outcome"], a["hangup_cause"]) == ("abandoned", 127)
    assert (b["answered_by"], b["wait_s"], b["talk_s"]) == ("1001", 3.0, 1.0)
    assert b["hangup_by"] == "system", "an AMI Hangup of the answered leg ended the call, not a person"
    assert len(calls) == 2, "(c) hung up nothing"


def test_18_paused_agent_is_skipped():
    (call,) = replay("18-")
    assert offers(call) == [("1002", "support", 2.0, 1, "answered")]
    assert (call["wait_s"], call["talk_s"]) == (2.0, 4.0)


def test_20_native_autopause():
    (call,) = replay("20-")
    assert offers(call) == [("1001", "autopause", 15.0, 3, "no_answer"), ("1002", "autopause", 2.0, 1, "answered")]
    assert (call["wait_s"], call["talk_s"]) == (19.0, 3.0)


def test_23_transfers_redirect_attended_blind():
    calls = by_caller(replay("23-"))
    a, b, c = calls["13700005555"], calls["13700006666"], calls["13700007777"]
    assert (a["answered_by"], a["transferred_to"], a["talk_s"]) == ("1001", ["1003"], 8.0)
    assert offers(a) == [("1001", "support", 2.0, 1, "answered"), ("1003", None, 2.0, 1, "answered")]
    assert (b["answered_by"], b["transferred_to"], b["talk_s"], b["caller_name"]) == ("1002", ["1003"], 13.0, "邓超")
    assert offers(b) == [("1002", "support", 2.0, 1, "answered")], "the consult leg is the agent's call, not an offer"
    assert (c["answered_by"], c["transferred_to"], c["talk_s"]) == ("1001", ["1003"], 8.0)
    assert all(x["outcome"] == "answered" and x["linkedid"] for x in (a, b, c))


def test_24_voicemail():
    (call,) = replay("24-")
    assert (call["outcome"], call["offers"], call["answered_by"]) == ("voicemail", [], None)
    assert (call["wait_s"], call["hangup_by"], call["hangup_cause"]) == (20.3, "caller", 0)


def test_21_busy_hour_matches_the_sip_truth():
    truth = json.loads((CAPTURES / "21-busy-hour.truth.json").read_text(encoding="utf-8"))["calls"]
    calls = by_caller(replay("21-"))
    assert len(calls) == len(truth) == 40
    for t in truth:
        call = calls[t["caller_num"]]
        assert call["outcome"] == t["outcome"], t["caller_num"]
        assert call["caller_name"] == t["caller_name"]
        assert call["queue"] == t["queue"]
        assert abs(call["wait_s"] - t["wait_s"]) <= 1.5, t["caller_num"]
        if t["outcome"] == "answered":
            assert call["answered_by"] == t["agent"]
            assert abs(call["talk_s"] - t["talk_s"]) <= 1.5
        rang = [(o["agent"], o["result"]) for o in call["offers"]]
        sip = [(a["agent"], "answered" if a["outcome"] == "answered" else None) for a in t["agent_attempts"]]
        assert [a for a, _ in rang] == [a for a, _ in sip], "every INVITE an agent phone got is an offer"
        assert call["apologise"] == (call["outcome"] == "answered" and call["rings_to_answer"] >= 5)
    declined = [o for c in calls.values() for o in c["offers"] if o["result"] == "rejected"]
    assert len(declined) == 1 and declined[0]["agent"] == "1003" and declined[0]["rings"] == 3
    assert sum(1 for c in calls.values() if c["apologise"]) > 0
