"""The store and the call-log writer against a real PostgreSQL that misbehaves (issue 12, items 7, 8, 11).

* A table locked by someone else: writes fail after the statement timeout instead of waiting
  silently; the stall is said; a stop ends within its bound and keeps the unwritten call in the
  journal, which the next start stores first.  Nothing in the logs names the caller.
* The database refusing connections (``ALLOW_CONNECTIONS false``) and coming back: the backlog is
  stored with the writes of one call and of one agent in the order they happened.
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
from twisted.internet import defer, reactor
from twisted.trial import unittest

from telephony.bus import EventBus
from telephony.calllog.journal import Journal
from telephony.calllog.writer import CallLogWriter
from telephony.live import events as ev
from telephony.service import InOrder
from telephony.store.facade import Store, open_store
from tests.dbfixtures import _libpq, postgres_admin, scratch_postgres
from tests.integration.test_store_calls import summary

CALLER, NAME = "13800138000", "张三"


class LogWatch(logging.Handler):
    """Everything the daemon's loggers write, formatted; ``until(text)`` fires once a line has it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._waiting: list[tuple[str, defer.Deferred]] = []
        logging.getLogger("telephony").addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        for text, waiter in [w for w in self._waiting if w[0] in line]:
            self._waiting.remove((text, waiter))
            reactor.callLater(0, waiter.callback, line)  # log lines may come from the middle of a callback

    def until(self, text: str) -> defer.Deferred:
        waiter: defer.Deferred = defer.Deferred()
        if any(text in line for line in self.lines):
            waiter.callback(None)
        else:
            self._waiting.append((text, waiter))
        return waiter

    def close(self) -> None:
        logging.getLogger("telephony").removeHandler(self)
        super().close()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class StoreFaultTests(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.url = scratch_postgres(self)
        self.logs = LogWatch()
        self.addCleanup(self.logs.close)
        scratch = tempfile.mkdtemp(prefix="telephony-faults-")
        self.addCleanup(shutil.rmtree, scratch, True)
        self.journal_path = Path(scratch) / "journal-default.jsonl"

    def daemon_store(self, **writer_kw) -> tuple[InOrder, EventBus, CallLogWriter]:
        bus = EventBus()
        store = Store(self.url, reactor=reactor, threads=4, connect_timeout_s=2.0, statement_timeout_s=0.5,
                      stop_timeout_s=1.0)
        writer = CallLogWriter(store, bus, reactor, guard_reasons=lambda: set(), journal=Journal(self.journal_path),
                               retry_delays=(0.1,), stall_after_s=0.3, stop_timeout_s=1.0, **writer_kw)
        root = InOrder()
        store.setServiceParent(root)
        writer.setServiceParent(root)
        root.startService()
        self.addCleanup(root.stopService)  # before the database is dropped (cleanups run last first)
        return root, bus, writer

    @defer.inlineCallbacks
    def test_a_locked_table_neither_hangs_the_stop_nor_loses_the_call_nor_leaks_the_caller(self):
        root, bus, writer = self.daemon_store()
        locker = psycopg.connect(_libpq(self.url))  # a transaction of its own, holding the lock
        self.addCleanup(locker.close)
        locker.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
        call = dataclasses.replace(summary(linkedid="1795366966.7"), caller=CALLER, caller_name=NAME)
        bus.publish(ev.CallEnded("default", call.ended_at, call=call))
        line = yield self.logs.until("not stored (")
        self.assertRegex(line, r"canceling statement due to (lock|statement) timeout; SQLSTATE (55P03|57014)")
        yield self.logs.until("the store has not answered for")
        started = time.monotonic()
        yield root.stopService()
        self.assertLess(time.monotonic() - started, 3.0, "a stop never waits on the database without end")
        self.assertIn(f"kept in {self.journal_path}", self.logs.text)
        self.assertEqual(Journal(self.journal_path).count(), 1)
        locker.rollback()

        root, bus, writer = self.daemon_store()
        yield writer.idle()
        yield root.stopService()
        with open_store(self.url) as store:
            stored = store.get_call("default", "1795366966.7")
        self.assertEqual((stored.caller, stored.caller_name, stored.outcome), (CALLER, NAME, "answered"))
        self.assertFalse(self.journal_path.exists())
        self.assertNotIn(CALLER, self.logs.text)
        self.assertNotIn(NAME, self.logs.text)

    @defer.inlineCallbacks
    def test_after_the_database_comes_back_each_call_and_agent_is_written_in_order(self):
        root, bus, writer = self.daemon_store(max_in_flight=4)
        name = self.url.rsplit("/", 1)[1]
        with postgres_admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        base = summary(linkedid="1795366966.9")
        for n, outcome in enumerate(["incomplete", "abandoned", "answered"]):
            bus.publish(ev.CallEnded("default", base.ended_at + n, call=dataclasses.replace(base, outcome=outcome)))
        for n in range(12):
            for agent in ("1001", "1002"):
                bus.publish(ev.AgentPaused("default", 1_795_366_990.0 + n, agent=agent, interface=f"PJSIP/{agent}",
                                           queue="support", paused=n % 2 == 0, reason="午休" if n % 2 == 0 else ""))
        yield self.logs.until("not currently accepting connections")
        with postgres_admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        yield writer.idle()
        with open_store(self.url) as store:
            call = store.get_call("default", "1795366966.9")
            facts = {agent: store.agent_events("default", agent=agent) for agent in ("1001", "1002")}
        self.assertEqual(call.outcome, "answered", "the last summary of the call is the one stored")
        for agent, rows in facts.items():
            self.assertEqual(len(rows), 12)
            by_id = [row.kind for row in sorted(rows, key=lambda row: row.id)]
            self.assertEqual(by_id, ["pause", "unpause"] * 6, f"{agent}'s facts stored in the order they happened")
