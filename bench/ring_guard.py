"""How late does the ring guard act?  500 concurrent ringing calls from the simulated PBX.

    python bench/ring_guard.py [--calls 500] [--spread-s 15] [--cycle-s 5]

The simulated PBX runs in a process of its own (as Asterisk would), with one queue of more agents
than calls, none of whom ever answers, and a member timeout far beyond the guard's deadline.  The
calls arrive evenly over ``--spread-s`` seconds, so at the end of that spread they all ring at
once.  The daemon — store, call-log writer, live model, guard, as ``telephony run`` builds it —
connects over AMI/TCP with the default rule (3 rings of 5 s).

Lateness (CONTRACTS.md) is measured in the simulator: the moment it receives a ``Hangup`` action
minus the deadline computed from its own ring start (the moment it sent the leg's ``Newstate
Ringing``) plus ``3 × cycle``.  It includes both directions of the socket and everything the
daemon does.  The daemon's reactor lag is sampled every 10 ms.  Each caller hangs up a cycle
after the deadline, so every call is guarded once.

Last line: ``ring_guard calls=N p50_ms=A p99_ms=B max_ms=C reactor_lag_p99_ms=D``.
Goal: p99 ≤ 100 ms on a 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-ring-guard"
ALLOWED = 3


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


# -- the simulator's side --------------------------------------------------------------------------


def run_simulator(args: argparse.Namespace) -> None:
    from twisted.internet import reactor

    from telephony.sim.behaviour import NeverAnswer
    from telephony.sim.config import AgentConfig, MemberConfig, PBXConfig, QueueConfig
    from telephony.sim.simulator import SimulatedPBX

    agents = tuple(AgentConfig(str(10001 + i), f"Agent {10001 + i}") for i in range(args.calls + 20))
    members = tuple(MemberConfig(a.extension, a.name) for a in agents)
    deadline_s = ALLOWED * args.cycle_s
    config = PBXConfig(agents=agents, queues=(QueueConfig("support", "4000", members, timeout=deadline_s * 4),))
    sim = SimulatedPBX(reactor, config=config, users={"telephony": SECRET}, seed=11)
    for agent in agents:
        sim.agent(agent.extension).behaviour = NeverAnswer()
    ring_start: dict[str, float] = {}
    hangups: dict[str, float] = {}

    def watch(data: bytes) -> None:
        if data.startswith(b"Event: Newstate\r\n") and b"\r\nChannelState: 5\r\n" in data:
            channel = data.split(b"\r\nChannel: ", 1)[1].split(b"\r\n", 1)[0].decode()
            ring_start.setdefault(channel, reactor.seconds())

    sim.tap(watch)

    class Timed:
        """The simulator's action handler, noting when each Hangup arrives; the calls start
        a second after the daemon's first login (its resync is done by then)."""

        started = False

        def handle_action(self, session, action) -> None:
            if (action.action or "").lower() == "hangup":
                hangups.setdefault(action.get("Channel") or "", reactor.seconds())
            sim.actions.handle_action(session, action)

        def session_started(self, session) -> None:
            sim.actions.session_started(session)
            if not self.started:
                self.started = True
                reactor.callLater(1.0, start)

    sim.factory.handler = Timed()
    port = sim.listen(reactor, 0)
    handles = []

    def start() -> None:
        for i in range(args.calls):
            reactor.callLater(i * args.spread_s / args.calls, lambda n=i: handles.append(sim.place_call(
                caller=f"1380{n:07d}", name="张三", dial="4000", talk_s=1.0,
                patience_s=deadline_s + args.cycle_s)))
        reactor.callLater(args.spread_s + deadline_s + 3 * args.cycle_s, finish)

    def finish() -> None:
        lateness = [hangups[ch] - (ring_start[ch] + deadline_s) for ch in hangups if ch in ring_start]
        print(json.dumps({"lateness": lateness, "ringing_legs": len(ring_start),
                          "ended": sum(1 for h in handles if h.ended)}), flush=True)
        reactor.stop()

    print(json.dumps({"port": port.getHost().port}), flush=True)
    reactor.run()


# -- the daemon's side -----------------------------------------------------------------------------


