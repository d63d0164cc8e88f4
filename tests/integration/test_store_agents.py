"""Agent facts (misses, pauses) and supervisor alerts, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from telephony.store.model import AlertRow, as_utc

AT = 1_795_366_981.118


def test_recording_the_same_fact_twice_stores_one_row(sync_store):
    assert sync_store.record_agent_event("default", "1001", "miss", AT, "guard", queue="guard",
                                         linkedid="1795366966.0", reason="rang 3 times")
    assert not sync_store.record_agent_event("default", "1001", "miss", AT, "guard", queue="guard",
                                             linkedid="1795366966.0", reason="rang 3 times")
    # The same moment given as a datetime is the same fact; the first recording's details stay.
    assert not sync_store.record_agent_event("default", "1001", "miss", as_utc(AT), "supervisor", queue="guard")
    [event] = sync_store.agent_events("default")
    assert (event.agent, event.queue, event.kind, event.at, event.linkedid, event.reason, event.source) == \
        ("1001", "guard", "miss", as_utc(AT), "1795366966.0", "rang 3 times", "guard")


def test_a_pause_in_all_queues_is_one_fact_too(sync_store):
    """queue NULL means all queues; NULLs do not collide in a unique constraint, the fact key does."""
    for _ in range(2):
        sync_store.record_agent_event("default", "1001", "pause", AT, "guard", reason="振铃未接")
    assert [(e.queue, e.reason) for e in sync_store.agent_events("default")] == [(None, "振铃未接")]


def test_facts_that_differ_in_any_part_of_their_identity_are_all_kept(sync_store):
    sync_store.record_agent_event("default", "1001", "pause", AT, "guard")
    assert sync_store.record_agent_event("default", "1001", "pause", AT, "asterisk", queue="support")
    assert sync_store.record_agent_event("default", "1001", "unpause", AT, "agent")
    assert sync_store.record_agent_event("default", "1002", "pause", AT, "guard")
    assert sync_store.record_agent_event("default", "1001", "pause", AT + 0.001, "guard")
    assert sync_store.record_agent_event("south", "1001", "pause", AT, "guard")
    assert len(sync_store.agent_events("default")) == 5
    assert len(sync_store.agent_events("south")) == 1


def test_agent_events_in_time_order_filtered_by_agent_and_interval(sync_store):
    for offset, agent, kind in [(30, "1001", "unpause"), (0, "1001", "miss"), (10, "1002", "miss"),
                                (20, "1001", "pause")]:
        sync_store.record_agent_event("default", agent, kind, AT + offset, "guard")
    assert [(e.agent, e.kind) for e in sync_store.agent_events("default")] == \
        [("1001", "miss"), ("1002", "miss"), ("1001", "pause"), ("1001", "unpause")]
    assert [e.kind for e in sync_store.agent_events("default", agent="1001", since=AT + 0.001, until=AT + 30)] == \
        ["pause"]


def test_unknown_kind_or_source_is_refused(sync_store):
    with pytest.raises(ValueError, match="kind"):
        sync_store.record_agent_event("default", "1001", "nap", AT, "guard")
    with pytest.raises(ValueError, match="source"):
        sync_store.record_agent_event("default", "1001", "pause", AT, "boss")
    with pytest.raises(ValueError, match="naive"):
        sync_store.record_agent_event("default", "1001", "pause", datetime(2026, 11, 29, 8, 0), "guard")
    assert sync_store.agent_events("default") == []


def test_alerts_stay_open_until_acknowledged(sync_store, store_clock):
    first = sync_store.record_alert("default", AT, "miss", agent="1001", queue="guard", linkedid="1795366966.0",
                                    caller_masked="138****2222", detail={"rings": 3, "说明": "振铃未接"})
    second = sync_store.record_alert("default", AT + 60, "long_wait", queue="support", detail={"wait_s": 95.5})
    sync_store.record_alert("south", AT, "pause", agent="1002")
    assert first != second
    newest, oldest = sync_store.open_alerts("default")
    assert (newest.id, newest.kind, newest.detail, newest.agent) == (second, "long_wait", {"wait_s": 95.5}, None)
    assert (oldest.id, oldest.at, oldest.caller_masked, oldest.detail, oldest.acknowledged_at) == \
        (first, as_utc(AT), "138****2222", {"rings": 3, "说明": "振铃未接"}, None)

    assert sync_store.acknowledge_alert(first)
    assert not sync_store.acknowledge_alert(first)
    assert not sync_store.acknowledge_alert(first + second + 1000)
    assert [a.id for a in sync_store.open_alerts("default")] == [second]
    assert [a.kind for a in sync_store.open_alerts("south")] == ["pause"]


def test_recording_the_same_alert_again_returns_the_stored_one(sync_store):
    """A retry after a write that had in fact succeeded must not raise a second alert."""
    first = sync_store.record_alert("default", AT, "pause", agent="1001", detail={"misses": 2})
    assert sync_store.record_alert("default", AT, "pause", agent="1001", detail={"misses": 3}) == first
    other_agent = sync_store.record_alert("default", AT, "pause", agent="1002")
    other_pbx = sync_store.record_alert("south", AT, "pause", agent="1001")
    assert len({first, other_agent, other_pbx}) == 3
    assert [(a.id, a.detail) for a in sync_store.open_alerts("default") if a.agent == "1001"] == \
        [(first, {"misses": 2})]


def test_alert_acknowledgement_time_is_the_stores_clock(sync_store, store_clock):
    alert = sync_store.record_alert("default", AT, "miss")
    store_clock.advance(90)
    sync_store.acknowledge_alert(alert)
    acknowledged_at = sync_store.run(lambda session: session.get(AlertRow, alert).acknowledged_at)
    assert acknowledged_at == datetime.fromtimestamp(store_clock.seconds(), tz=timezone.utc)


def test_a_pause_change_is_credited_to_the_request_made_just_before_it(sync_store, store_clock):
    """Asterisk does not say who unpaused an agent; `telephony agent unpause` records the request first."""
    asked_at = store_clock.seconds()
    request = sync_store.request_pause_change("default", "1001", paused=False, by="agent")
    sync_store.record_agent_event("default", "1001", "unpause", asked_at + 0.02, None, queue="support")
    sync_store.record_agent_event("default", "1001", "unpause", asked_at + 0.03, None, queue="sales")
    # no request for a pause, nor for 1002, nor long before: nobody known, so asterisk
    sync_store.record_agent_event("default", "1001", "pause", asked_at + 1, None, queue="support")
    sync_store.record_agent_event("default", "1002", "unpause", asked_at + 1, None, queue="support")
    sync_store.record_agent_event("default", "1001", "unpause", asked_at + 120, None, queue="support")
    sync_store.record_agent_event("default", "1001", "unpause", asked_at + 121, None, queue="vip", unseen=True)
    facts = [(e.agent, e.kind, e.queue, e.source, e.unseen) for e in sync_store.agent_events("default")]
    assert facts == [("1001", "unpause", "support", "agent", False), ("1001", "unpause", "sales", "agent", False),
                     ("1001", "pause", "support", "asterisk", False), ("1002", "unpause", "support", "asterisk", False),
                     ("1001", "unpause", "support", "asterisk", False), ("1001", "unpause", "vip", "asterisk", True)]
    sync_store.forget_pause_request(request)
    sync_store.record_agent_event("default", "1001", "unpause", asked_at + 0.04, None, queue="guard")
    (guard,) = [e for e in sync_store.agent_events("default", agent="1001") if e.queue == "guard"]
    assert guard.source == "asterisk", "a refused request credits nothing"
