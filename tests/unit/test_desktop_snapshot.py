"""The board's data: agents' states from real captures, masking of every number, last calls."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from telephony.ami.capture import read_capture
from telephony.bus import EventBus
from telephony.live.model import LiveModel
from telephony.replay import received_messages
from telephony.desktop.snapshot import FinishedCalls, finished_row, masked, snapshot
from tests.conftest import capture_path


def play(name: str, model: LiveModel, bus: EventBus | None = None, *, until: float | None = None,
         base: float = 0.0) -> None:
    """Feed a capture's messages (those received by ``until`` s) to ``model`` at ``base + t``."""
    for t, message in received_messages(read_capture(capture_path(name))):
        if until is not None and t > until:
            break
        events = model.apply(message, base + t)
        if bus is not None:
            bus.publish_all(events)


def test_capture_08_one_agent_talks_while_the_other_rings_and_the_ring_count_follows_time():
    model = LiveModel()
    play("08-", model, until=3.0)
    # B joined and 1002 started ringing at ~1.23 s: ring 1 until 6.43 s, ring 2 after
    for now, ring in ((3.0, 1), (6.4, 1), (6.5, 2), (11.5, 3)):
        agents = {a["agent"]: a for a in snapshot(model, now, mask_numbers=True)["agents"]}
        assert (agents["1001"]["state"], agents["1002"]["state"], agents["1002"]["ring"]) == ("talking", "ringing", ring)
    board = snapshot(model, 3.0, mask_numbers=True)
    talking, ringing = board["calls"]
    assert (talking["caller"], talking["caller_name"], talking["agent"]) == ("138****1111", "Zhou Jie", "1001")
    assert (ringing["caller"], ringing["state"], ringing["ringing"]) == ("138****2222", "ringing", [{"agent": "1002", "ring": 1}])
    assert agents["1001"]["linkedid"] == talking["linkedid"]


def test_unmasked_board_keeps_the_numbers_for_signed_in_users():
    model = LiveModel()
    play("08-", model, until=3.0)
    board = snapshot(model, 3.0, mask_numbers=False)
    assert [c["caller"] for c in board["calls"]] == ["13800001111", "13800002222"]


def test_pause_with_its_reason_and_a_pause_in_one_queue_only():
    model = LiveModel()
    play("09-", model, until=0.6)  # 1001 paused in all queues with "午休 lunch"
    agents = {a["agent"]: a for a in snapshot(model, 1.0, mask_numbers=True)["agents"]}
    assert (agents["1001"]["state"], agents["1001"]["reason"], agents["1001"]["paused"]) == ("paused", "午休 lunch", True)

    play("09-", model := LiveModel(), until=2.5)  # unpaused at 2.0 s
    agents = {a["agent"]: a for a in snapshot(model, 2.5, mask_numbers=True)["agents"]}
    # 09 has no QueueMemberStatus: the device state comes from QueueMemberPause's Status (1: not in use)
    assert (agents["1001"]["state"], agents["1001"]["paused"], agents["1001"]["reason"]) == ("ready", False, "")

    model = LiveModel()
    play("20-", model, until=20.0)  # app_queue auto-paused 1001 in "autopause" only at 15.1 s
    rows = {a["agent"]: a for a in snapshot(model, 20.0, mask_numbers=True)["agents"]}
    assert (rows["1001"]["state"], rows["1001"]["reason"]) == ("paused", "Auto-Pause")
    assert (rows["1001"]["queues"], rows["1001"]["paused_in"]) == (["autopause", "guard", "support"], ["autopause"])
    assert rows["1002"]["state"] == "talking"
    play("20-", model := LiveModel())  # unpaused at 23.2 s
    assert {a["agent"]: a["state"] for a in snapshot(model, 30.0, mask_numbers=True)["agents"]} == \
        {"1001": "ready", "1002": "ready"}


def test_an_unregistered_agent_is_offline_and_comes_back_ready():
    model = LiveModel()
    play("10-", model, until=5.0)
    agents = {a["agent"]: a["state"] for a in snapshot(model, 5.0, mask_numbers=True)["agents"]}
    assert set(agents.values()) == {"offline"}
    play("10-", model := LiveModel())
    agents = {a["agent"]: a["state"] for a in snapshot(model, 30.0, mask_numbers=True)["agents"]}
    assert set(agents.values()) == {"ready"}


