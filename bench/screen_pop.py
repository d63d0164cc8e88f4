"""How fast does the screen pop reach the agent's feed?  1,000,000 past calls in PostgreSQL.

    python bench/screen_pop.py [--history-rows 1000000] [--customers 200000] [--agents 200]
                               [--calls 500] [--seconds 30] [--warmup-s 10]

The run, in this order:

1. **The database.**  A PostgreSQL database of the run's own (``bench_screen_pop_<random>`` on the
   server of ``--admin-url``; dropped at the end, ``--keep-database`` keeps it) is created and
   upgraded to the current schema (``telephony.store.upgrade.upgrade``), then filled server-side
   (``INSERT … SELECT generate_series``, secondary indexes dropped during the load and rebuilt from
   their own definitions, ``VACUUM ANALYZE`` afterwards):

   * ``--customers`` customers, numbers ``+86`` + a mobile prefix the simulator uses (138, 139, …)
     + 8 digits, all distinct, with name, category, company and notes;
   * ``--history-rows`` past calls over the last year, each from one of those customers picked at
     random (so a caller has ``history-rows / customers`` calls, 5 by default, Poisson-spread),
     ``calls.caller`` raw (``13812345678``) and ``calls.caller_e164`` normal (``+8613812345678``);
     80 % answered (by 1001…1200), the rest abandoned;
   * wrap-ups for ``--wrapup-share`` of all calls (20 %), keyed to the call and the agent who
     answered it, so the pop's outer join finds them; open follow-up tasks for 2 % of customers.

2. **The callers.**  The simulator's generator (``telephony/sim/generator.py``) draws each caller
   as a random mobile number (one of ten prefixes + 8 random digits): 10⁹ numbers, against which a
   history of 200,000 numbers would be hit about once in 5,000 calls.  So the bench runs the ``load``
   scenario's generator with one change: after it has drawn a caller as usual (its random stream,
   names, queues and talk times are untouched), the number is replaced by the next one of a
   shuffled list of the numbers that have history.  Every pop is thus a hit with about 5 earlier
   calls (the figures printed say how many history rows and wrap-ups the pops carried).

3. **The run.**  One process, the real reactor, real TCP: the simulated PBX (``load`` scenario:
   ``--agents`` agents answering in 2–4 s, ``--calls`` calls in the PBX at all times, talk 20–60 s),
   the daemon as ``telephony run`` builds it (``build_daemon``: store with its default 4 threads,
   call-log writer, live model, guard, web with the screens) connected to it over AMI/TCP, and one
   SSE client per agent (``GET /api/v1/agents/{ext}/events`` with the agent's own bearer token,
   HTTP/1.1 chunked, read on the same reactor).  The generator starts once every client's stream is
   open; the first ``--warmup-s`` seconds (the start burst: every agent rung in the same instant)
   are reported apart, then pops are measured for ``--seconds``.

Latency of a pop (CONTRACTS "Web"): the AMI message that starts the offer, as it reaches the daemon
— the offer's ``started_at`` in the live model (``AgentCalled`` or ``DialBegin``) or its first ring
(``AgentRinging`` ring 1 ``.at``) if that came first; both are ``reactor.seconds()`` when those bytes
were read from the AMI socket — to the ``pop`` written to the agent's stream (``AgentFeeds.on_pop``,
called right after the write, ``reactor.seconds()``).  A pop counts when its offer started in the
measured window.  The feed starts the caller's lookup when he joins the queue (``CallOffered``), a
moment before app_queue offers him to an agent: that head start is the daemon's, and counted as such.  Also printed, to tell where the time goes: the same to the moment the SSE client read the
pop from its socket (one more trip through the reactor and the loopback); the window's store lookups
split into the wait for a pool thread, ``casework.pop_facts`` in the thread (connection checkout with
its pre-ping, the three queries) and the rest (commit, release, the way back to the reactor); the
same lookup alone, one at a time before the run (the floor); the reactor's lag (10 ms samples), the
process's CPU, and the garbage collector's pauses in the window.  The sim, the daemon and the 200
clients share one process and one GIL here, as the brief asks; in production the PBX and the
browsers are elsewhere.

Once everything has started the bench does what ``telephony run`` does
(``telephony.service.settle_after_start``: ``gc.freeze()``), so the oldest generation's collections no
longer walk the ~130,000 objects of start-up, which on a small machine take 60–120 ms, during which
nothing else in the process runs; ``--no-settle`` leaves them there, to see the difference.

Sample size: the load scenario's agents talk 20–60 s, so 200 agents take about 4–5 new calls a
second once the start burst is over: about 80 pops in the default 30 s, whose p99 is in effect
their maximum.  ``--seconds 120`` gives a steadier tail.

Last line: ``screen_pop calls=N history_rows=H p50_ms=A p99_ms=B`` (N pops measured, H history rows
loaded, latency to the write).  Goal: p99 ≤ 20 ms.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from scratch_pg import DEFAULT_ADMIN_URL, create_database, database_url, drop_database, libpq  # bench/: beside this file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-screen-pop"
PBX = "bench"
ANSWERED_SHARE = 0.8  #: share of history calls that were answered (the others abandoned)
TASK_EVERY = 50  #: one customer in this many owes an open follow-up


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, .5):.1f}  p90 {percentile(values, .9):.1f}  p99 {percentile(values, .99):.1f}  "
            f"max {max(values):.1f}")


# -- the database ------------------------------------------------------------------------------------




#: a customer's national number from its index k (0 ≤ k < 10⁹): prefix by k mod 10, then
#: k div 10 scrambled by a bijection of 0…10⁸−1 (48271 is prime to 10⁸), so all are distinct
NUMBER_OF_K = ("(%(prefixes)s::text[])[1 + k %% 10] || lpad((((k / 10) * 48271 + 12345) %% 100000000)::text, 8, '0')")

CUSTOMERS_SQL = f"""
INSERT INTO customers (number, name, category, company, notes, created_at, updated_at)
SELECT '+86' || {NUMBER_OF_K},
       (%(names)s::text[])[1 + k %% cardinality(%(names)s::text[])],
       CASE WHEN k %% 4 = 3 THEN NULL ELSE (%(categories)s::text[])[1 + k %% cardinality(%(categories)s::text[])] END,
       CASE WHEN k %% 3 = 0 THEN '上海某某贸易有限公司 ' || k END,
       '老客户，偏好电话联系；上次反馈物流慢。编号 ' || k,
       to_timestamp(%(t0)s), to_timestamp(%(t0)s)
