"""How fast do raw AMI bytes become live state?  Ours against panoramisk 1.4 and asterisk-ami 0.1.7.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/ami_ingest.py
        [--events 1000000] [--seed 1] [--repeat 3] [--no-cache] [--cache-dir var/bench] [--profile]

**The input.**  The simulated PBX (:mod:`telephony.sim`, the ``load`` scenario: 50 agents, 500
calls in the PBX at all times, on a ``task.Clock``) serves one in-process AMI client through the
real AMI server code, so the stream starts like a real connection: the banner, our ``Login`` and
Asterisk's answer (with ``FullyBooted`` and ``SuccessfulAuth``), then the events, until at least
``--events`` of them have been sent.  It is written as an "AMI capture v1" file with
:class:`~telephony.ami.capture.CaptureWriter`: the banner is a read of its own, and so is the answer
to ``Login`` (as in the real captures); every later read has a size drawn, with a
``random.Random(seed)``, from the sizes of the ``RECV`` records of ``tests/fixtures/ami-real/*.ami``
(median 737 B, 90th percentile 4 KB, largest 16 KB), so reads end anywhere, mid-message included,
as they do on a busy socket.  A read's time is the simulated instant its last byte was sent.  The
file is cached under ``var/bench/`` (git-ignored), named after everything that shapes it, so a
re-run skips the generation; the final ``NOTE`` of the file holds the event and message counts.

**What is timed** (wall time of the loop over the reads, on one core; best of ``--repeat`` runs):

* ours, as the daemon does it (``telephony/replay.py`` minus the bus): ``Framer().feed(read)``, and
  ``LiveModel().apply(message, t)`` for every event, ``t`` from the record header.  Messages are
  told apart as the AMI client does it (``Event`` first).  Parsing is lazy: a message is split into
  headers only when somebody asks for one;
* ours again, with a subscriber that reads one header of every event (``Linkedid``, the key of
  every call; an event without it is parsed in full to find that out): proof that laziness skips
  nothing a subscriber could ask for, and what it costs when one does;
* panoramisk 1.4: ``AMIProtocol.data_received(read)`` on a protocol attached to a real ``Manager``
  (``encoding="utf8"``) exactly as ``Manager.connection_made`` attaches it, with a ``*`` event
  callback that counts;
* asterisk-ami 0.1.7: ``AMIClient.listen()``, its own reading and parsing loop, run in this thread
  on a stand-in socket whose ``recv()`` hands out the same reads (``buffer_size`` 64 KiB, so every
  read fits one ``recv``), with an event listener that counts.  No loopback TCP is needed.

Every parser must see exactly the capture's events; the table says so, and the exit status is 1 if
one does not.  ``peak_rss_mb`` is the peak RSS (``ru_maxrss``) during our runs minus the RSS once the
input is in memory; the kernel's peak is reset at that moment (``/proc/self/clear_refs``), so
neither the generation nor the loading count, and ours is measured before the other libraries run.

Last line: ``ami_ingest events_per_s=N vs_panoramisk=R peak_rss_mb=M``.  Goals for the daemon:
≥ 100,000 events/s and ≥ 3× panoramisk; the table says whether they are met.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import io
import multiprocessing
import os
import pstats
import random
import re
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from twisted.internet.task import Clock

from telephony.ami.capture import CaptureWriter, iter_records, read_capture
from telephony.ami.protocol import Framer, Message, format_action
from telephony.live.model import LiveModel
from telephony.sim.scenarios import ScenarioRun, scenario
from telephony.sim.simulator import LoopbackClient, SimulatedPBX

ROOT = Path(__file__).resolve().parents[1]
REAL_CAPTURES = ROOT / "tests" / "fixtures" / "ami-real"
CACHE_DIR = ROOT / "var" / "bench"
#: bump when the generated stream changes shape, so that an old cached file is not reused
GENERATION = 1
AGENTS, CALLS = 50, 500
USER, SECRET = "bench", "bench-secret"
LOGIN_ID = "login-1"
CONNECTION = "c1"
SUBSCRIBER_HEADER = "Linkedid"
ASTERISK_AMI_RECV = 64 * 1024
GOAL_EVENTS_PER_S = 100_000
GOAL_VS_PANORAMISK = 3.0

Reads = Sequence[tuple[float, bytes]]

_TOTALS = re.compile(r"events=(\d+) messages=(\d+) reads=(\d+) generated_in_s=([\d.]+)")


# -- the input ----------------------------------------------------------------------------------------


def real_read_sizes(folder: Path = REAL_CAPTURES) -> list[int]:
    """The size of every ``RECV`` record of the real captures, in file order."""
    paths = sorted(folder.glob("*.ami"))
    if not paths:
        raise FileNotFoundError(f"no real captures (*.ami) in {folder}")
    return [len(r.payload) for path in paths for r in read_capture(path) if r.kind == "RECV"]


class _ReadCutter:
    """Cuts the bytes a client receives into reads whose sizes are drawn from ``sizes``."""

    def __init__(self, writer: CaptureWriter, sizes: Sequence[int], rng: random.Random) -> None:
        self._writer = writer
        self._sizes = sizes
        self._rng = rng
        self._pending = bytearray()
        self._size = rng.choice(sizes)
        self.reads = 0

    def received(self, data: bytes) -> None:
        self._pending += data

    def cut(self, t: float) -> None:
        """Write every read that the bytes sent by ``t`` fill up."""
        pending = self._pending
        while len(pending) >= self._size:
            self._write(t, bytes(pending[: self._size]))
            del pending[: self._size]
            self._size = self._rng.choice(self._sizes)

    def flush(self, t: float) -> None:
        """End the read here: the client reads before it writes (banner, then Login)."""
        if self._pending:
            self._write(t, bytes(self._pending))
            self._pending.clear()
            self._size = self._rng.choice(self._sizes)

    def _write(self, t: float, payload: bytes) -> None:
        self._writer.write(t, CONNECTION, "RECV", payload)
        self.reads += 1


class _CapturingClient(LoopbackClient):
    """A loopback AMI client that hands what it receives to a :class:`_ReadCutter` and counts it,
    instead of keeping every message as the scenario tests' client does."""

    def __init__(self, sim: SimulatedPBX, cutter: _ReadCutter) -> None:
        self.cutter = cutter
        self.event_count = 0
        self.message_count = 0
        super().__init__(sim)

    def received(self, data: bytes) -> None:
        self.cutter.received(data)
        # the server writes one message per write; the banner has no closing empty line
        self.message_count += data.count(b"\r\n\r\n")
        self.event_count += data.startswith(b"Event: ")


