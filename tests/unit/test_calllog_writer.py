"""The call-log writer stores calls, misses, pauses and alerts, and loses nothing when the store fails:
writes of one call or agent keep their order, a stall is said, a stop is bounded and what is not
stored goes to the journal, which the next start stores first."""
from __future__ import annotations

import dataclasses
import inspect
import logging

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from telephony.bus import EventBus
from telephony.calllog.journal import Journal
from telephony.calllog.writer import CallLogWriter
from telephony.live import events as ev
from telephony.replay import calls_from_capture
from telephony.service import InOrder
from telephony.store.facade import Store
from tests.conftest import capture_path


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
        return self._write("call", call.linkedid, call.outcome)

    def record_agent_event(self, pbx, agent, kind, at, source, *, queue=None, linkedid=None, reason=None,
                           unseen=False):
        return self._write(kind, agent, queue, source, reason, linkedid, unseen)

    def record_alert(self, pbx, at, kind, **fields):
        return self._write("alert", kind, fields["agent"], fields["caller_masked"])


class HeldStore(FlakyStore):
    """Every write waits until the test fires it: a database that is slow, or hung."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: list[tuple[tuple, Deferred]] = []

    def _write(self, *record):
        waiting: Deferred = Deferred()
        self.in_flight.append((record, waiting))
        return waiting

    def finish(self, index: int = 0) -> None:
        record, waiting = self.in_flight.pop(index)
        self.written.append(record)
        waiting.callback(None)


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


def pause(agent, paused, reason, queue="support", seen="announced", at=1.0):
    return ev.AgentPaused("default", at, agent=agent, interface=f"PJSIP/{agent}", queue=queue, paused=paused,
                          reason=reason, seen=seen)


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
    bus.publish(pause("1003", False, "", seen="resync"))
    bus.publish(pause("1004", False, "", seen="status"))
    bus.publish(ev.SupervisorAlert("default", 4.0, kind="miss", agent="1001", queue="support", linkedid="L1",
                                   caller="138****8000", since=1.0, detail="3 rings unanswered"))
    assert store.written == [
        ("call", call.linkedid, "answered"),
        ("miss", "1001", "support", "guard", None, "L1", False),
        ("pause", "1001", "support", "guard", "振铃未接", None, False),
        # announced by Asterisk, asked for by somebody: the store credits the request, else asterisk
        ("unpause", "1001", "support", None, None, None, False),
        ("pause", "1002", "autopause", "asterisk", "Auto-Pause", None, False),
        ("pause", "1003", "support", None, "午休", None, False),
        # found after Asterisk restarted, or only in a status: nobody is known to have done it
        ("unpause", "1003", "support", "asterisk", None, None, True),
        ("unpause", "1004", "support", "asterisk", None, None, False),
        ("alert", "miss", "1001", "138****8000"),
    ]
    assert writer.backlog == 0


def test_failed_writes_are_retried_in_order_until_the_store_is_back(caplog):
    store = FlakyStore(failures=3)
    clock, bus, writer = make(store)
    for n in range(5):
        bus.publish(pause(f"100{n}", True, "午休"))
    assert store.written == [] and writer.backlog == 5
    assert "not stored (ConnectionError: database is away)" in caplog.text
    clock.advance(1)
    clock.advance(2)
    assert store.written == []
    clock.advance(5)
    assert [w[1] for w in store.written] == ["1000", "1001", "1002", "1003", "1004"]
    assert writer.backlog == 0 and clock.getDelayedCalls() == []


def test_writes_of_one_agent_or_call_wait_for_each_other_and_others_go_side_by_side():
    store = HeldStore()
    clock, bus, writer = make(store, max_in_flight=4)
    bus.publish(pause("1001", True, "午休", at=1.0))
    bus.publish(pause("1001", False, "", at=2.0))
    bus.publish(pause("1002", True, "午休", at=3.0))
    (call, _), = calls_from_capture(capture_path("02-"))
    bus.publish(ev.CallEnded("default", 4.0, call=call))
    bus.publish(ev.CallEnded("default", 5.0, call=dataclasses.replace(call, outcome="incomplete")))
    started = [record[:2] for record, _ in store.in_flight]
    assert started == [("pause", "1001"), ("pause", "1002"), ("call", call.linkedid)], \
        "the unpause waits for the pause, the second summary for the first"
    store.finish(2)  # the first summary is stored: the second may go
    store.finish(0)  # the pause is stored: the unpause may go
    assert [record[:3] for record, _ in store.in_flight] == [("pause", "1002", "support"),
                                                             ("call", call.linkedid, "incomplete"),
                                                             ("unpause", "1001", "support")]
    while store.in_flight:
        store.finish()
    calls = [w for w in store.written if w[0] == "call"]
    assert [c[2] for c in calls] == ["answered", "incomplete"], "the later summary is stored last"


def test_a_stalled_store_is_reported_while_it_lasts(caplog):
    store = HeldStore()
    clock, bus, writer = make(store, stall_after_s=10.0)
    bus.publish(pause("1001", True, "午休"))
    with caplog.at_level(logging.WARNING):
        clock.advance(9.9)
        assert "has not answered" not in caplog.text
        clock.advance(0.1)
        assert "call log: the store has not answered for 10.0 s; 1 write(s) waiting" in caplog.text
        clock.advance(60)
        assert "has not answered for 70.0 s" in caplog.text
    store.finish()
    assert clock.getDelayedCalls() == []


def test_without_a_journal_the_oldest_write_beyond_the_bound_is_dropped_loudly(caplog):
    store = FlakyStore(failures=100)
    clock, bus, writer = make(store, max_pending=3)
    with caplog.at_level(logging.ERROR):
        for n in range(5):
            bus.publish(pause(f"100{n}", True, "午休"))
    assert writer.backlog == 3
    assert "dropped the oldest: pause default/1001" in caplog.text


def test_beyond_the_bound_writes_go_to_the_journal_and_come_back_in_order(tmp_path, caplog):
    store = FlakyStore(failures=2)
    journal = Journal(tmp_path / "journal.jsonl")
    clock, bus, writer = make(store, max_pending=3, journal=journal)
    for n in range(8):
        bus.publish(pause("1001", n % 2 == 0, "午休" if n % 2 == 0 else "", at=float(n)))
    assert "the next ones go to" in caplog.text
    clock.advance(0)  # the spilled writes of a reactor turn are appended together
    assert writer.backlog == 3 and journal.count() == 5
    clock.advance(1)
    clock.advance(2)
    assert [w[0] for w in store.written] == ["pause", "unpause"] * 4, "in the order they happened"
    assert not journal.path.exists() and writer.backlog == 0


def test_stop_is_bounded_and_what_is_not_stored_is_stored_first_at_the_next_start(tmp_path, caplog):
    hung = HeldStore()
    journal_path = tmp_path / "journal.jsonl"
    clock, bus = Clock(), EventBus()
    writer = CallLogWriter(hung, bus, clock, guard_reasons=lambda: set(), journal=Journal(journal_path),
                           max_in_flight=1, stop_timeout_s=5.0)
    root = InOrder()
    writer.setServiceParent(root)
    root.startService()
    (call, _), = calls_from_capture(capture_path("02-"))
    bus.publish(ev.CallEnded("default", 1.0, call=call))
    bus.publish(pause("1001", True, "午休", at=2.0))
    bus.publish(pause("1001", False, "", at=3.0))
    stopped = root.stopService()
    clock.advance(4.9)
    assert not stopped.called, "it waits for the store a bounded time"
    with caplog.at_level(logging.ERROR):
        clock.advance(0.1)
    assert stopped.called
    assert f"call log: 3 write(s) not stored within 5 s; kept in {journal_path}" in caplog.text
    assert oct(journal_path.stat().st_mode & 0o777) == "0o600", "it holds numbers and names"

    store = FlakyStore()
    clock, bus, writer = make(store, journal=Journal(journal_path))
    bus.publish(pause("1002", True, "午休", at=9.0))
    assert store.written == [("call", call.linkedid, "answered"),
                             ("pause", "1001", "support", None, "午休", None, False),
                             ("unpause", "1001", "support", None, None, None, False),
                             ("pause", "1002", "support", None, "午休", None, False)]
    assert not journal_path.exists()


def test_a_write_failing_while_stopping_ends_the_stop_at_once_and_is_journaled(tmp_path, caplog):
    store = HeldStore()
    clock, bus = Clock(), EventBus()
    journal = Journal(tmp_path / "journal.jsonl")
    writer = CallLogWriter(store, bus, clock, guard_reasons=lambda: set(), journal=journal)
    root = InOrder()
    writer.setServiceParent(root)
    root.startService()
    bus.publish(pause("1001", True, "午休"))
    stopped = root.stopService()
    assert not stopped.called, "the writer waits for the write under way"
    (_, waiting), = store.in_flight
    waiting.errback(TimeoutError("database is locked"))
    assert stopped.called, "no retry on the way down"
    assert journal.count() == 1
    assert "pause default/1001 not stored while stopping" in caplog.text


class FlakyJournal(Journal):
    """A journal on a disk that is full until ``full`` is set to False."""

    full = True

    def append(self, writes):
        if self.full:
            raise OSError(28, "No space left on device")
        return super().append(writes)

    def take(self, limit):
        if self.full:
            raise OSError(28, "No space left on device")
        return super().take(limit)


def test_a_journal_that_cannot_be_written_is_said_tried_again_and_nothing_passes_another(tmp_path, caplog):
    """Found in review: an error of the journal's disk wedged the writer for good."""
    store = FlakyStore(failures=1)
    journal = FlakyJournal(tmp_path / "journal.jsonl")
    clock, bus, writer = make(store, max_pending=2, journal=journal)
    for n in range(6):
        bus.publish(pause("1001", n % 2 == 0, "午休" if n % 2 == 0 else "", at=float(n)))
    clock.advance(0)
    assert "cannot be written (No space left on device)" in caplog.text
    journal.full = False
    clock.advance(1)
    clock.advance(1)
    assert [w[0] for w in store.written] == ["pause", "unpause"] * 3, "in the order they happened"
    assert writer.backlog == 0 and not journal.path.exists()