FROM generate_series(0::bigint, %(customers)s - 1) AS k
"""

CALLS_SQL = f"""
INSERT INTO calls (pbx, linkedid, caller, caller_name, caller_e164, entered_at, queue, queues, answered_by,
                   answered_at, wait_s, rings_to_answer, apologise, talk_s, outcome, hangup_by, hangup_cause,
                   ended_at, direction, transferred_to, created_at, updated_at, ended_unseen)
SELECT %(pbx)s, 'hist-' || j, number, (%(names)s::text[])[1 + k %% cardinality(%(names)s::text[])], '+86' || number,
       entered, queue, json_build_array(queue),
       CASE WHEN answered THEN (1001 + (j * 7) %% %(agents)s)::text END,
       CASE WHEN answered THEN entered + make_interval(secs => wait) END,
       wait, 1 + floor(wait / 5)::int, false,
       CASE WHEN answered THEN talk END,
       CASE WHEN answered THEN 'answered' ELSE 'abandoned' END,
       CASE WHEN answered AND j %% 2 = 0 THEN 'agent' ELSE 'caller' END, 16,
       entered + make_interval(secs => wait + CASE WHEN answered THEN talk ELSE 0 END),
       'inbound', '[]'::json, entered, entered, false
FROM (SELECT j, k, {NUMBER_OF_K} AS number,
             to_timestamp(%(t0)s - %(span)s + j * (%(span)s / %(rows)s)) AS entered,
             CASE WHEN j %% 3 = 2 THEN 'sales' ELSE 'support' END AS queue,
             j %% 10 < {round(ANSWERED_SHARE * 10)} AS answered,
             (2 + j %% 23)::float8 AS wait, (20 + j %% 600)::float8 AS talk
      FROM (SELECT j, floor(random() * %(customers)s)::bigint AS k
            FROM generate_series(0::bigint, %(rows)s - 1) AS j) AS picked) AS rows