@dataclass(frozen=True)
class Generated:
    events: int
    messages: int
    reads: int
    seconds: float


def generate_capture(path: Path, *, events: int, seed: int, sizes: Sequence[int]) -> Generated:
    """Write a capture of at least ``events`` events of the ``load`` scenario to ``path``.

    The file appears only once complete (written aside, then renamed), so an interrupted run never
    leaves a truncated file in the cache.
    """
    started = time.perf_counter()
    preset = scenario("load", agents=AGENTS, calls=CALLS)
    clock = Clock()
    sim = SimulatedPBX(clock, config=preset.config(), users={USER: SECRET}, seed=seed)
    began = datetime.fromtimestamp(sim.engine.epoch0, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb", buffering=1 << 20) as out:
        writer = CaptureWriter(out)
        writer.write(0.0, "c0", "NOTE", f"AMI capture v1: {path.name} -- started {began}".encode())
        writer.write(0.0, "c0", "NOTE", (
            f"bench/ami_ingest.py: telephony.sim 'load' scenario, {AGENTS} agents, {CALLS} calls at all times, "
            f"seed {seed}; reads cut to sizes drawn from the RECV records of tests/fixtures/ami-real").encode())
        cutter = _ReadCutter(writer, sizes, random.Random(seed))
        clients: list[_CapturingClient] = []

        def connect(sim: SimulatedPBX) -> LoopbackClient:
            client = _CapturingClient(sim, cutter)
            peer = client.session.transport.getPeer()
            writer.write(clock.seconds(), CONNECTION, "OPEN",
                         f"{peer.host}:{peer.port} -> 127.0.0.1:5038".encode())  # type: ignore[attr-defined]
            cutter.flush(clock.seconds())
            fields = [("Username", USER), ("Secret", SECRET)]
            writer.write(clock.seconds(), CONNECTION, "SENT", format_action("Login", fields, action_id=LOGIN_ID))
            client.send("Login", fields, action_id=LOGIN_ID)
            cutter.flush(clock.seconds())
            clients.append(client)
            return client

        run = ScenarioRun(sim, preset, connect=connect).start()
        client = clients[0]
        while client.event_count < events and clock.calls:
            clock.advance(max(0.0, clock.calls[0].getTime() - clock.seconds()))
            cutter.cut(clock.seconds())
        cutter.flush(clock.seconds())
        run.stop()
        sim.shutdown()
        seconds = time.perf_counter() - started
        generated = Generated(client.event_count, client.message_count, cutter.reads, seconds)
        writer.write(clock.seconds(), "c0", "NOTE", (
            f"events={generated.events} messages={generated.messages} reads={generated.reads} "
            f"generated_in_s={seconds:.1f}").encode())
    os.replace(partial, path)
    return generated


def capture_name(events: int, seed: int, sizes: Sequence[int]) -> str:
    """The cache file's name: every parameter that shapes the stream is in it."""
    digest = hashlib.sha256(repr(list(sizes)).encode()).hexdigest()[:10]
    return f"ami-ingest-g{GENERATION}-e{events}-s{seed}-a{AGENTS}-c{CALLS}-sizes{digest}.ami"


@dataclass
class Capture:
    path: Path
    reads: list[tuple[float, bytes]]
    events: int
    messages: int
    generated_in_s: float
    cached: bool

    @property
    def size(self) -> int:
        return sum(len(chunk) for _, chunk in self.reads)


def load_capture(path: Path, *, cached: bool) -> Capture:
    """The reads of the capture's connection, and the counts its last NOTE states.

    Records are taken one at a time, so that no list of them leaves freed memory behind for the
    measured runs to reuse unseen.
    """
    with open(path, "rb") as f:
        data = f.read()
    reads: list[tuple[float, bytes]] = []
    totals = None
    for record in iter_records(data, name=str(path)):
        if record.kind == "RECV" and record.connection == CONNECTION:
            reads.append((record.t, record.payload))
        elif record.kind == "NOTE":
            totals = _TOTALS.search(record.text) or totals
    if totals is None:
        raise ValueError(f"{path}: no closing NOTE with the event counts; delete it or use --no-cache")
    return Capture(path, reads, int(totals[1]), int(totals[2]), float(totals[4]), cached)


def prepare_capture(events: int, seed: int, cache_dir: Path, *, refresh: bool,
                    sizes: Sequence[int]) -> Capture:
    """The cached capture for these parameters, generated first when missing (or ``refresh``)."""
    path = cache_dir / capture_name(events, seed, sizes)
    cached = path.exists() and not refresh
    if not cached:
        # in a process of its own: the simulator's garbage must not become room our runs reuse
        child = multiprocessing.get_context("fork").Process(
            target=generate_capture, args=(path,), kwargs={"events": events, "seed": seed, "sizes": sizes})
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"generating {path} failed (exit code {child.exitcode}); see above")
    return load_capture(path, cached=cached)