def test_masking_reaches_every_number_and_spares_names_and_extensions():
    data = {
        "caller": "13800138000",
        "caller_name": "张三",
        "call": {"caller": "8613912345678", "caller_name": "+86 139 1234 5678", "transferred_to": ["1003", "13700001111"],
                 "offers": [{"agent": "1001"}]},
        "to": "02155556666",
        "agent": "1001",
        "list": [{"caller": "1002"}, {"caller": None}],
    }
    out = masked(data)
    assert out["caller"] == "138****8000" and out["caller_name"] == "张三"
    assert out["call"]["caller"] == "861******5678"
    assert out["call"]["caller_name"].endswith("5678") and "1234" not in out["call"]["caller_name"]
    assert out["call"]["transferred_to"] == ["1003", "137****1111"]
    assert out["to"] == "021****6666" and out["agent"] == "1001"
    assert out["list"] == [{"caller": "1002"}, {"caller": None}]
    assert data["caller"] == "13800138000"  # a copy: the live data is untouched


@pytest.mark.parametrize("name", ["13800138000", "+8613800138000", "138-0013-8000", "(010) 5555 6666"])
def test_a_caller_name_that_is_really_a_number_is_masked(name):
    shown = masked({"caller_name": name})["caller_name"]
    assert "*" in shown and shown != name


def summary_like(linkedid: str, entered: float, ended: float, **fields):
    values = dict(linkedid=linkedid, caller="13800138000", caller_name="张三", direction="inbound", queue="support",
                  answered_by="1001", rings_to_answer=1, wait_s=4.0, talk_s=5.0, outcome="answered",
                  entered_at=entered, ended_at=ended)
    values.update(fields)
    return SimpleNamespace(**values)


def test_finished_rows_take_epoch_seconds_or_stored_datetimes_alike():
    at = datetime(2026, 11, 22, 17, 2, 45, tzinfo=timezone.utc)
    stored = finished_row(summary_like("a", at, at))
    live = finished_row(summary_like("a", at.timestamp(), at.timestamp()))
    assert stored == live and stored["entered_at"] == at.timestamp()


def test_finished_calls_keep_the_last_that_ended_shown_by_arrival_and_merged_once_with_the_store():
    recent = FinishedCalls(limit=3)
    for n in range(5):
        recent.add(finished_row(summary_like(f"live-{n}", 100.0 + n, 110.0 + n)))
    assert [r["linkedid"] for r in recent.rows()] == ["live-4", "live-3", "live-2"]
    # a long call that came in first ends last: it stays (it ended most recently) in its arrival place
    recent.add(finished_row(summary_like("long", 90.0, 300.0)))
    assert [r["linkedid"] for r in recent.rows()] == ["live-4", "live-3", "long"]
    recent.add(finished_row(summary_like("live-3", 103.0, 120.0, outcome="abandoned")))  # a corrected summary
    assert [(r["linkedid"], r["outcome"]) for r in recent.rows()] == [("live-4", "answered"), ("live-3", "abandoned"),
                                                                       ("long", "answered")]
    stored = [finished_row(summary_like("live-3", 103.0, 113.0)), finished_row(summary_like("old", 95.0, 119.0)),
              finished_row(summary_like("older", 50.0, 60.0))]
    assert [(r["linkedid"], r["outcome"]) for r in recent.merged(stored)] == [
        ("live-4", "answered"), ("live-3", "abandoned"), ("old", "answered")]


def test_how_long_an_agent_has_been_paused_when_its_beginning_was_seen():
    from telephony.desktop.i18n import Catalog
    from telephony.desktop.render import agents as agent_rows

    model = LiveModel()
    play("20-", model, until=20.0)  # app_queue auto-paused 1001 at 15.1 s
    row = {a["agent"]: a for a in snapshot(model, 20.0, mask_numbers=True)["agents"]}["1001"]
    since = row["paused_since"]
    assert since == pytest.approx(15.1, abs=0.1)
    html = agent_rows(Catalog("zh-CN"), [row], now=since + 65.0)
    assert f'<span class="dur" data-since="{since:.3f}">1:05</span>' in html


def test_a_pause_found_at_start_has_no_length_nobody_saw_it_begin():
    from tests.amiscript import Pbx

    model = LiveModel()
    model.apply(Pbx().member_status("support", "1001", paused=True, reason="午休"), 100.0)  # first news of him
    row = {a["agent"]: a for a in snapshot(model, 200.0, mask_numbers=True)["agents"]}["1001"]
    assert (row["state"], row["reason"], row["paused_since"]) == ("paused", "午休", None)
    model.apply(Pbx().pause("support", "1001", False), 210.0)
    model.apply(Pbx().pause("support", "1001", True, "培训"), 220.0)  # this one was seen beginning
    row = {a["agent"]: a for a in snapshot(model, 230.0, mask_numbers=True)["agents"]}["1001"]
    assert (row["reason"], row["paused_since"]) == ("培训", 220.0)