"""

WRAPUPS_SQL = """
INSERT INTO wrapups (pbx, linkedid, agent, customer_e164, problem_type, order_no, notes, resolution, follow_up_due,
                     saved_at)
SELECT pbx, linkedid, answered_by, caller_e164, (%(problems)s::text[])[1 + id %% 4],
       CASE WHEN id %% 3 = 0 THEN 'SO' || lpad(id::text, 10, '0') END,
       '客户询问订单物流进度，已告知预计送达时间，并提醒签收时验货。' || id,
       resolution,
       CASE WHEN resolution = 'follow_up' THEN ended_at + interval '1 day' END,
       ended_at + interval '40 seconds'
FROM (SELECT *, (ARRAY['resolved', 'resolved', 'follow_up', 'transferred'])[1 + (id / 7) %% 4] AS resolution
      FROM calls WHERE answered_by IS NOT NULL AND random() < %(share)s) AS answered
"""

TASKS_SQL = f"""
INSERT INTO tasks (pbx, linkedid, owner, customer_e164, kind, text, due_at, status, created_at)
SELECT %(pbx)s, NULL, (1001 + id %% %(agents)s)::text, number, 'follow_up', '回访：确认退款是否到账',
       to_timestamp(%(t0)s) + make_interval(days => (id %% 7)::int), 'open', to_timestamp(%(t0)s) - interval '1 day'