def test_a_writer_stopped_and_started_again_retries_what_failed(tmp_path):
    """Found in review: a writer started again after a stop never retried a failed write."""
    store = FlakyStore(failures=3)  # fails at first, while stopping, and once more after the start
    journal_path = tmp_path / "journal.jsonl"
    clock, bus, writer = make(store, journal=Journal(journal_path))
    bus.publish(pause("1001", True, "午休"))
    assert writer.stopService().called and journal_path.exists()
    writer.journal = Journal(journal_path)
    writer.startService()
    assert store.written == [] and store.failures == 0
    clock.advance(1)
    assert [w[:2] for w in store.written] == [("pause", "1001")]


def test_a_full_journal_disk_does_not_keep_writes_from_a_store_that_works(tmp_path):
    """Found in review: with the journal's disk full, every write after a spill began waited for the
    disk, though the database was fine, and the oldest were dropped."""
    store = FlakyStore(failures=1)  # one hiccup fills memory and starts the spill
    journal = FlakyJournal(tmp_path / "journal.jsonl")
    clock, bus, writer = make(store, max_pending=2, journal=journal)
    for n in range(4):
        bus.publish(pause("1001", n % 2 == 0, "午休" if n % 2 == 0 else "", at=float(n)))
    clock.advance(0)
    clock.advance(1)
    for n in range(4, 10):
        bus.publish(pause(f"20{n:02d}", True, "午休", at=float(n)))
        clock.advance(1)
    assert len(store.written) == 10
    assert [w[0] for w in store.written[:4]] == ["pause", "unpause"] * 2, "1001's facts in order"


