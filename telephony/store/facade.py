"""The store as the daemon uses it: repository functions run in a thread pool, never on the reactor.

:class:`Store` is an ``IService``.  Starting it opens the database and refuses a schema that is
not this version's (:class:`~telephony.store.upgrade.SchemaOutOfDate`, telling the operator to run
``telephony db upgrade``), except that a SQLite file that does not exist yet is created at the
current schema.  That check blocks, once, while the service tree starts (before the reactor has
work to do) so that a daemon with a stale database never gets as far as taking calls.

Every operation then returns a Deferred fired on the reactor thread with the repository's result
(or its exception).  Each runs in a transaction of its own: all of it is stored, or none.  None
waits without end (``connect_timeout_s``, ``statement_timeout_s``: see :mod:`telephony.store.db`),
and stopping waits ``stop_timeout_s`` at most for the operations still running: the pool's threads
are daemon threads, so one stuck in a driver call cannot keep the process from exiting.

:func:`open_store` gives the same operations synchronously, for the command line.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session
from twisted.application.service import Service
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads
from twisted.python.threadpool import ThreadPool

from telephony.live.events import CallSummary
from telephony.store import (agents, alerts, calls, casework, customers, people, recordings, report, shift,
                             workday)
from telephony.store.db import describe
from telephony.store.model import as_utc
from telephony.store.upgrade import open_database

__all__ = ["Store", "SyncStore", "open_store"]

T = TypeVar("T")

log = logging.getLogger(__name__)


def _daemon_thread(*args: Any, **kwargs: Any) -> threading.Thread:
    return threading.Thread(*args, daemon=True, **kwargs)


class _DaemonThreadPool(ThreadPool):
    threadFactory = staticmethod(_daemon_thread)  # type: ignore[assignment]


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

    def _lookup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A read someone is waiting for right now (a phone rings): by default like any operation."""
        return self._run(fn, *args, **kwargs)

    def _now(self) -> datetime:
        raise NotImplementedError

    def save_call(self, call: CallSummary):
        """Insert or rewrite the call by (pbx, linkedid), replacing its offers → its id."""
        return self._run(calls.save_call, call, now=self._now())

    def save_calls(self, summaries: list[CallSummary]):
        """Several calls in one transaction (all stored, or none) → their ids."""
        return self._run(calls.save_calls, summaries, now=self._now())

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

    def record_agent_event(self, pbx: str, agent: str, kind: str, at: float | datetime, source: str | None, *,
                           queue: str | None = None, linkedid: str | None = None, reason: str | None = None,
                           unseen: bool = False):
        """Store a miss/pause/unpause unless stored already → True when it was new (``source``
        None: credited to a request for it, else to asterisk)."""
        return self._run(agents.record_agent_event, pbx=pbx, agent=agent, kind=kind, at=at, source=source,
                         queue=queue, linkedid=linkedid, reason=reason, unseen=unseen)

    def request_pause_change(self, pbx: str, agent: str, *, paused: bool, by: str, reason: str | None = None):
        """Record that ``by`` asks to pause or unpause ``agent`` now → the request's id."""
        return self._run(agents.request_pause_change, pbx=pbx, agent=agent, paused=paused, by=by, at=self._now(),
                         reason=reason)

    def forget_pause_request(self, request_id: int):
        return self._run(agents.forget_pause_request, request_id)

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

    # -- the screens: who signs in, what agents write down and owe (see people, casework) -------

    def add_user(self, username: str, role: str, password: str, *, extension: str | None = None):
        return self._run(people.add_user, username, role, password, now=self._now(), extension=extension)

    def list_users(self):
        return self._run(people.list_users)

    def remove_user(self, username: str):
        return self._run(people.remove_user, username)

    def set_password(self, username: str, password: str):
        return self._run(people.set_password, username, password, now=self._now())

    def add_token(self, name: str, role: str, *, extension: str | None = None):
        return self._run(people.add_token, name, role, now=self._now(), extension=extension)

    def sign_in(self, username: str, password: str, ttl: timedelta):
        """→ (cookie token, Principal) or None; hashing runs off the reactor like every operation."""
        return self._run(people.sign_in, username, password, now=self._now(), ttl=ttl)

    def principal_for_session(self, token: str):
        return self._run(people.principal_for_session, token, now=self._now())

    def principal_for_token(self, token: str):
        return self._run(people.principal_for_token, token)

    def end_session(self, token: str):
        return self._run(people.end_session, token)

    def sweep_sessions(self):
        return self._run(people.sweep_sessions, now=self._now())

    def pop_facts(self, number: str | None):
        return self._lookup(casework.pop_facts, number)

    def save_wrapup(self, pbx: str, linkedid: str, agent: str, caller: str | None, wrapup: casework.WrapUp):
        return self._run(casework.save_wrapup, pbx, linkedid, agent, caller, wrapup, now=self._now())

    def wrapup_for(self, pbx: str, linkedid: str, agent: str):
        return self._run(casework.wrapup_for, pbx, linkedid, agent)

    def open_tasks(self, owner: str):
        return self._run(casework.open_tasks, owner)

    def close_task(self, task_id: int, *, by: str | None):
        return self._run(casework.close_task, task_id, by=by, now=self._now())

    def add_task(self, owner: str, kind: str, text: str | None, *, customer: str | None, pbx: str | None = None,
                 linkedid: str | None = None, due_at: datetime | None = None):
        return self._run(casework.add_task, owner, kind, text, customer=customer, now=self._now(), pbx=pbx,
                         linkedid=linkedid, due_at=due_at)

    def post_announcement(self, kind: str, title: str, body: str, *, by: str):
        return self._run(shift.post_announcement, kind, title, body, by=by, now=self._now())

    def announcements_for(self, username: str, *, unread_only: bool = False):
        return self._run(shift.announcements_for, username, unread_only=unread_only)

    def acknowledge_announcement(self, announcement_id: int, username: str):
        return self._run(shift.acknowledge_announcement, announcement_id, username, now=self._now())

    def search_faq(self, text: str):
        return self._run(shift.search_faq, text)

    def hand_over(self, from_agent: str, to_username: str, note: str | None, *, tz: str):
        now = self._now()
        return self._run(shift.hand_over, from_agent, to_username, note, day=now.astimezone(ZoneInfo(tz)).date(),
                         tz=tz, now=now)

    def pending_handovers(self, agent: str):
        return self._run(shift.pending_handovers, agent)

    def acknowledge_handover(self, handover_id: int, agent: str):
        return self._run(shift.acknowledge_handover, handover_id, agent, now=self._now())

    def acknowledge_alert_fact(self, pbx: str, kind: str, at: float, agent: str | None, queue: str | None,
                               linkedid: str | None):
        return self._run(alerts.acknowledge_alert_fact, pbx, kind, at, agent, queue, linkedid, now=self._now())

    # -- recordings (see recordings) ------------------------------------------------------------------

    def start_recording(self, **fields: Any):
        """fields: pbx, linkedid, backend, path, channel, agent, queue, at → the recording's id."""
        return self._run(recordings.start_recording, **fields)

    def set_recording_muted(self, recording_id: int, muted: bool, at: float):
        return self._run(recordings.set_muted, recording_id, muted, at=at)

    def end_recordings(self, pbx: str, linkedid: str, at: float, size_of: Callable[[str], int | None]):
        return self._run(recordings.end_recordings, pbx, linkedid, at=at, size_of=size_of)

    def fail_recording(self, recording_id: int, detail: str):
        return self._run(recordings.fail_recording, recording_id, detail, at=self._now())

    def recordings_for_call(self, pbx: str, linkedid: str):
        return self._run(recordings.recordings_for_call, pbx, linkedid)

    def get_recording(self, recording_id: int):
        return self._run(recordings.get_recording, recording_id)

    def prunable_recordings(self, retention_days: Callable[[str | None], int | None]):
        return self._run(recordings.prunable, now=self._now(), retention_days=retention_days)

    def mark_recording_deleted(self, recording_id: int, detail: str):
        return self._run(recordings.mark_deleted, recording_id, detail, at=self._now())

    def agent_serves_customer(self, agent: str, number: str):
        return self._run(casework.agent_serves_customer, agent, number)

    def agent_may_see_call(self, agent: str, pbx: str, linkedid: str):
        return self._run(casework.agent_may_see_call, agent, pbx, linkedid)

    def queues_today(self, pbx: str, *, tz: str, rings_allowed: int | Callable[[str | None], int] = 3):
        """→ each queue's figures for today in ``tz`` (see ``report.queues_today``)."""
        day = self._now().astimezone(ZoneInfo(tz)).date()
        return self._run(report.queues_today, day, tz=tz, pbx=pbx, rings_allowed=rings_allowed)

    def work_report(self, first_day: date, days: int = 1, *, tz: str, pbx: str,
                    rings_allowed: int | Callable[[str | None], int] = 3, wrapup_s: float = 30.0):
        """→ each agent's and queue's days (see ``workday.work_report``)."""
        return self._run(workday.work_report, first_day, days, tz=tz, pbx=pbx, rings_allowed=rings_allowed,
                         wrapup_s=wrapup_s, now=self._now())

    def ring_report(self, day: date, *, tz: str = "Asia/Shanghai", pbx: str | None = None,
                    rings_allowed: int | Callable[[str | None], int] = 3):
        """→ list[RingReportRow] for the local day (see ``telephony.store.report``)."""
        return self._run(report.ring_report, day, tz=tz, pbx=pbx, rings_allowed=rings_allowed)