FROM customers WHERE id %% {TASK_EVERY} = 0
"""


def load_history(url: str, *, customers: int, rows: int, agents: int, wrapup_share: float,
                 seed: float = 0.42) -> dict:
    """Fill the upgraded database → counts and the time each step took."""
    import psycopg

    from telephony.sim.generator import CHINESE_NAMES, LATIN_NAMES, MOBILE_PREFIXES
    from telephony.store.model import CUSTOMER_CATEGORIES, PROBLEM_TYPES

    params = {"prefixes": list(MOBILE_PREFIXES), "names": list(CHINESE_NAMES + LATIN_NAMES),
              "categories": list(CUSTOMER_CATEGORIES), "problems": list(PROBLEM_TYPES), "customers": customers,
              "rows": rows, "agents": max(1, agents), "t0": float(int(time.time())), "span": 365 * 86400.0,
              "pbx": PBX, "share": min(1.0, wrapup_share / ANSWERED_SHARE)}
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        steps[name] = now - started
        started = now

    with psycopg.connect(libpq(url)) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute("SELECT setseed(%s)", (seed,))
        # secondary indexes (not those behind a constraint) are rebuilt after the load, from their own
        # definitions: the schema stays the migrations' one, and the load is 3× faster
        indexes = conn.execute("""
            SELECT indexname, indexdef FROM pg_indexes AS i
            WHERE schemaname = 'public' AND tablename IN ('calls', 'wrapups', 'customers', 'tasks')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)""").fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute(CUSTOMERS_SQL, params)
        step("customers")
        conn.execute(CALLS_SQL, params)
        step("calls")
        wrapups = conn.execute(WRAPUPS_SQL, params).rowcount
        tasks = conn.execute(TASKS_SQL, params).rowcount
        step("wrapups+tasks")
        for _, definition in indexes:
            conn.execute(definition)
        step("indexes")
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE calls, customers, wrapups, tasks")
        step("vacuum analyze")
        pool = conn.execute("SELECT caller, count(*) FROM calls WHERE caller_e164 IS NOT NULL GROUP BY caller "
                            "ORDER BY caller").fetchall()
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT entered_at FROM calls WHERE caller_e164 = %s ORDER BY entered_at DESC, id DESC LIMIT 10",
            ("+86" + pool[0][0],)).fetchall()) if pool else ""
    return {"steps": steps, "wrapups": wrapups, "tasks": tasks, "numbers": [n for n, _ in pool],
            "rows_per_number": (sum(c for _, c in pool) / len(pool)) if pool else 0.0, "size": size,
            "plan": plan}


def make_tokens(url: str, extensions: list[str]) -> dict[str, str]:
    """Each agent's own bearer token (role agent, his extension), as a CRM or the agent's screen holds."""
    from telephony.store.facade import open_store

    with open_store(url) as store:
        return {ext: store.add_token(f"bench-agent-{ext}", "agent", extension=ext) for ext in extensions}


def lookup_alone(url: str, numbers: list[str]) -> list[float]:
    """The pop's lookup with nothing else running (same operation, same transaction per lookup, one
    thread): the floor under the figures of the run → milliseconds each."""
    from telephony.store.facade import open_store

    times = []
    with open_store(url) as store:
        store.pop_facts(numbers[0])  # the connection is opened once, as the daemon's pool keeps its own
        for number in numbers:
            begun = time.perf_counter()
            store.pop_facts(number)
            times.append((time.perf_counter() - begun) * 1000)
    return times


# -- the SSE clients ---------------------------------------------------------------------------------


def feed_client_class():
    from twisted.internet import defer
    from twisted.internet.protocol import Protocol

    class FeedClient(Protocol):
        """One agent's screen: ``GET /api/v1/agents/{ext}/events`` over HTTP/1.1, chunked body decoded,
        ``pop`` events handed to ``on_pop(ext, data, read_at)``."""

        def __init__(self, clock, extension: str, token: str, on_pop) -> None:
            self.clock = clock
            self.extension = extension
            self.token = token
            self.on_pop = on_pop
            self.opened: defer.Deferred = defer.Deferred()  #: the stream's first bytes arrived
            self.closed: defer.Deferred = defer.Deferred()
            self.raw = b""
            self.body = b""
            self.headers_done = False
            self.chunked = False
            self.events = 0

        def connectionMade(self) -> None:
            self.transport.write((f"GET /api/v1/agents/{self.extension}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n")
                                 .encode("ascii"))

        def dataReceived(self, data: bytes) -> None:
            read_at = self.clock.seconds()
            self.raw += data
            if not self.headers_done:
                head, sep, rest = self.raw.partition(b"\r\n\r\n")
                if not sep:
                    return
                status = head.split(b"\r\n", 1)[0]
                if b" 200 " not in status + b" ":
                    self.opened.errback(RuntimeError(f"{self.extension}: {status.decode('latin-1')}"))
                    self.transport.loseConnection()
                    return
                self.headers_done = True
                self.chunked = b"transfer-encoding: chunked" in head.lower()
                self.raw = rest
            if self.chunked:
                while True:
                    line, sep, rest = self.raw.partition(b"\r\n")
                    if not sep:
                        break
                    size = int(line.split(b";")[0], 16)
                    if len(rest) < size + 2:
                        break
                    self.body += rest[:size]
                    self.raw = rest[size + 2:]
            else:
                self.body, self.raw = self.body + self.raw, b""
            if self.body and not self.opened.called:
                self.opened.callback(self)
            *blocks, self.body = self.body.split(b"\n\n")
            for block in blocks:
                lines = block.decode("utf-8").split("\n")
                event = next((line[7:] for line in lines if line.startswith("event: ")), None)
                if event is None:
                    continue
                self.events += 1
                if event == "pop":
                    data = json.loads("\n".join(line[6:] for line in lines if line.startswith("data: ")))
                    self.on_pop(self.extension, data, read_at)

        def connectionLost(self, reason) -> None:
            if not self.opened.called:
                self.opened.errback(reason)
            self.closed.callback(None)

    return FeedClient


# -- the run -----------------------------------------------------------------------------------------


def history_callers_class():
    from telephony.sim.generator import CallGenerator

    class HistoryCallers(CallGenerator):
        """The load scenario's generator, each caller's number swapped for the next one that has history
        (the draw itself still happens, so names, queues and talk times are the generator's own)."""

        def __init__(self, pbx, spec, numbers: list[str]) -> None:
            super().__init__(pbx, spec)
            self._pool = numbers
            self._next = 0

        def next_caller(self):
            spec = super().next_caller()
            number = self._pool[self._next % len(self._pool)]
            self._next += 1
            return dataclasses.replace(spec, caller=number)

    return HistoryCallers


def run_reactor(args: argparse.Namespace, url: str, numbers: list[str], tokens: dict[str, str]) -> dict:
    from twisted.internet import defer, reactor, task
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from telephony.config import parse_config
    from telephony.live import events as ev
    from telephony.service import build_daemon, settle_after_start
    from telephony.sim.scenarios import load
    from telephony.sim.simulator import SimulatedPBX
    from telephony.store import casework

    os.environ["BENCH_AMI_SECRET"] = SECRET
    folder = tempfile.mkdtemp(prefix="screen-pop-")
    scenario = load(args.agents, args.calls)
    sim = SimulatedPBX(reactor, config=scenario.config(), users={"telephony": SECRET}, seed=args.seed)
    sim_port = sim.listen(reactor, 0)
    config = parse_config(
        f"pbx:\n  name: {PBX}\n  ami:\n    host: 127.0.0.1\n    port: {sim_port.getHost().port}\n"
        f"    secret_env: BENCH_AMI_SECRET\n"
        f"store:\n  url: {url}\n  journal: {folder}/journal.jsonl\n  live_state: {folder}/live.json\n"
        f"web:\n  listen: 127.0.0.1:0\n", "screen_pop.yaml")
    daemon = build_daemon(config, reactor, web=True)

    ring1: dict[str, float] = {}  # offer id → when the offer started (AgentCalled/DialBegin, or its ring if earlier)
    written: dict[str, float] = {}  # offer id → when the pop was written (on_pop)
    read: dict[str, float] = {}  # offer id → when the agent's client read it
    contents: dict[str, tuple[bool, int, int, bool]] = {}  # offer id → customer?, history, wrap-ups, unavailable
    #: each lookup: submitted (reactor clock), then on perf_counter: submitted, thread start, thread end, back
    lookups: list[tuple[float, float, float, float, float]] = []
    lags: list[float] = []
    result: dict = {}
    state = {"last": time.perf_counter()}

    def on_event(event) -> None:
        if isinstance(event, ev.AgentRinging) and event.ring == 1:
            # The offer starts with AgentCalled (app_queue) or DialBegin, which may come before the
            # phone's first ring: measure from whichever of the two reached the daemon first.
            call = daemon.model.calls.get(event.linkedid)
            offer = next((o for o in call.offers if o.id == event.offer_id), None) if call is not None else None
            ring1.setdefault(event.offer_id, min(event.at, offer.started_at) if offer is not None else event.at)

    def on_written(extension: str, offer_id: str) -> None:
        written.setdefault(offer_id, reactor.seconds())

    def on_read(extension: str, data: dict, read_at: float) -> None:
        offer_id = data.get("offer_id")
        read.setdefault(offer_id, read_at)
        history = data.get("history") or []
        contents[offer_id] = (data.get("customer") is not None, len(history),
                              sum(1 for h in history if h.get("problem_type")), bool(data.get("history_unavailable")))

    # The lookup as the feed makes it (Store.pop_facts: casework.pop_facts in the lookup threads), with
    # its time in the pool's thread noted: what the wait for a thread and the way back cost.
    store = daemon.store

    def timed_facts(session, number):
        begun = time.perf_counter()
        facts = casework.pop_facts(session, number)
        return facts, begun, time.perf_counter()

    def pop_facts(number):
        at, submitted = reactor.seconds(), time.perf_counter()

        def back(outcome):
            facts, begun, ended = outcome
            lookups.append((at, submitted, begun, ended, time.perf_counter()))
            return facts

        return store._lookup(timed_facts, number).addCallback(back)  # the pool Store.pop_facts uses

    gc_pauses: list[tuple[int, float, int]] = []  # (generation, ms, objects freed) of the window's collections
    gc_began = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_began[0] = time.perf_counter()
        elif sampler_running():
            gc_pauses.append((info["generation"], (time.perf_counter() - gc_began[0]) * 1000, info["collected"]))

    def sampler_running() -> bool:
        return "sampler" in state

    def sample() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - state["last"] - 0.010))
        state["last"] = now

    @defer.inlineCallbacks
    def go():
        daemon.bus.subscribe(on_event)
        daemon.root.startService()
        yield daemon.connection.when_synced()
        feeds = daemon.web.site.agent_feeds
        feeds.on_pop = on_written
        store.pop_facts = pop_facts  # the feed reads self.facts.pop_facts at each ring
        host, port = daemon.web.address
        FeedClient = feed_client_class()
        clients = []
        for extension in sorted(tokens):
            client = FeedClient(reactor, extension, tokens[extension], on_read)
            clients.append(client)
            yield connectProtocol(TCP4ClientEndpoint(reactor, host, port), client)
        yield defer.gatherResults([c.opened for c in clients], consumeErrors=True)
        result["clients"] = len(clients)
        result["feed_clients"] = feeds.clients
        if not args.no_settle:  # as `telephony run` does once started
            settle_after_start()
        generator = history_callers_class()(sim.engine, scenario.generator, numbers)
        sim.generators.append(generator)
        started = reactor.seconds()
        generator.start()
        result["window"] = (started + args.warmup_s, started + args.warmup_s + args.seconds)
        result["started"] = started
        yield task.deferLater(reactor, args.warmup_s, lambda: None)
        state["last"] = time.perf_counter()
        sampler = state["sampler"] = task.LoopingCall(sample)
        sampler.start(0.010, now=False)
        gc.callbacks.append(on_gc)
        result["gc_objects"] = len(gc.get_objects())
        cpu_began = time.process_time()
        yield task.deferLater(reactor, args.seconds, lambda: None)
        result["cpu_share"] = (time.process_time() - cpu_began) / args.seconds
        sampler.stop()
        del state["sampler"]
        gc.callbacks.remove(on_gc)
        yield task.deferLater(reactor, args.grace_s, lambda: None)  # pops of the window's last rings
        result["clients_at_end"] = feeds.clients
        result["calls_placed"] = len(generator.handles)
        result["calls_ended"] = sum(1 for h in generator.handles if h.ended)
        generator.stop()
        for client in clients:
            client.transport.abortConnection()
        yield daemon.writer_idle()
        yield daemon.root.stopService()
        sim.shutdown()
        sim.factory.disconnect_all()
        yield sim_port.stopListening()

    def run() -> None:
        result["gc_objects_before"] = len(gc.get_objects())
        go().addErrback(lambda failure: result.setdefault("error", failure.getTraceback())).addBoth(
            lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    shutil.rmtree(folder, ignore_errors=True)
    if "error" in result:
        raise SystemExit(result["error"])
    result.update(gc_pauses=gc_pauses, ring1=ring1, written=written, read=read, contents=contents, lookups=lookups,
                  lags=lags)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-rows", type=int, default=1_000_000, help="past calls loaded (default 1,000,000)")
    parser.add_argument("--customers", type=int, default=200_000, help="customers loaded (default 200,000)")
    parser.add_argument("--wrapup-share", type=float, default=0.2, help="share of past calls with a wrap-up")
    parser.add_argument("--agents", type=int, default=200, help="simulated agents, one SSE client each")
    parser.add_argument("--calls", type=int, default=500, help="calls kept in the simulated PBX at all times")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time after the warm-up")
    parser.add_argument("--warmup-s", type=float, default=10.0, help="time after the first calls not measured")
    parser.add_argument("--grace-s", type=float, default=2.0, help="wait for the window's last pops")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-settle", action="store_true",
                        help="what-if: leave start-up's objects to the garbage collector (the daemon moves them "
                             "out of its way once started: telephony.service.settle_after_start)")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL,
                        help="a database to connect to for CREATE DATABASE (env TELEPHONY_TEST_PG)")
    parser.add_argument("--database", default=None, help="name of the database created (default random)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    if args.customers < 1 or args.history_rows < 1 or args.agents < 2 or args.calls < 1:
        parser.error("customers, history rows and calls must be positive, agents at least 2")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    from telephony.store.upgrade import upgrade

    name = args.database or f"bench_screen_pop_{secrets.token_hex(4)}"
    began = time.monotonic()
    create_database(args.admin_url, name)
    try:
        url = database_url(args.admin_url, name)
        upgrade(url)
        loaded = load_history(url, customers=args.customers, rows=args.history_rows, agents=args.agents,
                              wrapup_share=args.wrapup_share, seed=0.42)
        load_s = time.monotonic() - began
        numbers = list(loaded["numbers"])
        random.Random(args.seed).shuffle(numbers)
        tokens = make_tokens(url, [str(1001 + i) for i in range(args.agents)])
        loaded["alone_ms"] = lookup_alone(url, numbers[-200:])
        result = run_reactor(args, url, numbers, tokens)
    finally:
        if not args.keep_database:
            drop_database(args.admin_url, name)

    w0, w1 = result["window"]
    ring1, written, read = result["ring1"], result["written"], result["read"]
    in_window = [o for o, at in ring1.items() if w0 <= at < w1]
    burst = [o for o, at in ring1.items() if at < w0]
    write_ms = [(written[o] - ring1[o]) * 1000 for o in in_window if o in written]
    read_ms = [(read[o] - ring1[o]) * 1000 for o in in_window if o in read]
    burst_ms = [(written[o] - ring1[o]) * 1000 for o in burst if o in written]
    popped = [result["contents"][o] for o in in_window if o in result["contents"]]
    lookups = [times for at, *times in result["lookups"] if w0 <= at < w1]
    wait_ms = [(b - s) * 1000 for s, b, e, r in lookups]
    thread_ms = [(e - b) * 1000 for s, b, e, r in lookups]
    back_ms = [(r - e) * 1000 for s, b, e, r in lookups]
    lag_ms = [x * 1000 for x in result["lags"]]
    steps = "  ".join(f"{k} {v:.1f} s" for k, v in loaded["steps"].items())
    print(f"database {name}: {args.history_rows} past calls, {args.customers} customers, {loaded['wrapups']} wrap-ups, "
          f"{loaded['tasks']} open tasks, {loaded['size'] / 2**20:.0f} MiB; loaded in {load_s:.1f} s ({steps})")
    print(f"callers with history: {len(loaded['numbers'])}, {loaded['rows_per_number']:.1f} past calls each on "
          f"average; "
          f"history query plan: {' / '.join(line.strip() for line in loaded['plan'].splitlines())}")
    print(f"simulated PBX: {args.agents} agents, {args.calls} concurrent calls; {result['calls_placed']} calls placed, "
          f"{result['calls_ended']} ended; SSE clients {result['clients']} connected, {result['clients_at_end']} at "
          f"the end")
    print(f"window {args.seconds:g} s after {args.warmup_s:g} s warm-up: rings {len(in_window)}, pops written "
          f"{len(write_ms)}, read by the clients {len(read_ms)}")
    if popped:
        print(f"pops: with a customer {sum(c for c, _, _, _ in popped) / len(popped):.0%}, history rows "
              f"{sum(h for _, h, _, _ in popped) / len(popped):.1f} on average, with a wrap-up "
              f"{sum(w for _, _, w, _ in popped) / len(popped):.1f}, store unavailable "
              f"{sum(u for _, _, _, u in popped)}")
    print(f"AMI arrival → pop written, ms:      {figures(write_ms)}")
    print(f"AMI arrival → pop read by client, ms: {figures(read_ms)}")
    print(f"start burst ({len(burst)} rings in the warm-up) → pop written, ms: {figures(burst_ms)}")
    print(f"store lookups in the window ({len(lookups)}), ms: wait for a thread {figures(wait_ms)}; "
          f"pop_facts in the thread {figures(thread_ms)}; commit and back to the reactor {figures(back_ms)}")
    print(f"store lookup alone (one at a time before the run, {len(loaded['alone_ms'])}), ms: "
          f"{figures(loaded['alone_ms'])}")
    print(f"reactor lag ms (10 ms samples, {len(lag_ms)}): {figures(lag_ms)}; the process used "
          f"{result['cpu_share']:.0%} of a core in the window (all threads; {os.cpu_count()} cores)")
    pauses = result["gc_pauses"]
    print(f"objects tracked by the garbage collector: {result['gc_objects_before']} when the reactor started, "
          f"{result['gc_objects']} once the calls ran")
    oldest = [(ms, freed) for g, ms, freed in pauses if g == 2]
    print(f"garbage collections in the window: {len(pauses)}, longest "
          f"{max((ms for _, ms, _ in pauses), default=0):.1f} ms; of the oldest generation {len(oldest)}: "
          + (", ".join(f"{ms:.1f} ms ({freed} objects freed)" for ms, freed in oldest) or "none"))
    what_if = " (what-if: start-up's objects left to the garbage collector)" if args.no_settle else ""
    print(f"run {time.monotonic() - began:.0f} s in all{what_if}")
    print(f"screen_pop calls={len(write_ms)} history_rows={args.history_rows} "
          f"p50_ms={percentile(write_ms, .5):.1f} p99_ms={percentile(write_ms, .99):.1f}")


if __name__ == "__main__":
    main()