# -- the parsers --------------------------------------------------------------------------------------


class HeaderReader:
    """A subscriber that reads one header of every event, as any feature may."""

    def __init__(self, header: str) -> None:
        self.header = header
        self.found = 0

    def __call__(self, message: Message) -> None:
        self.found += message.get(self.header) is not None


def ingest_ours(reads: Reads, subscriber: Callable[[Message], object] | None = None) -> tuple[float, int]:
    """Seconds to frame every read and apply every event to a fresh live model; events seen."""
    feed, apply = Framer().feed, LiveModel().apply
    events = 0
    started = time.perf_counter()
    for t, chunk in reads:
        for message in feed(chunk):
            if message.event is not None:
                events += 1
                apply(message, t)
                if subscriber is not None:
                    subscriber(message)
    return time.perf_counter() - started, events


class _NullTransport:
    """Where panoramisk would write actions; nothing is sent in this benchmark."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def ingest_panoramisk(reads: Reads) -> tuple[float, int]:
    """Seconds for panoramisk's ``AMIProtocol.data_received`` over every read; events dispatched."""
    from panoramisk import Manager
    from panoramisk.ami_protocol import AMIProtocol

    loop = asyncio.new_event_loop()
    try:
        manager = Manager(loop=loop, encoding="utf8")
        seen = 0

        def count(manager: Manager, event: object) -> None:
            nonlocal seen
            seen += 1

        manager.register_event("*", count)
        protocol = AMIProtocol()
        protocol.connection_made(_NullTransport())
        connected = loop.create_future()
        connected.set_result((protocol.transport, protocol))
        manager.connection_made(connected)
        data_received = protocol.data_received
        started = time.perf_counter()
        for _, chunk in reads:
            data_received(chunk)
        elapsed = time.perf_counter() - started
        manager.close()
        # what panoramisk scheduled meanwhile (on_connect, its FullyBooted handler) runs and ends
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    return elapsed, seen