class Store(Service, _Operations):
    """The store service: operations return Deferreds; work happens in ``threads`` pool threads."""

    name = "store"

    def __init__(self, url: str | URL, *, reactor: IReactorThreads, threads: int = 4, lookup_threads: int = 2,
                 connect_timeout_s: float = 5.0, statement_timeout_s: float = 10.0,
                 stop_timeout_s: float = 5.0) -> None:
        """``reactor`` provides IReactorThreads (results come back through it) and IReactorTime
        ("now" for created/updated/acknowledged times is its ``seconds()``).

        ``lookup_threads`` serve the screen pop's lookup alone, so a phone that rings never waits
        behind the call log's writes (each thread holds a database connection of its own)."""
        if threads < 1 or lookup_threads < 1:
            raise ValueError(f"threads and lookup_threads must be at least 1, not {threads}, {lookup_threads}")
        self._url = url
        self._reactor = reactor
        self._threads = threads
        self._lookup_threads = lookup_threads
        self._timeouts = dict(connect_timeout_s=connect_timeout_s, statement_timeout_s=statement_timeout_s)
        self._stop_timeout_s = stop_timeout_s
        self._engine: Engine | None = None
        self._pool: ThreadPool | None = None
        self._lookup_pool: ThreadPool | None = None

    def __repr__(self) -> str:
        return f"<Store {describe(self._url)}>"

    def startService(self) -> None:
        # Open first: if the schema is stale, nothing is started and the error reaches the operator.
        self._engine = open_database(self._url, pool_size=self._threads + self._lookup_threads, **self._timeouts)
        self._pool = _DaemonThreadPool(minthreads=0, maxthreads=self._threads, name="telephony-store")
        self._pool.start()
        self._lookup_pool = _DaemonThreadPool(minthreads=0, maxthreads=self._lookup_threads,
                                              name="telephony-store-lookup")
        self._lookup_pool.start()
        super().startService()

    def stopService(self) -> defer.Deferred[None]:
        """Waits up to ``stop_timeout_s`` for operations already running, then closes the connections."""
        super().stopService()
        if self._pool is None or self._engine is None:
            return defer.succeed(None)  # never started (its start failed), or stopped already
        pools, engine = (self._pool, self._lookup_pool), self._engine
        self._pool = self._lookup_pool = self._engine = None
        done: defer.Deferred[None] = defer.Deferred()

        def finished() -> None:
            if not done.called:
                if timer.active():
                    timer.cancel()
                engine.dispose()
                done.callback(None)

        def stuck() -> None:
            if not done.called:
                log.warning("store: database work still running %g s after the stop; leaving it behind "
                            "(its thread ends with the process)", self._stop_timeout_s)
                done.callback(None)

        def join() -> None:  # pool.stop() waits for the running operations: not on the reactor thread
            for pool in pools:
                if pool is not None:
                    pool.stop()
            self._reactor.callFromThread(finished)

        timer = self._reactor.callLater(self._stop_timeout_s, stuck)
        threading.Thread(target=join, name="telephony-store-stop", daemon=True).start()
        return done

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

    def _lookup(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        if self._lookup_pool is None or self._engine is None:
            return defer.fail(RuntimeError(f"{self!r} is not running"))
        return threads.deferToThreadPool(self._reactor, self._lookup_pool, _in_transaction, self._engine, fn,
                                         *args, **kwargs)

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