class SimulatorProcess:
    """The simulator's process: one JSON object per stdout line; ``ended`` fires when it exits."""

    def __init__(self) -> None:
        from twisted.internet import defer, protocol

        class Lines(protocol.ProcessProtocol):
            def __init__(self) -> None:
                self.buffer = b""
                self.lines: defer.DeferredQueue = defer.DeferredQueue()
                self.ended: defer.Deferred = defer.Deferred()

            def outReceived(self, data: bytes) -> None:
                self.buffer += data
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    self.lines.put(json.loads(line))

            def processEnded(self, reason) -> None:
                self.ended.callback(None)

        self.protocol = Lines()

    def spawn(self, reactor, args: argparse.Namespace) -> None:
        argv = [sys.executable, __file__, "--role", "sim", "--calls", str(args.calls),
                "--spread-s", str(args.spread_s), "--cycle-s", str(args.cycle_s)]
        reactor.spawnProcess(self.protocol, sys.executable, argv, env=dict(os.environ), childFDs={1: "r", 2: 2})


def run_daemon(args: argparse.Namespace) -> dict:
    from twisted.internet import defer, reactor, task

    from telephony.config import parse_config
    from telephony.service import build_daemon
    from telephony.store.upgrade import upgrade

    os.environ["BENCH_AMI_SECRET"] = SECRET
    folder = tempfile.mkdtemp(prefix='ring-guard-')
    url = f"sqlite:///{folder}/bench.db"
    upgrade(url)
    lags: list[float] = []
    result: dict = {}
    last = [time.perf_counter()]

    def sample() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - last[0] - 0.010))
        last[0] = now

    @defer.inlineCallbacks
    def go():
        sim = SimulatorProcess()
        sim.spawn(reactor, args)
        port = (yield sim.protocol.lines.get())["port"]
        config = parse_config(
            f"pbx:\n  name: bench\n  ami:\n    host: 127.0.0.1\n    port: {port}\n    secret_env: BENCH_AMI_SECRET\n"
            f"rings:\n  cycle_s: {args.cycle_s}\n  allowed: {ALLOWED}\nstore:\n  url: {url}\n"
            f"  journal: {folder}/journal.jsonl\n  live_state: {folder}/live.json\n", "bench.yaml")
        daemon = build_daemon(config, reactor, web=False)
        daemon.root.startService()
        yield daemon.connection.when_synced()
        last[0] = time.perf_counter()
        sampler = task.LoopingCall(sample)
        sampler.start(0.010, now=False)
        result["sim"] = yield sim.protocol.lines.get()
        yield sim.protocol.ended
        sampler.stop()
        result["lags"] = lags
        result["misses"] = sum(daemon.guard.guard.misses_today.values())
        yield daemon.writer_idle()
        yield daemon.root.stopService()

    def run() -> None:
        go().addErrback(lambda failure: result.setdefault("error", failure.getTraceback())).addBoth(
            lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    if "error" in result:
        raise SystemExit(result["error"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--spread-s", type=float, default=15.0)
    parser.add_argument("--cycle-s", type=float, default=5.0)
    parser.add_argument("--role", choices=("daemon", "sim"), default="daemon", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "sim":
        run_simulator(args)
        return
    started = time.monotonic()
    result = run_daemon(args)
    lateness_ms = [x * 1000 for x in result["sim"]["lateness"]]
    lag_ms = [x * 1000 for x in result["lags"]]
    print(f"calls placed {args.calls} over {args.spread_s:g} s; legs that rang {result['sim']['ringing_legs']}; "
          f"guard hang-ups received {len(lateness_ms)}; misses counted {result['misses']}; "
          f"run {time.monotonic() - started:.0f} s")
    print(f"lateness ms: min {min(lateness_ms):.1f}  p50 {percentile(lateness_ms, .5):.1f}  "
          f"p99 {percentile(lateness_ms, .99):.1f}  max {max(lateness_ms):.1f}")
    print(f"reactor lag ms (10 ms samples, {len(lag_ms)}): p50 {percentile(lag_ms, .5):.1f}  "
          f"p99 {percentile(lag_ms, .99):.1f}  max {max(lag_ms):.1f}")
    print(f"ring_guard calls={len(lateness_ms)} p50_ms={percentile(lateness_ms, .5):.1f} "
          f"p99_ms={percentile(lateness_ms, .99):.1f} max_ms={max(lateness_ms):.1f} "
          f"reactor_lag_p99_ms={percentile(lag_ms, .99):.1f}")


if __name__ == "__main__":
    main()