class _RecordedSocket:
    """Hands out the recorded reads as ``recv`` would (never more than asked), then end of stream."""

    def __init__(self, reads: Reads) -> None:
        self._chunks = iter([chunk for _, chunk in reads])
        self._current = b""

    def recv(self, size: int) -> bytes:
        if not self._current:
            self._current = next(self._chunks, b"")
        data, self._current = self._current[:size], self._current[size:]
        return data

    def close(self) -> None:
        pass


def ingest_asterisk_ami(reads: Reads) -> tuple[float, int]:
    """Seconds for asterisk-ami's ``AMIClient.listen`` over every read; events delivered."""
    from asterisk.ami import AMIClient

    client = AMIClient(buffer_size=ASTERISK_AMI_RECV)
    seen = 0

    def count(event: object, source: object) -> None:
        nonlocal seen
        seen += 1

    client.add_event_listener(count)
    # what AMIClient.connect() sets up, minus the TCP socket and the thread
    client._socket = _RecordedSocket(reads)
    client.finished = threading.Event()
    started = time.perf_counter()
    client.listen()
    return time.perf_counter() - started, seen


# -- measuring ------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    events: int
    best_s: float
    runs: int
    note: str = ""

    @property
    def events_per_s(self) -> float:
        return self.events / self.best_s if self.best_s > 0 else float("inf")


def best_of(name: str, runs: int, ingest: Callable[[], tuple[float, int]], note: str = "") -> Row:
    """Run ``ingest`` ``runs`` times; the fastest run, and the events the runs saw (they must agree)."""
    times: list[float] = []
    counts: set[int] = set()
    for _ in range(runs):
        gc.collect()
        seconds, events = ingest()
        times.append(seconds)
        counts.add(events)
    if len(counts) != 1:
        raise RuntimeError(f"{name}: the runs saw different numbers of events: {sorted(counts)}")
    return Row(name, counts.pop(), min(times), runs, note)


