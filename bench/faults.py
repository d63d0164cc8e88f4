"""Fault drills: the daemon's AMI link cut, the PBX restarted, the daemon restarted, the database hung.

    python bench/faults.py [--rounds 10] [--outage-s 10]

Each round builds the whole daemon (store on SQLite, call-log writer, live model, guard), as
``telephony run`` does, against the simulated PBX running ten times faster than real time, with a
proxy between them (:class:`telephony.sim.linkcut.LinkCutter`) and a member timeout far beyond the
guard's deadline.  Times below are real seconds on this machine.

* ``ringing_gap``: the link is cut at a phone's second ring and restored after its deadline, while
  it still rings: ``back_ms`` from the proxy accepting again to the daemon trusting its picture,
  ``cut_ms`` from then to the guard's Hangup reaching the PBX, and the misses counted while blind.
* ``caller_left_in_gap``: the caller gives up while the daemon is blind: misses counted, and how far
  the stored call's end is from the last moment the daemon heard the PBX (``stretch_s``).
* ``stalled_link``: the link stops carrying anything without closing (a PBX host that died) while a
  phone rings, and the agent answers unseen before the deadline: the guard asks for a sign of life
  before acting, finds none, and waits for the resync: hang-ups of an answered call and false misses
  (both must be 0), and ``back_ms`` from the deadline to the daemon trusting its picture again.
* ``talking_gap``: the caller hangs up during the gap of a call that was talking: is it still
  answered by its agent, and how far its talk time reaches past the last moment heard.
* ``daemon_restart``: the daemon stops and starts again while two calls talk; one of them ends while
  no daemon runs.  The one that talks on keeps the answer the first daemon saw (``answers_kept``);
  the one that ended meanwhile is stored, ended unseen at the last moment heard (``stretch_s``);
  calls stored twice or lost.
* ``pbx_restart``: Asterisk restarts and stays away ``--outage-s`` seconds; the daemon's reconnect
  (0.5 s doubling, capped at 2 s, jittered) finds it: ``back_ms`` from the PBX accepting logins to
  the daemon synced again.
* ``db_lock`` (when PostgreSQL answers on 127.0.0.1:5432): a table locked by somebody else while a
  call ends; how long the daemon's stop takes, and whether the call is stored at the next start.

Every line ends with what was lost; the drills exist to show it is nothing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from telephony.config import parse_config  # noqa: E402
from telephony.live import events as ev  # noqa: E402
from telephony.service import build_daemon  # noqa: E402
from telephony.sim.behaviour import Answer, NeverAnswer  # noqa: E402
from telephony.sim.config import PBXConfig  # noqa: E402
from telephony.sim.linkcut import LinkCutter  # noqa: E402
from telephony.sim.simulator import SimulatedPBX  # noqa: E402
from telephony.store.facade import open_store  # noqa: E402
from telephony.store.upgrade import upgrade  # noqa: E402

SCALE = 10.0
CYCLE = 5.0 / SCALE
SECRET = "fault-drills"
os.environ["TELEPHONY_BENCH_SECRET"] = SECRET


class Rig:
    """One simulated PBX, the proxy in front of it, a call log, and the daemons run against them."""

    def __init__(self, seed: int, folder: Path, *, store_url: str | None = None) -> None:
        self.sim = SimulatedPBX(reactor, config=PBXConfig.with_agents(3, member_timeout=60.0, lab_queues=False),
                                users={"telephony": SECRET}, seed=seed, time_scale=SCALE)
        self.hangups: list[float] = []
        actions = self.sim.actions
        rig = self

        class Watching:
            def handle_action(self, session, action) -> None:
                if (action.action or "").lower() == "hangup":
                    rig.hangups.append(reactor.seconds())
                actions.handle_action(session, action)

            def __getattr__(self, name: str) -> Any:
                return getattr(actions, name)

        self.sim.factory.handler = Watching()
        self.pbx_port = self.sim.listen(reactor, 0)
        self.proxy = LinkCutter(reactor, "127.0.0.1", self.pbx_port.getHost().port)
        self.proxy.listen()
        self.folder = folder
        self.url = store_url or f"sqlite:///{folder / 'calls.db'}"
        upgrade(self.url)
        self.events: list[ev.DomainEvent] = []
        self._waiters: list[tuple[Callable[[ev.DomainEvent], bool], defer.Deferred]] = []
        self.daemons: list[Any] = []

    def daemon(self, *, initial: float = 0.05, cap: float = 0.2, fresh: float = 0.2) -> Any:
        config = parse_config(
            f"pbx:\n  name: drill\n  ami:\n    host: 127.0.0.1\n    port: {self.proxy.number}\n"
            f"    secret_env: TELEPHONY_BENCH_SECRET\n    reconnect_initial_s: {initial}\n    reconnect_max_s: {cap}\n"
            f"    fresh_within_s: {fresh}\n    confirm_timeout_s: {fresh * 1.5}\n"
            f"rings:\n  cycle_s: {CYCLE}\n  pause_after_misses: 5\n"
            f"store:\n  url: {self.url}\n  journal: {self.folder / 'journal.jsonl'}\n"
            f"  live_state: {self.folder / 'live.json'}\n"
            f"  statement_timeout_s: 0.5\n  stop_timeout_s: 1\n", "drill.yaml")
        built = build_daemon(config, reactor, web=False)
        built.bus.subscribe(self._seen)
        built.root.startService()
        self.daemons.append(built)
        return built

    def _seen(self, event: ev.DomainEvent) -> None:
        self.events.append(event)
        for entry in [w for w in self._waiters if w[0](event)]:
            self._waiters.remove(entry)
            reactor.callLater(0, entry[1].callback, event)

    def next(self, done: Callable[[ev.DomainEvent], bool]) -> defer.Deferred:
        """The next event ``done`` accepts."""
        waiter: defer.Deferred = defer.Deferred()
        self._waiters.append((done, waiter))
        return waiter

    def seen(self, done: Callable[[ev.DomainEvent], bool]) -> defer.Deferred:
        """An event ``done`` accepts, already seen or the next one."""
        found = [e for e in self.events if done(e)]
        return defer.succeed(found[0]) if found else self.next(done)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def stored(self) -> tuple[list, list]:
        with open_store(self.url) as store:
            return store.recent_calls("drill", 100), store.agent_events("drill")

    @defer.inlineCallbacks
    def close(self) -> Any:
        for built in self.daemons:
            if built.root.running:
                yield built.root.stopService()
        yield self.proxy.close()
        self.sim.shutdown()
        self.sim.factory.disconnect_all()
        yield self.pbx_port.stopListening()


def ringing(agent: str, ring: int) -> Callable[[ev.DomainEvent], bool]:
    return lambda e: isinstance(e, ev.AgentRinging) and e.agent == agent and e.ring == ring


def kind(cls: type) -> Callable[[ev.DomainEvent], bool]:
    return lambda e: isinstance(e, cls)


def wait(seconds: float) -> defer.Deferred:
    return deferLater(reactor, seconds, lambda: None)


# -- the drills: each returns its figures for one round --------------------------------------------


@defer.inlineCallbacks
def ringing_gap(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1002").behaviour = Answer(after_s=2.0)
    daemon = rig.daemon()
    yield daemon.connection.when_synced()
    call = rig.sim.place_call(caller="13811112222", name="钱七", dial="4000", talk_s=3.0)
    yield rig.next(ringing("1001", 2))
    yield rig.proxy.cut()
    yield wait(2.0 * CYCLE)
    blind_misses = len(rig.of(ev.AgentMissed))
    restored = reactor.seconds()
    rig.proxy.restore()
    resynced = yield rig.next(kind(ev.Resynced))
    yield call.when_ended()
    yield rig.seen(kind(ev.CallEnded))
    yield daemon.writer_idle()
    calls, facts = rig.stored()
    return {"back_ms": (resynced.at - restored) * 1000, "cut_ms": (rig.hangups[0] - resynced.at) * 1000,
            "false_misses": blind_misses, "misses": sum(f.kind == "miss" for f in facts),
            "lost": 1 - len(calls), "stored_twice": 0}


@defer.inlineCallbacks
def caller_left_in_gap(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = NeverAnswer()
    daemon = rig.daemon()
    yield daemon.connection.when_synced()
    call = rig.sim.place_call(caller="13866662222", name="Lin Tao", dial="4000", patience_s=8.0)
    yield rig.next(ringing("1001", 2))
    yield rig.proxy.cut()
    link = yield rig.next(kind(ev.PbxLink))
    yield call.when_ended()
    yield wait(2.0 * CYCLE)
    rig.proxy.restore()
    yield rig.next(kind(ev.Resynced))
    yield rig.seen(kind(ev.CallEnded))
    yield daemon.writer_idle()
    calls, facts = rig.stored()
    return {"false_misses": sum(f.kind == "miss" for f in facts), "lost": 1 - len(calls),
            "stretch_s": max(c.ended_at.timestamp() - link.since for c in calls)}


@defer.inlineCallbacks
def stalled_link(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = Answer(after_s=11.0)  # answers at ring 3, unseen
    daemon = rig.daemon()
    yield daemon.connection.when_synced()
    call = rig.sim.place_call(caller="13811113333", name="郑辉", dial="4000", talk_s=20.0)
    ringing_since = yield rig.next(ringing("1001", 2))
    rig.proxy.stall()
    resynced = yield rig.next(kind(ev.Resynced))
    yield call.when_ended()
    yield rig.seen(kind(ev.CallEnded))
    yield daemon.writer_idle()
    calls, facts = rig.stored()
    deadline = ringing_since.ring_started_at + 3 * CYCLE
    return {"hung_up_answered": len(rig.hangups), "false_misses": sum(f.kind == "miss" for f in facts),
            "back_ms": (resynced.at - deadline) * 1000,
            "answered_kept": int(bool(calls) and calls[0].answered_by == "1001"), "lost": 1 - len(calls)}


@defer.inlineCallbacks
def talking_gap(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = Answer(after_s=1.0)
    daemon = rig.daemon()
    yield daemon.connection.when_synced()
    call = rig.sim.place_call(caller="13800001111", name="Zhou Jie", dial="4000", talk_s=30.0)
    yield rig.next(kind(ev.CallAnswered))
    yield wait(1.0)
    yield rig.proxy.cut()
    link = yield rig.next(kind(ev.PbxLink))
    yield call.when_ended()
    rig.proxy.restore()
    yield rig.next(kind(ev.Resynced))
    yield rig.seen(kind(ev.CallEnded))
    yield daemon.writer_idle()
    (stored,), _ = rig.stored()
    return {"answered_kept": int(stored.outcome == "answered" and stored.answered_by == "1001"),
            "stretch_s": stored.answered_at.timestamp() + stored.talk_s - link.since, "lost": 0}


@defer.inlineCallbacks
def daemon_restart(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = Answer(after_s=1.0)
    rig.sim.agent("1002").behaviour = Answer(after_s=1.0)
    first = rig.daemon()
    yield first.connection.when_synced()
    talks_on = rig.sim.place_call(caller="13800002222", name="吴芳", dial="4000", talk_s=30.0)
    yield rig.next(kind(ev.CallAnswered))
    ends = rig.sim.place_call(caller="13800004444", name="何丽", dial="4000", talk_s=10.0)
    yield rig.next(kind(ev.CallAnswered))
    answers = {a.linkedid: a.at for a in rig.of(ev.CallAnswered)}
    yield first.root.stopService()
    link = rig.of(ev.PbxLink)[-1]
    yield ends.when_ended()  # while no daemon runs
    second = rig.daemon()
    yield second.connection.when_synced()
    yield talks_on.when_ended()
    yield rig.seen(lambda e: isinstance(e, ev.CallEnded) and e.call.caller == "13800002222")
    yield second.writer_idle()
    calls = {c.caller: c for c in rig.stored()[0]}
    kept = [c for c in calls.values() if c.answered_at is not None
            and abs(c.answered_at.timestamp() - answers[c.linkedid]) < 0.001]
    ended = calls.get("13800004444")
    return {"answers_kept": len(kept), "stored_twice": max(0, len(calls) - 2), "lost": 2 - len(calls),
            "stretch_s": ended.ended_at.timestamp() - link.since if ended else 0.0}


@defer.inlineCallbacks
def pbx_restart(rig: Rig, outage_s: float) -> Any:
    daemon = rig.daemon(initial=0.5, cap=2.0)  # the defaults of a real daemon
    yield daemon.connection.when_synced()
    accepting: list[float] = []
    original = rig.sim._accept

    def accept() -> None:
        accepting.append(reactor.seconds())
        original()

    rig.sim._accept = accept
    rig.sim.restart(downtime=outage_s * SCALE)
    yield rig.next(kind(ev.PbxLink))
    resynced = yield rig.next(kind(ev.Resynced))
    return {"back_ms": (resynced.at - accepting[0]) * 1000, "lost": 0}


@defer.inlineCallbacks
def db_lock(rig: Rig) -> Any:
    rig.sim.agent("1001").behaviour = Answer(after_s=1.0)
    daemon = rig.daemon()
    yield daemon.connection.when_synced()
    locker = connect(rig.url)
    locker.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
    call = rig.sim.place_call(caller="13800003333", name="孙丽", dial="4000", talk_s=2.0)
    yield call.when_ended()
    yield rig.seen(kind(ev.CallEnded))
    yield wait(0.2)
    started = time.monotonic()
    yield daemon.root.stopService()
    stop_s = time.monotonic() - started
    locker.rollback()
    locker.close()
    again = rig.daemon()
    yield again.writer.idle()
    calls, _ = rig.stored()
    return {"stop_s": stop_s, "lost": 1 - len(calls)}


# -- running them ----------------------------------------------------------------------------------


def summary(name: str, rounds: list[dict[str, float]]) -> str:
    parts = [f"fault {name} rounds={len(rounds)}"]
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        if key.endswith(("_ms", "_s")):
            parts.append(f"{key}_p50={statistics.median(values):.1f} {key}_max={max(values):.1f}"
                         if key.endswith("_ms") else f"{key}_max={round(max(values), 3) + 0.0:.3f}")
        else:
            parts.append(f"{key}={sum(values):g}")
    return " ".join(parts)


#: the PostgreSQL server the db_lock drill makes a database of its own on (TELEPHONY_TEST_PG, as the tests)
ADMIN_URL = os.environ.get("TELEPHONY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def connect(url: str, **kwargs: Any) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database,
                           **kwargs)


def postgres_url() -> str | None:
    import psycopg

    try:
        admin = connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    name = f"telephony_bench_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(url: str) -> None:
    with connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@defer.inlineCallbacks
def main(args: argparse.Namespace) -> Any:
    lines = []
    drills = [("ringing_gap", ringing_gap), ("caller_left_in_gap", caller_left_in_gap),
              ("stalled_link", stalled_link), ("talking_gap", talking_gap), ("daemon_restart", daemon_restart)]
    for name, drill in drills:
        rounds = []
        for seed in range(args.rounds):
            folder = Path(tempfile.mkdtemp(prefix=f"fault-{name}-"))
            rig = Rig(seed + 1, folder)
            try:
                rounds.append((yield drill(rig)))
            finally:
                yield rig.close()
                shutil.rmtree(folder, True)
        lines.append(summary(name, rounds))
        print(lines[-1], flush=True)
    folder = Path(tempfile.mkdtemp(prefix="fault-pbx-restart-"))
    rig = Rig(1, folder)
    try:
        lines.append(summary(f"pbx_restart outage_s={args.outage_s:g}", [(yield pbx_restart(rig, args.outage_s))]))
        print(lines[-1], flush=True)
    finally:
        yield rig.close()
        shutil.rmtree(folder, True)
    folder = Path(tempfile.mkdtemp(prefix="fault-db-lock-"))
    url = postgres_url()
    if url is None:
        print("fault db_lock skipped: no PostgreSQL on 127.0.0.1:5432", flush=True)
    else:
        rig = Rig(1, folder, store_url=url)
        try:
            lines.append(summary("db_lock", [(yield db_lock(rig))]))
            print(lines[-1], flush=True)
        finally:
            yield rig.close()
            drop_postgres(url)
            shutil.rmtree(folder, True)


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each link and restart drill (default 10)")
    parser.add_argument("--outage-s", type=float, default=10.0,
                        help="how long the restarted PBX stays away, real seconds (default 10)")
    args = parser.parse_args()
    outcome: dict[str, Any] = {}

    def go() -> None:
        done = main(args)
        done.addErrback(lambda failure: outcome.setdefault("failure", failure))
        done.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if "failure" in outcome:
        outcome["failure"].printTraceback()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
