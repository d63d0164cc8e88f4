"""The call generator keeps 500 calls in the simulated PBX and every one of them ends cleanly."""
from __future__ import annotations

from collections import Counter

from twisted.internet.task import Clock

from telephony.sim import SimulatedPBX
from telephony.sim.scenarios import ScenarioRun, scenario
from tests.simmatch import advance_to

AGENTS, CALLS = 50, 500


def test_five_hundred_concurrent_calls_all_end_and_the_books_balance() -> None:
    preset = scenario("load", agents=AGENTS, calls=CALLS)
    clock = Clock()
    sim = SimulatedPBX(clock, config=preset.config(), seed=3)
    names: Counter[str] = Counter()
    sim.tap(lambda data: names.update([data[7:data.index(b"\r\n")].decode()]))
    run = ScenarioRun(sim, preset).start()
    advance_to(clock, 120.0)

    engine = sim.engine
    assert sim.stats.max_concurrent_calls == CALLS
    assert len(engine.calls) == CALLS
    waiting = sum(len(q.waiting) for q in engine.app_queue.queues.values())
    talking = sum(1 for e in engine.endpoints.values() if e.status == 2)
    assert waiting + talking == CALLS  # every call is either in a queue or with exactly one agent
    assert talking > AGENTS * 0.8  # agents free up and take the next caller within a second or so

    run.stop()
    advance_to(clock, 2000.0)
    handles = run.generator.handles
    assert handles and all(h.ended for h in handles)
    assert not engine.calls and not engine.channels
    stats = sim.stats
    assert stats.calls_placed == len(handles) == stats.calls_ended
    assert stats.calls_answered + stats.calls_abandoned + stats.calls_failed == stats.calls_ended
    assert stats.channels_created == stats.channels_hung_up == names["Newchannel"] == names["Hangup"]
    assert names["AgentConnect"] == names["AgentComplete"] == stats.calls_answered
    assert names["QueueCallerJoin"] == names["QueueCallerLeave"] == stats.calls_placed
    assert names["BridgeCreate"] == names["BridgeDestroy"]
    assert all(e.status == 1 for e in engine.endpoints.values())
    assert engine.pending_timers == AGENTS  # only the phones' periodic re-REGISTER is left
