"""The store as the daemon uses it: repository functions run in a thread pool, never on the reactor.

:class:`Store` is an ``IService``.  Starting it opens the database and refuses a schema that is
not this version's (:class:`~telephony.store.upgrade.SchemaOutOfDate`, telling the operator to run
``telephony db upgrade``), except that a SQLite file that does not exist yet is created at the
current schema.  That check blocks, once, while the service tree starts (before the reactor has
work to do) so that a daemon with a stale database never gets as far as taking calls.

Every operation then returns a Deferred fired on the reactor thread with the repository's result
(or its exception).  Each runs in a transaction of its own: all of it is stored, or none.

:func:`open_store` gives the same operations synchronously, for the command line.
"""
from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any, Callable, TypeVar

from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session
from twisted.application.service import Service
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.python.threadpool import ThreadPool

from telephony.live.events import CallSummary
from telephony.store import agents, alerts, calls, customers, report
from telephony.store.db import describe
from telephony.store.model import as_utc
from telephony.store.upgrade import open_database

__all__ = ["Store", "SyncStore", "open_store"]

T = TypeVar("T")


def _in_transaction(engine: Engine, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with Session(engine) as session, session.begin():
        return fn(session, *args, **kwargs)


class _Operations:
    """The store's operations, written once; subclasses say how a repository function is run.

    Times given as epoch seconds (as on domain events) or aware datetimes; "now" comes from the
    subclass's clock.  Results are frozen dataclasses from the repository modules.
    """

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _now(self) -> datetime:
        raise NotImplementedError

    def save_call(self, call: CallSummary):
        """Insert or rewrite the call by (pbx, linkedid), replacing its offers → its id."""
        return self._run(calls.save_call, call, now=self._now())

    def get_call(self, pbx: str, linkedid: str):
        """→ StoredCall or None."""
        return self._run(calls.get_call, pbx, linkedid)

    def recent_calls(self, pbx: str, limit: int = 20):
        """→ list[StoredCall], newest first."""
        return self._run(calls.recent_calls, pbx, limit)

    def calls_for_number(self, number: str, limit: int = 10):
        """→ list[StoredCall] from that caller on any PBX, newest first."""
        return self._run(calls.calls_for_number, number, limit)

    def get_customer(self, number: str):
        """→ Customer or None."""
        return self._run(customers.get_customer, number)

    def upsert_customer(self, number: str, **fields: Any):
        """Create or change a customer (fields: name, category, company, notes) → Customer."""
        return self._run(customers.upsert_customer, number, now=self._now(), **fields)

    def record_agent_event(self, pbx: str, agent: str, kind: str, at: float | datetime, source: str, *,
                           queue: str | None = None, linkedid: str | None = None, reason: str | None = None):
        """Store a miss/pause/unpause unless stored already → True when it was new."""
        return self._run(agents.record_agent_event, pbx=pbx, agent=agent, kind=kind, at=at, source=source,
                         queue=queue, linkedid=linkedid, reason=reason)

    def agent_events(self, pbx: str, *, agent: str | None = None, since: float | datetime | None = None,
                     until: float | datetime | None = None):
        """→ list[AgentEvent] in time order."""
        return self._run(agents.agent_events, pbx, agent=agent, since=since, until=until)

    def record_alert(self, pbx: str, at: float | datetime, kind: str, **fields: Any):
        """Store an alert (fields: agent, queue, linkedid, caller_masked, detail) → its id."""
        return self._run(alerts.record_alert, pbx=pbx, at=at, kind=kind, **fields)

    def acknowledge_alert(self, alert_id: int):
        """Mark an alert seen now → False when it was not open."""
        return self._run(alerts.acknowledge_alert, alert_id, at=self._now())

    def open_alerts(self, pbx: str, limit: int = 100):
        """→ list[Alert] not yet acknowledged, newest first."""
        return self._run(alerts.open_alerts, pbx, limit)

    def ring_report(self, day: date, *, tz: str = "Asia/Shanghai", pbx: str | None = None,
                    rings_allowed: int | Callable[[str | None], int] = 3):
        """→ list[RingReportRow] for the local day (see ``telephony.store.report``)."""
        return self._run(report.ring_report, day, tz=tz, pbx=pbx, rings_allowed=rings_allowed)


class Store(Service, _Operations):
    """The store service: operations return Deferreds; work happens in ``threads`` pool threads."""

    name = "store"

    def __init__(self, url: str | URL, *, reactor: IReactorThreads, threads: int = 4) -> None:
        """``reactor`` provides IReactorThreads (results come back through it) and IReactorTime
        ("now" for created/updated/acknowledged times is its ``seconds()``)."""
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self._url = url
        self._reactor = reactor
        self._threads = threads
        self._engine: Engine | None = None
        self._pool: ThreadPool | None = None

    def __repr__(self) -> str:
        return f"<Store {describe(self._url)}>"

    def startService(self) -> None:
        # Open first: if the schema is stale, nothing is started and the error reaches the operator.
        self._engine = open_database(self._url, pool_size=self._threads)
        self._pool = ThreadPool(minthreads=0, maxthreads=self._threads, name="telephony-store")
        self._pool.start()
        super().startService()

    def stopService(self) -> None:
        """Waits for operations already running to finish, then closes every connection."""
        super().stopService()
        if self._pool is None or self._engine is None:
            return  # never started (its start failed), or stopped already
        self._pool.stop()
        self._engine.dispose()
        self._pool = self._engine = None

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        """Call ``fn(session, *args, **kwargs)`` in the pool, in a transaction committed when it
        returns (rolled back when it raises); the Deferred fires on the reactor thread.

        Fails with RuntimeError when the store is not running.
        """
        if self._pool is None or self._engine is None:
            return defer.fail(RuntimeError(f"{self!r} is not running"))
        return threads.deferToThreadPool(self._reactor, self._pool, _in_transaction, self._engine, fn,
                                         *args, **kwargs)

    _run = run

    def _now(self) -> datetime:
        return as_utc(self._reactor.seconds())


class SyncStore(_Operations):
    """The same operations, run in the calling thread and returning values (for the CLI)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(session, *args, **kwargs)`` in a transaction of its own."""
        return _in_transaction(self._engine, fn, *args, **kwargs)

    _run = run

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "SyncStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(url: str | URL, *, clock: Callable[[], float] = time.time) -> SyncStore:
    """Open the database synchronously; refuses a stale schema like :class:`Store` does."""
    return SyncStore(open_database(url), clock=clock)
