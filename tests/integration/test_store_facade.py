"""The Store service with the real reactor: work runs in its pool, results come back on the reactor
thread, and a stale schema stops the service from starting."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from sqlalchemy import func, insert, select, text
from twisted.internet import defer, reactor
from twisted.trial import unittest

from telephony.store import SchemaOutOfDate, Store
from telephony.store.db import create_engine
from telephony.store.model import AlertRow, CallRow, as_utc
from telephony.store.upgrade import current_revision, head_revision
from tests.integration.test_store_calls import summary


class StoreServiceTests(unittest.TestCase):
    def start(self, path: Path, threads: int = 4) -> Store:
        store = Store(f"sqlite:///{path}", reactor=reactor, threads=threads)
        store.startService()
        self.addCleanup(store.stopService)
        return store

    def database(self) -> Path:
        """A SQLite path whose folder does not exist yet (trial's mktemp would write into the cwd)."""
        scratch = tempfile.mkdtemp(prefix="telephony-store-")
        self.addCleanup(shutil.rmtree, scratch)
        return Path(scratch) / "var" / "telephony.db"

    @defer.inlineCallbacks
    def test_a_pop_lookup_does_not_wait_behind_busy_writes(self):
        store = self.start(self.database(), threads=1)
        yield store.save_call(summary(caller="13912345678"))
        release = threading.Event()
        stuck = store.run(lambda session: release.wait(10))  # the only write thread is busy
        self.addCleanup(release.set)
        facts = yield store.pop_facts("+86 139 1234 5678")
        self.assertFalse(stuck.called)  # the pop came back while the write still ran
        self.assertEqual([h["outcome"] for h in facts["history"]], ["answered"])
        release.set()
        yield stuck

    @defer.inlineCallbacks
    def test_repository_code_runs_in_the_pool_and_results_arrive_on_the_reactor_thread(self):
        store = self.start(self.database())
        reactor_thread = threading.current_thread()
        seen = {}

        def where_am_i(session):
            seen["worker"] = threading.current_thread()
            return session.execute(text("SELECT 41 + 1")).scalar_one()

        result = yield store.run(where_am_i)
        self.assertEqual(result, 42)
        self.assertIsNot(seen["worker"], reactor_thread)
        self.assertIn("telephony-store", seen["worker"].name)
        self.assertIs(threading.current_thread(), reactor_thread)

    @defer.inlineCallbacks
    def test_operations_give_deferreds_of_the_stored_facts(self):
        store = self.start(self.database())
        call_id = yield store.save_call(summary())
        [stored] = yield store.recent_calls("default")
        self.assertEqual((stored.id, stored.linkedid, len(stored.offers)), (call_id, "1795366966.0", 2))
        new = yield store.record_agent_event("default", "1001", "miss", 1_795_366_981.1, "guard", queue="guard")
        again = yield store.record_agent_event("default", "1001", "miss", 1_795_366_981.1, "guard", queue="guard")
        self.assertEqual((new, again), (True, False))
        alert = yield store.record_alert("default", 1_795_366_981.1, "miss", agent="1001")
        [open_alert] = yield store.open_alerts("default")
        self.assertEqual(open_alert.id, alert)

    @defer.inlineCallbacks
    def test_many_writers_at_once_all_succeed_on_sqlite(self):
        store = self.start(self.database(), threads=4)
        saves = [store.save_call(summary(linkedid=f"1795366966.{n}")) for n in range(24)]
        yield defer.gatherResults(saves, consumeErrors=True)
        stored = yield store.recent_calls("default", limit=100)
        self.assertEqual(len(stored), 24)

    @defer.inlineCallbacks
    def test_read_then_write_transactions_in_parallel_neither_fail_nor_interleave_on_sqlite(self):
        """Each transaction reads the highest alert number and writes the next: run 4 at a time, none
        fails with "database is locked" and no number is taken twice."""
        store = self.start(self.database(), threads=4)

        def take_next(session):
            last = session.scalar(select(func.max(AlertRow.id))) or 0
            session.execute(insert(AlertRow).values(id=last + 1, pbx="default", fact_key=str(last + 1), at=as_utc(0),
                                                    kind="n", detail={}))
            return last + 1

        taken = yield defer.gatherResults([store.run(take_next) for _ in range(16)], consumeErrors=True)
        self.assertEqual(sorted(taken), list(range(1, 17)))

    @defer.inlineCallbacks
    def test_an_error_fails_the_deferred_and_rolls_the_transaction_back(self):
        store = self.start(self.database())

        def insert_then_fail(session):
            session.execute(insert(AlertRow).values(pbx="default", fact_key="f", at=as_utc(0), kind="miss", detail={}))
            raise LookupError("half done")

        yield self.assertFailure(store.run(insert_then_fail), LookupError)
        alerts = yield store.run(lambda session: session.scalar(select(func.count()).select_from(AlertRow)))
        self.assertEqual(alerts, 0)

    def test_a_new_sqlite_file_is_created_at_the_current_schema(self):
        path = self.database()
        self.start(path)
        self.assertTrue(path.exists())
        engine = create_engine(f"sqlite:///{path}")
        self.addCleanup(engine.dispose)
        with engine.connect() as connection:
            self.assertEqual(current_revision(connection), head_revision())

    def test_an_existing_database_without_the_schema_is_refused(self):
        path = self.database()
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE unrelated (x INTEGER)"))
        engine.dispose()
        store = Store(f"sqlite:///{path}", reactor=reactor)
        error = self.assertRaises(SchemaOutOfDate, store.startService)
        self.assertIn("empty (no telephony tables)", str(error))
        self.assertIn("telephony db upgrade --url", str(error))
        self.assertFalse(store.running)
        return self.assertFailure(store.recent_calls("default"), RuntimeError)

    def test_a_schema_from_a_newer_version_is_refused(self):
        path = self.database()
        store = Store(f"sqlite:///{path}", reactor=reactor)
        store.startService()
        store.stopService()
        engine = create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        error = self.assertRaises(SchemaOutOfDate, Store(f"sqlite:///{path}", reactor=reactor).startService)
        self.assertIn("9999", str(error))
        self.assertIn("newer version", str(error))

    @defer.inlineCallbacks
    def test_a_stopped_store_refuses_work(self):
        store = Store(f"sqlite:///{self.database()}", reactor=reactor)
        store.startService()
        yield store.save_call(summary())
        stopped = store.stopService()
        self.assertFalse(store.running)
        yield self.assertFailure(store.run(lambda session: session.scalar(select(CallRow.id))), RuntimeError)
        yield self.assertFailure(store.pop_facts("13912345678"), RuntimeError)
        yield stopped
