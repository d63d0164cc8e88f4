"""How fast does the call log store finished calls, and how fast is the day's report over them?

    python bench/calllog.py [--calls 1000000] [--day-calls 10000] [--chunk 5000]
                            [--admin-url URL] [--keep-database]

The run, in this order:

1. **The database.**  A PostgreSQL database of the run's own (``bench_calllog_<random>`` on the
   server of ``--admin-url``; dropped at the end, ``--keep-database`` keeps it), upgraded to the
   current schema (``telephony.store.upgrade.upgrade``), empty.

2. **The calls.**  ``--calls`` finished calls as the live model sums them up (``CallSummary``, with
   1–3 ``OfferSummary`` each: 60 % one offer, 28 % two, 12 % three), drawn from a seeded random
   stream: callers are Chinese mobile numbers (the simulator's prefixes, 138…, + 8 digits, raw as
   AMI gives them) with a name from the simulator's lists; queues ``support`` (65 %) and ``sales``;
   agents 1001–1200, a different one per offer; 85 % answered (by the last offer's agent, after 1–3
   rings; the offers before it ran out at the guard's 3 rings or were rejected), the rest abandoned
   (the caller hung up during the last offer, ``cancelled``).  Times follow the live model's rules
   (``wait_s``, ``rings_to_answer`` counted with ``count_rings`` over 5 s cycles, ``apologise`` from
   5 rings, ``talk_s`` 20–600 s).  The calls come in 08:00–21:00 Asia/Shanghai: ``--day-calls`` on the
   chosen day (``--day``, default yesterday there), the same number on each day before it, as many
   days back as the total needs (the earliest day takes what is left).  They are generated a chunk
   at a time, oldest first, so the million never sit in memory together.

3. **The writes.**  One process, the real reactor: the store (``telephony.store.facade.Store`` with
   its default 4 threads, PostgreSQL) and the call-log writer (``CallLogWriter`` with its journal
   and the defaults of ``[store]``: ``max_pending`` 10,000, ``max_in_flight`` = the store's threads),
   wired and started as ``build_daemon`` does.  Each call is published on the ``EventBus`` as a
   ``CallEnded`` event, ``--chunk`` at a time (below ``max_pending``, so nothing goes to the
   journal); the next chunk is generated and published once ``writer.idle()`` has fired.
   ``writes_per_s`` = calls stored ÷ wall time from the first publish until the last chunk's
   ``writer.idle()`` (generating the chunks is inside that time; printed apart, it is small).  Where
   the time goes is printed too: each store operation split into the wait for a pool thread, the
   transaction's start (session, connection checkout with its pre-ping, ``BEGIN``), ``save_call`` in
   the thread (its three statements), the commit, and the way back to the reactor (the bench wraps
   ``Store.save_call`` and ``facade._in_transaction`` with clocks for this, a few microseconds per call;
   nothing else changes); the CPU of the reactor thread, of the whole process and of the
   PostgreSQL server's processes, and the machine's idle and I/O wait.

4. **The daily report.**  After ``ANALYZE`` of the tables it reads (as autovacuum would have done by
   then on a live server), the ring report for the chosen day over the PBX
   (``ring_report(day, tz, pbx, rings_allowed)``, what ``telephony report rings --date`` prints, through
   ``open_store`` as the command does): one warm-up, then the median of 3 runs; and the same for the
   day's work statistics (``work_report``, what ``telephony report daily --date`` prints).

Last line: ``calllog rows=N writes_per_s=W daily_report_s=S`` (N calls stored, counted in the
database; S the slower of the two reports).  Goals: W ≥ 5,000 and S < 0.5.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from scratch_pg import DEFAULT_ADMIN_URL, create_database, database_url, drop_database, libpq  # bench/: beside this file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PBX = "bench"
TZ = "Asia/Shanghai"
AGENTS = tuple(str(1001 + i) for i in range(200))  #: 1001…1200
QUEUES, QUEUE_WEIGHTS = ("support", "sales"), (65, 35)
OFFER_COUNTS, OFFER_WEIGHTS = (1, 2, 3), (60, 28, 12)
ANSWERED_SHARE = 0.85
OPEN_S, CLOSE_S = 8 * 3600, 21 * 3600  #: calls come in between these local times of day
CYCLE_S, ALLOWED, APOLOGISE_AT = 5.0, 3, 5  #: the default ring policy
GUARD_REASON = "振铃未接"


# -- the database ------------------------------------------------------------------------------------




def server_settings(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers", "wal_sync_method",
                             "autovacuum")}


# -- the calls ---------------------------------------------------------------------------------------


def day_plan(calls: int, day_calls: int, last_day: date) -> list[tuple[date, int]]:
    """(day, calls) oldest first: ``day_calls`` on ``last_day`` and on each day before it, the
    earliest day taking what is left."""
    plan = []
    left, day = calls, last_day
    while left > 0:
        n = min(day_calls, left)
        plan.append((day, n))
        left -= n
        day -= timedelta(days=1)
    return plan[::-1]


def make_call(rng: random.Random, linkedid: str, entered_at: float):
    """One finished inbound call as the live model sums it up (telephony/live/summary.py)."""
    from telephony.live.events import CallSummary, OfferSummary
    from telephony.live.ringcount import count_rings
    from telephony.sim.generator import CHINESE_NAMES, LATIN_NAMES, MOBILE_PREFIXES

    caller = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    name = rng.choice(CHINESE_NAMES if rng.random() < 0.7 else LATIN_NAMES) if rng.random() < 0.8 else None
    queue = rng.choices(QUEUES, QUEUE_WEIGHTS)[0]
    count = rng.choices(OFFER_COUNTS, OFFER_WEIGHTS)[0]
    answered = rng.random() < ANSWERED_SHARE
    agents = rng.sample(AGENTS, count)
    offers = []
    at = entered_at + rng.uniform(0.3, 2.0)  # the queue's announcement, then the first offer
    answered_at = None
    for k, agent in enumerate(agents):
        last = k == count - 1
        ring_start = at + rng.uniform(0.05, 0.4)
        if last and answered:
            rang, result = rng.uniform(1.0, ALLOWED * CYCLE_S - 0.5), "answered"
        elif last:  # the caller gave up while it rang
            rang, result = rng.uniform(0.5, ALLOWED * CYCLE_S - 0.1), "cancelled"
        elif rng.random() < 0.85:  # the guard ended it at the deadline
            rang, result = ALLOWED * CYCLE_S + rng.uniform(0.0, 0.05), "no_answer"
        else:
            rang, result = rng.uniform(1.0, 9.0), "rejected"
        ended = ring_start + rang
        offers.append(OfferSummary(agent=agent, queue=queue, rang_s=round(rang, 1), rings=count_rings(rang, CYCLE_S),
                                   result=result, started_at=at, ring_started_at=ring_start, ended_at=ended))
        if last and answered:
            answered_at = ended
        at = ended + rng.uniform(0.5, 2.0)
    if answered:
        wait = answered_at - entered_at
        talk = rng.uniform(20.0, 600.0)
        ended_at = answered_at + talk
        rings = count_rings(wait, CYCLE_S)
        return CallSummary(
            pbx=PBX, linkedid=linkedid, caller=caller, caller_name=name, entered_at=entered_at, queues=(queue,),
            queue=queue, offers=tuple(offers), answered_by=agents[-1], answered_at=answered_at, transferred_to=(),
            wait_s=round(wait, 1), rings_to_answer=rings, apologise=rings >= APOLOGISE_AT, talk_s=round(talk, 1),
            outcome="answered", hangup_by="agent" if rng.random() < 0.4 else "caller", hangup_cause=16,
            ended_at=ended_at)
    ended_at = offers[-1].ended_at
    wait = ended_at - entered_at
    return CallSummary(
        pbx=PBX, linkedid=linkedid, caller=caller, caller_name=name, entered_at=entered_at, queues=(queue,),
        queue=queue, offers=tuple(offers), answered_by=None, answered_at=None, transferred_to=(),
        wait_s=round(wait, 1), rings_to_answer=count_rings(wait, CYCLE_S), apologise=False, talk_s=None,
        outcome="abandoned", hangup_by="caller", hangup_cause=16, ended_at=ended_at)


def summaries(plan: list[tuple[date, int]], seed: int) -> Iterator:
    """Every call of the plan, oldest first, made as they are asked for."""
    rng = random.Random(seed)
    zone = ZoneInfo(TZ)
    serial = 0
    for day, n in plan:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone).timestamp()
        step = (CLOSE_S - OPEN_S) / n
        for i in range(n):
            entered = midnight + OPEN_S + (i + rng.random()) * step
            serial += 1
            yield make_call(rng, f"{int(entered)}.{serial}", round(entered, 6))


# -- where the time goes -------------------------------------------------------------------------------


class Breakdown:
    """Sums of each store operation's parts (seconds), from the clocks the bench wraps around
    ``Store.save_call`` (reactor side) and ``facade._in_transaction`` (pool thread)."""

    PARTS = ("wait for a thread", "session+BEGIN", "save_call statements", "commit+close", "back to the reactor")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sums = [0.0] * len(self.PARTS)
        self.count = 0
        self.total = 0.0

    def add(self, parts: tuple[float, ...], total: float) -> None:
        with self.lock:
            for i, value in enumerate(parts):
                self.sums[i] += value
            self.count += 1
            self.total += total

    def lines(self) -> str:
        if not self.count:
            return "none"
        return "; ".join(f"{name} {s / self.count * 1000:.2f}" for name, s in zip(self.PARTS, self.sums)) + \
            f"; in all {self.total / self.count * 1000:.2f} ms per call on average"


def instrument(store, breakdown: Breakdown) -> None:
    """Clocks around the writer's store operation; the operation itself is the product's."""
    from telephony.store import calls, facade

    original = facade._in_transaction

    def timed_in_transaction(engine, fn, *args, **kwargs):
        stamps = kwargs.get("stamps")
        if stamps is not None:
            stamps.append(time.perf_counter())
        try:
            return original(engine, fn, *args, **kwargs)
        finally:
            if stamps is not None:
                stamps.append(time.perf_counter())  # after the commit, before the way back

    facade._in_transaction = timed_in_transaction

    def timed_save(session, call, *, now, stamps):
        stamps.append(time.perf_counter())
        try:
            return calls.save_call(session, call, now=now)
        finally:
            stamps.append(time.perf_counter())

    def save_call(call):
        submitted = time.perf_counter()
        stamps: list[float] = []
        d = store._run(timed_save, call, now=store._now(), stamps=stamps)

        def back(result):
            done = time.perf_counter()
            if len(stamps) == 4:
                t0, t1, t2, t3 = stamps
                breakdown.add((t0 - submitted, t1 - t0, t2 - t1, t3 - t2, done - t3), done - submitted)
            return result

        return d.addCallback(back)

    store.save_call = save_call


class CPU:
    """CPU seconds of this process, its reactor thread, the PostgreSQL server's processes, and the
    machine's idle and I/O wait, between two readings."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.begin = self.read()

    def postgres_seconds(self) -> float:
        total = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            if name == "postgres" or name.startswith("postgres:"):
                fields = stat[stat.rindex(")") + 2:].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.tick

    def machine(self) -> tuple[float, float, float]:
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        return sum(cpu) / self.tick, cpu[3] / self.tick, cpu[4] / self.tick  # all, idle, iowait

    def read(self) -> dict:
        return {"wall": time.perf_counter(), "process": time.process_time(), "reactor": time.thread_time(),
                "postgres": self.postgres_seconds(), "machine": self.machine()}

    def since(self) -> dict:
        end, begin = self.read(), self.begin
        wall = end["wall"] - begin["wall"]
        total, idle, iowait = (e - b for e, b in zip(end["machine"], begin["machine"]))
        return {"wall": wall, "process": end["process"] - begin["process"],
                "reactor": end["reactor"] - begin["reactor"], "postgres": end["postgres"] - begin["postgres"],
                "idle": idle / total if total else 0.0, "iowait": iowait / total if total else 0.0}