def test_what_neither_the_store_nor_the_journal_takes_at_stop_is_said_lost(tmp_path, caplog):
    store = FlakyStore(failures=100)
    journal = FlakyJournal(tmp_path / "journal.jsonl")
    clock, bus, writer = make(store, max_pending=1, journal=journal, stop_timeout_s=1.0)
    bus.publish(pause("1001", True, "午休", at=1.0))
    bus.publish(pause("1001", False, "", at=2.0))
    clock.advance(0)
    stopped = writer.stopService()
    clock.advance(1.0)
    assert stopped.called
    # the pause was in memory and went into the journal's rewrite; the unpause waited for an append
    assert "1 write(s) the store failed while stopping, and the journal" in caplog.text
    assert "cannot be written (No space left on device): lost: unpause default/1001" in caplog.text


class BatchStore(HeldStore):
    """A held store that takes several calls in one transaction, as the real one does."""

    def save_calls(self, summaries):
        return self._write("calls", tuple(c.linkedid for c in summaries), tuple(c.outcome for c in summaries))


def test_the_fake_batch_store_has_the_real_signature():
    assert list(inspect.signature(Store.save_calls).parameters) == list(inspect.signature(BatchStore.save_calls).parameters)


def ended(n: int, outcome: str = "answered") -> ev.CallEnded:
    (call, _), = calls_from_capture(capture_path("02-"))
    return ev.CallEnded("default", float(n), call=dataclasses.replace(call, linkedid=f"L{n}", outcome=outcome))


def test_calls_waiting_for_the_store_go_together_in_one_transaction_and_agents_apart():
    store = BatchStore()
    clock, bus, writer = make(store, max_in_flight=1)
    bus.publish(ended(0))  # alone: nothing else waits yet
    for n in range(1, 6):
        bus.publish(ended(n))
    bus.publish(pause("1001", True, "午休"))
    assert [r[0] for r, _ in store.in_flight] == ["call"]
    store.finish()
    assert [r[:2] for r, _ in store.in_flight] == [("calls", ("L1", "L2", "L3", "L4", "L5"))]
    store.finish()
    assert [r[:2] for r, _ in store.in_flight] == [("pause", "1001")]
    store.finish()
    assert writer.backlog == 0


def test_a_batch_that_fails_comes_back_whole_in_order_and_is_stored_one_by_one_then_batched_again():
    store = BatchStore()
    clock, bus, writer = make(store, max_in_flight=1)
    bus.publish(ended(0))
    for n in range(1, 4):
        bus.publish(ended(n))
    store.finish()  # L0
    (record, waiting), = store.in_flight
    store.in_flight.clear()
    waiting.errback(ConnectionError("database is away"))  # the batch L1–L3 failed
    assert writer.backlog == 3 and store.in_flight == []
    clock.advance(60)  # the retry: one at a time while the store has been failing
    assert [r[:2] for r, _ in store.in_flight] == [("call", "L1")]
    bus.publish(ended(4))
    store.finish()
    assert [r[:2] for r, _ in store.in_flight] == [("calls", ("L2", "L3", "L4"))]  # healthy again: together
    store.finish()
    stored = [linkedid for r in store.written for linkedid in ((r[1],) if r[0] == "call" else r[1])]
    assert stored == ["L0", "L1", "L2", "L3", "L4"] and writer.backlog == 0