def rss_kib() -> int:
    """The resident set size now, in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def reset_peak_rss() -> bool:
    """Make ``ru_maxrss`` start again from the RSS now (Linux ≥ 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def profile_ours(reads: Reads, top: int = 20) -> str:
    """cProfile of one run of ours: the ``top`` functions by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(ingest_ours, reads)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


@dataclass
class Result:
    capture: Capture
    ours: Row
    subscribed: Row
    others: list[Row]
    rss_after_load_mb: float
    peak_rss_mb: float
    peak_reset: bool
    sizes: list[int]
    header_present: int
    profile: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def panoramisk(self) -> Row:
        return next(r for r in self.others if r.name.startswith("panoramisk"))

    @property
    def rows(self) -> list[Row]:
        return [self.ours, self.subscribed, *self.others]

    @property
    def counts_agree(self) -> bool:
        return all(row.events == self.capture.events for row in self.rows)


def benchmark(*, events: int, seed: int, repeat: int, cache_dir: Path, refresh: bool = False,
              profile: bool = False, log: Callable[[str], None] = print) -> Result:
    """Prepare the capture, then time ours, ours with a subscriber, panoramisk and asterisk-ami."""
    sizes = real_read_sizes()
    log(f"capture: {events:,} events of the 'load' scenario (seed {seed}) …")
    capture = prepare_capture(events, seed, cache_dir, refresh=refresh, sizes=sizes)
    how = "cached, generated earlier" if capture.cached else "generated now"
    log(f"capture: {capture.path} ({how} in {capture.generated_in_s:.1f} s)")

    gc.collect()
    peak_reset = reset_peak_rss()
    baseline = rss_kib()
    log(f"ours: {repeat} run(s) …")
    ours = best_of("telephony (Framer + LiveModel)", repeat, lambda: ingest_ours(capture.reads), "lazy parsing")
    reader = HeaderReader(SUBSCRIBER_HEADER)
    subscribed = best_of("telephony + subscriber", repeat, lambda: ingest_ours(capture.reads, reader),
                         f"reads {SUBSCRIBER_HEADER} of every event")
    peak = peak_rss_kib()
    profile_text = profile_ours(capture.reads) if profile else ""

    others = []
    log(f"panoramisk: {repeat} run(s) …")
    others.append(best_of("panoramisk 1.4", repeat, lambda: ingest_panoramisk(capture.reads),
                          "Manager, utf8, '*' callback"))
    skipped = []
    try:
        import asterisk.ami  # noqa: F401  (an optional comparison)
    except ImportError:
        skipped.append("asterisk-ami 0.1.7 is not installed (pip install -e '.[bench]')")
    else:
        log(f"asterisk-ami: {repeat} run(s) …")
        others.append(best_of("asterisk-ami 0.1.7", repeat, lambda: ingest_asterisk_ami(capture.reads),
                              "AMIClient.listen, recorded recv()"))
    return Result(capture, ours, subscribed, others, baseline / 1024, max(0, peak - baseline) / 1024, peak_reset,
                  sizes, reader.found // repeat,  # every run sees the same events
                  profile_text, skipped)


# -- the report ---------------------------------------------------------------------------------------


def _quantiles(values: Iterable[int]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "none"

    def at(share: float) -> int:
        return ordered[int(share * (len(ordered) - 1))]

    return f"median {at(0.5):,} B, p90 {at(0.9):,} B, max {ordered[-1]:,} B"


def report(result: Result) -> str:
    capture, ours, panoramisk = result.capture, result.ours, result.panoramisk
    ratio = ours.events_per_s / panoramisk.events_per_s
    lines = [
        f"input: {capture.events:,} events ({capture.messages:,} messages) in {len(capture.reads):,} reads, "
        f"{capture.size / 1e6:.1f} MB",
        f"  read sizes here:       {_quantiles(len(c) for _, c in capture.reads)}",
        f"  read sizes, real AMI:  {_quantiles(result.sizes)} ({len(result.sizes):,} reads)",
        f"  generation: {capture.generated_in_s:.1f} s{' (cached: skipped this time)' if capture.cached else ''}",
        "",
        f"{'parser':<32}{'events':>12}{'best s':>10}{'events/s':>12}{'ours ÷ it':>11}{'runs':>6}  note",
    ]
    for row in result.rows:
        versus = f"{ours.events_per_s / row.events_per_s:.2f}" if row in result.others else ""
        lines.append(f"{row.name:<32}{row.events:>12,}{row.best_s:>10.3f}{row.events_per_s:>12,.0f}"
                     f"{versus:>11}{row.runs:>6}  {row.note}")
    lines += [f"  ({reason})" for reason in result.skipped]
    lines.append(f"  subscriber found {SUBSCRIBER_HEADER} in {result.header_present:,} of "
                 f"{result.subscribed.events:,} events; the rest were parsed in full to say so")
    if not result.counts_agree:
        lines.append(f"  COUNTS DISAGREE: the capture holds {capture.events:,} events; see the events column")
    lines += [
        "",
        f"memory: RSS {result.rss_after_load_mb:.1f} MB once the input is loaded; peak during ours "
        f"+{result.peak_rss_mb:.1f} MB" + ("" if result.peak_reset else
                                          " (peak could not be reset: it may include loading)"),
        f"goals: ≥{GOAL_EVENTS_PER_S:,} events/s: {'met' if ours.events_per_s >= GOAL_EVENTS_PER_S else 'MISSED'}; "
        f"≥{GOAL_VS_PANORAMISK:g}× panoramisk: {'met' if ratio >= GOAL_VS_PANORAMISK else 'MISSED'}",
    ]
    if result.profile:
        lines += ["", "profile of one run of ours (by own time):", result.profile.rstrip()]
    lines.append(f"ami_ingest events_per_s={ours.events_per_s:.0f} vs_panoramisk={ratio:.2f} "
                 f"peak_rss_mb={result.peak_rss_mb:.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulator and of the read sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per parser; the best counts (default 3)")
    parser.add_argument("--no-cache", action="store_true", help="generate the capture again even if cached")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help=f"where captures are kept ({CACHE_DIR})")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run of ours")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = benchmark(events=args.events, seed=args.seed, repeat=args.repeat, cache_dir=args.cache_dir,
                       refresh=args.no_cache, profile=args.profile, log=log)
    print(report(result))
    return 0 if result.counts_agree else 1


if __name__ == "__main__":
    sys.exit(main())
