"""The call-log writer stores calls, misses, pauses and alerts, and loses nothing when the store fails."""
from __future__ import annotations

import inspect
import logging

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock

from telephony.bus import EventBus
from telephony.calllog.writer import CallLogWriter
from telephony.live import events as ev
from telephony.store.facade import Store
from tests.unit.test_replay_captures import capture_path
from telephony.replay import calls_from_capture


class FlakyStore:
    """Records writes; the first ``failures`` calls fail like a database that is away."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.written: list[tuple] = []

    def _write(self, *record):
        if self.failures:
            self.failures -= 1
            return fail(ConnectionError("database is away"))
        self.written.append(record)
        return succeed(None)

    def save_call(self, call):
        return self._write("call", call.linkedid)

    def record_agent_event(self, pbx, agent, kind, at, source, *, queue=None, linkedid=None, reason=None):
        return self._write(kind, agent, queue, source, reason, linkedid)

    def record_alert(self, pbx, at, kind, **fields):
        return self._write("alert", kind, fields["agent"], fields["caller_masked"])


def test_the_fake_store_has_the_real_signatures():
    for name in ("save_call", "record_agent_event", "record_alert"):
        real = inspect.signature(getattr(Store, name))
        fake = inspect.signature(getattr(FlakyStore, name))
        assert list(real.parameters)[:len(fake.parameters)] == list(fake.parameters), name


def make(store, **kw):
    clock, bus = Clock(), EventBus()
    writer = CallLogWriter(store, bus, clock, guard_reasons=lambda: {"振铃未接"}, **kw)
    writer.startService()
    return clock, bus, writer


def pause(agent, paused, reason, queue="support"):
    return ev.AgentPaused("default", 1.0, agent=agent, interface=f"PJSIP/{agent}", queue=queue, paused=paused, reason=reason)


def test_calls_misses_pauses_and_alerts_are_stored_with_their_source():
    store = FlakyStore()
    clock, bus, writer = make(store)
    (call, _), = calls_from_capture(capture_path("02-"))
    bus.publish(ev.CallEnded("default", 2.0, call=call))
    bus.publish(ev.AgentMissed("default", 3.0, linkedid="L1", offer_id="O1", agent="1001", interface="PJSIP/1001",
                               queue="support", misses_today=1, consecutive=1))
    bus.publish(pause("1001", True, "振铃未接"))
    bus.publish(pause("1001", False, ""))
    bus.publish(pause("1002", True, "Auto-Pause", queue="autopause"))
    bus.publish(pause("1003", True, "午休"))
    bus.publish(ev.SupervisorAlert("default", 4.0, kind="miss", agent="1001", queue="support", linkedid="L1",
                                   caller="138****8000", since=1.0, detail="3 rings unanswered"))
    assert store.written == [
        ("call", call.linkedid),
        ("miss", "1001", "support", "guard", None, "L1"),
        ("pause", "1001", "support", "guard", "振铃未接", None),
        ("unpause", "1001", "support", "agent", None, None),
        ("pause", "1002", "autopause", "asterisk", "Auto-Pause", None),
        ("pause", "1003", "support", "agent", "午休", None),
        ("alert", "miss", "1001", "138****8000"),
    ]
    assert writer.backlog == 0


def test_failed_writes_are_retried_in_order_until_the_store_is_back(caplog):
    store = FlakyStore(failures=3)
    clock, bus, writer = make(store)
    for n in range(5):
        bus.publish(pause(f"100{n}", True, "午休"))
    assert store.written == [] and writer.backlog == 5
    assert "not stored (database is away)" in caplog.text
    clock.advance(1)
    clock.advance(2)
    assert store.written == []
    clock.advance(5)
    assert [w[1] for w in store.written] == ["1000", "1001", "1002", "1003", "1004"]
    assert writer.backlog == 0 and clock.getDelayedCalls() == []


def test_beyond_the_bound_the_oldest_write_is_dropped_loudly(caplog):
    store = FlakyStore(failures=100)
    clock, bus, writer = make(store, max_pending=3)
    with caplog.at_level(logging.ERROR):
        for n in range(5):
            bus.publish(pause(f"100{n}", True, "午休"))
    assert writer.backlog == 3
    assert "dropped the oldest: pause default/1000/support" in caplog.text
    assert "dropped the oldest: pause default/1001/support" in caplog.text


def test_idle_fires_once_everything_is_stored_and_stopping_waits_for_it():
    store = FlakyStore(failures=1)
    clock, bus, writer = make(store)
    bus.publish(pause("1001", True, "午休"))
    idle = writer.idle()
    assert not idle.called
    clock.advance(1)
    assert idle.called and store.written
    bus.publish(pause("1002", True, "午休"))
    assert writer.stopService().called


def test_stopping_while_a_write_fails_does_not_hang_and_names_what_was_lost(caplog):
    from twisted.internet.defer import Deferred

    from telephony.service import InOrder

    class SlowStore(FlakyStore):
        def __init__(self):
            super().__init__()
            self.in_flight: list[Deferred] = []

        def record_agent_event(self, pbx, agent, kind, at, source, *, queue=None, linkedid=None, reason=None):
            self.in_flight.append(Deferred())
            return self.in_flight[-1]

    store = SlowStore()
    clock, bus = Clock(), EventBus()
    writer = CallLogWriter(store, bus, clock, guard_reasons=lambda: set())
    root = InOrder()
    writer.setServiceParent(root)
    root.startService()
    bus.publish(pause("1001", True, "午休"))
    stopped = root.stopService()
    assert not stopped.called, "the writer waits for the write under way"
    store.in_flight[0].errback(TimeoutError("database is locked"))
    assert stopped.called and len(store.in_flight) == 1, "no retry on the way down"
    assert "pause default/1001/support not stored while stopping" in caplog.text