# -- the writes ----------------------------------------------------------------------------------------


def run_writes(args: argparse.Namespace, url: str, plan: list[tuple[date, int]], folder: str) -> dict:
    """The writer and the store on the real reactor, as build_daemon wires them → figures."""
    from twisted.internet import defer, reactor

    from telephony.bus import EventBus
    from telephony.calllog.journal import Journal
    from telephony.calllog.writer import CallLogWriter
    from telephony.config import Store as StoreSettings
    from telephony.live import events as ev
    from telephony.service import InOrder
    from telephony.store.facade import Store

    settings = StoreSettings(url=url, journal=os.path.join(folder, "journal-{pbx}.jsonl"))
    bus = EventBus()
    store = Store(settings.url, reactor=reactor, threads=settings.threads, connect_timeout_s=settings.connect_timeout_s,
                  statement_timeout_s=settings.statement_timeout_s, stop_timeout_s=settings.stop_timeout_s)
    journal = Journal(settings.journal_path(PBX))
    writer = CallLogWriter(store, bus, reactor, guard_reasons=lambda: {GUARD_REASON}, journal=journal,
                           max_pending=settings.max_pending, max_in_flight=settings.threads,
                           stall_after_s=settings.statement_timeout_s, stop_timeout_s=settings.stop_timeout_s)
    root = InOrder()
    for service in (store, writer):
        service.setServiceParent(root)
    breakdown = Breakdown()
    if not args.no_breakdown:
        instrument(store, breakdown)
    chunk = min(args.chunk, settings.max_pending)
    result: dict = {"threads": settings.threads, "max_pending": settings.max_pending, "chunk": chunk,
                    "breakdown": breakdown}

    @defer.inlineCallbacks
    def go():
        root.startService()
        calls = summaries(plan, args.seed)
        stored = offers = 0
        generate_s = 0.0
        peak_backlog = 0
        spilled = False
        report_every = max(chunk, args.calls // 10)
        next_report = report_every
        gc.collect()
        cpu = CPU()
        began = time.perf_counter()
        while True:
            t = time.perf_counter()
            batch = [ev.CallEnded(pbx=PBX, at=c.ended_at, call=c) for c in islice(calls, chunk)]
            generate_s += time.perf_counter() - t
            if not batch:
                break
            for event in batch:
                bus.publish(event)
            peak_backlog = max(peak_backlog, writer.backlog)
            spilled = spilled or journal.waiting or writer._spilling
            stored += len(batch)
            offers += sum(len(e.call.offers) for e in batch)
            del batch
            yield writer.idle()
            if stored >= next_report:
                elapsed = time.perf_counter() - began
                print(f"  … {stored} calls stored in {elapsed:.0f} s ({stored / elapsed:.0f}/s)", file=sys.stderr,
                      flush=True)
                next_report += report_every
        result.update(wall=time.perf_counter() - began, cpu=cpu.since(), published=stored, offers=offers,
                      generate_s=generate_s, peak_backlog=peak_backlog, spilled=spilled,
                      peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        yield root.stopService()

    def run() -> None:
        go().addErrback(lambda failure: result.setdefault("error", failure.getTraceback())).addBoth(
            lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    if "error" in result:
        raise SystemExit(result["error"])
    result["journal_left"] = journal.count() if journal.waiting else 0
    return result


# -- the daily report ------------------------------------------------------------------------------------


def timed(fn, runs: int = 3) -> tuple[float, list[float], object]:
    """One warm-up, then ``runs`` timed → (median, times, last result)."""
    out = fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), times, out


OFFERS_PLAN_SQL = """
EXPLAIN SELECT calls.pbx, offers.queue, offers.agent, offers.result, offers.rings, offers.ended_unseen
FROM offers JOIN calls ON offers.call_id = calls.id
WHERE offers.started_at >= %(start)s AND offers.started_at < %(end)s AND calls.direction = 'inbound'
  AND calls.pbx = %(pbx)s
"""
CALLS_PLAN_SQL = """
EXPLAIN SELECT pbx, queue, answered_by, outcome, rings_to_answer, wait_s FROM calls
WHERE entered_at >= %(start)s AND entered_at < %(end)s AND direction = 'inbound' AND pbx = %(pbx)s
"""


def report_timings(url: str, day: date) -> dict:
    import psycopg

    from telephony.store import report
    from telephony.store.facade import open_store

    start, end = report.day_bounds(day, TZ)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        autoanalyzed = {t: (n or 0) for t, n in conn.execute(
            "SELECT relname, autoanalyze_count FROM pg_stat_user_tables WHERE relname IN ('calls', 'offers')")}
        conn.execute("ANALYZE calls, offers, agent_events")
        counts = conn.execute("SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM offers), "
                              "pg_database_size(current_database())").fetchone()
        params = {"start": start, "end": end, "pbx": PBX}
        plans = {name: " / ".join(r[0].strip() for r in conn.execute(sql, params).fetchall())
                 for name, sql in (("offers", OFFERS_PLAN_SQL), ("calls", CALLS_PLAN_SQL))}
        day_counts = conn.execute(
            "SELECT count(*) FROM calls WHERE entered_at >= %(start)s AND entered_at < %(end)s AND pbx = %(pbx)s",
            params).fetchone()[0]

    out: dict = {"rows": counts[0], "offer_rows": counts[1], "size": counts[2], "plans": plans,
                 "autoanalyzed": autoanalyzed, "day_calls": day_counts}
    with open_store(url) as store:
        # as `telephony report rings --date` asks for it: the PBX, the config's ring policy per queue
        median, times, rows = timed(lambda: store.ring_report(day, tz=TZ, pbx=PBX, rings_allowed=lambda q: ALLOWED))
        out.update(ring_report_s=median, ring_report_times=times, ring_report_rows=rows)
        # and as `telephony report daily --date` asks for it: 当日工作数据统计, agents and queues
        median, times, _ = timed(lambda: store.work_report(day, 1, tz=TZ, pbx=PBX, rings_allowed=ALLOWED))
        out.update(daily_s=median, daily_times=times)
    return out


# -- main ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls written (default 1,000,000)")
    parser.add_argument("--day-calls", type=int, default=10_000,
                        help="calls on the reported day, and on each day before it (default 10,000)")
    parser.add_argument("--day", type=date.fromisoformat, default=None,
                        help=f"the reported day (default yesterday in {TZ})")
    parser.add_argument("--chunk", type=int, default=5_000,
                        help="calls published before waiting for the writer (default 5,000; at most max_pending)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-breakdown", action="store_true",
                        help="do not put clocks around the writer's store operations")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL,
                        help="a database to connect to for CREATE DATABASE (env TELEPHONY_TEST_PG)")
    parser.add_argument("--database", default=None, help="name of the database created (default random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    if args.calls < 1 or args.day_calls < 1 or args.chunk < 1:
        parser.error("calls, day calls and chunk must be positive")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    from telephony.store.upgrade import upgrade

    day = args.day or (datetime.now(ZoneInfo(TZ)).date() - timedelta(days=1))
    plan = day_plan(args.calls, args.day_calls, day)
    name = args.database or f"bench_calllog_{secrets.token_hex(4)}"
    began = time.monotonic()
    folder = tempfile.mkdtemp(prefix="bench-calllog-")
    create_database(args.admin_url, name)
    try:
        url = database_url(args.admin_url, name)
        upgrade(url)
        server = server_settings(url)
        writes = run_writes(args, url, plan, folder)
        reported = report_timings(url, day)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep_database:
            drop_database(args.admin_url, name)

    wall = writes["wall"]
    rows = reported["rows"]
    rate = rows / wall if wall > 0 else float("nan")
    cpu = writes["cpu"]
    print(f"database {name}{' (kept)' if args.keep_database else ''}: PostgreSQL {server['server_version']}, "
          f"synchronous_commit {server['synchronous_commit']}, fsync {server['fsync']} "
          f"({server['wal_sync_method']}), shared_buffers {server['shared_buffers']}, autovacuum {server['autovacuum']}; "
          f"{reported['size'] / 2**20:.0f} MiB at the end")
    print(f"calls: {args.calls} over {len(plan)} day(s) {plan[0][0]} … {plan[-1][0]} ({TZ}), {args.day_calls} a day; "
          f"{writes['offers']} offers ({writes['offers'] / max(1, writes['published']):.2f} a call)")
    print(f"writer: store threads {writes['threads']}, max_in_flight {writes['threads']}, max_pending "
          f"{writes['max_pending']}; published {writes['chunk']} at a time, peak backlog {writes['peak_backlog']}, "
          f"journal {'USED' if writes['spilled'] else 'unused'}{', left in it: ' + str(writes['journal_left']) if writes['journal_left'] else ''}")
    print(f"stored: {rows} calls, {reported['offer_rows']} offers in {wall:.1f} s: {rate:.0f} calls/s, "
          f"{reported['offer_rows'] / wall:.0f} offers/s (generating the calls took {writes['generate_s']:.1f} s "
          f"of it; without it {rows / max(1e-9, wall - writes['generate_s']):.0f} calls/s); peak RSS "
          f"{writes['peak_rss_mb']:.0f} MB")
    print(f"per call, ms: {writes['breakdown'].lines()}")
    print(f"CPU over the writes ({os.cpu_count()} cores, {wall:.1f} s): this process {cpu['process'] / wall:.0%} of a "
          f"core (reactor thread {cpu['reactor'] / wall:.0%}, store threads {(cpu['process'] - cpu['reactor']) / wall:.0%}), "
          f"PostgreSQL processes {cpu['postgres'] / wall:.0%}; machine idle {cpu['idle']:.0%}, I/O wait "
          f"{cpu['iowait']:.0%}")
    times = " ".join(f"{t * 1000:.0f}" for t in reported["ring_report_times"])
    print(f"daily report {day} ({reported['day_calls']} calls that day): ring_report median "
          f"{reported['ring_report_s'] * 1000:.0f} ms (runs {times} ms, after a warm-up), "
          f"{len(reported['ring_report_rows'])} rows; after ANALYZE (autovacuum had analyzed calls "
          f"{reported['autoanalyzed'].get('calls', 0)}×, offers {reported['autoanalyzed'].get('offers', 0)}×)")
    print(f"plans: offers: {reported['plans']['offers']}")
    print(f"       calls: {reported['plans']['calls']}")
    times = " ".join(f"{t * 1000:.0f}" for t in reported["daily_times"])
    print(f"daily report (report daily: agents and queues): median {reported['daily_s'] * 1000:.0f} ms (runs {times} ms)")
    print(f"run {time.monotonic() - began:.0f} s in all")
    # the slower of the day's two reports: what a supervisor waits for
    daily_s = max(reported["daily_s"], reported["ring_report_s"])
    print(f"calllog rows={rows} writes_per_s={rate:.0f} daily_report_s={daily_s:.3f}")


if __name__ == "__main__":
    main()
