"""The demo stays a call centre worth watching (issue 12, item 14).

Before: agents paused by the guard never came back, sales was left with one agent, the service level
fell to 10 % and 86 "waiting too long" alerts buried the 4 misses.  Here the demo scenario plays for
20 simulated minutes against the daemon's own live model and ring guard (the guard's actions go to
the simulator as AMI actions), on a ``task.Clock``.
"""
from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from telephony.ami.protocol import Framer
from telephony.bus import EventBus
from telephony.config import RingPolicy
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.rings.guard import RingGuard
from telephony.rings.service import RingGuardService
from telephony.sim import SimulatedPBX
from telephony.sim.scenarios import ScenarioRun, scenario
from tests.simmatch import advance_to

MINUTES = 20


class LoopbackAMI:
    """The guard's actions, sent to the simulator through its in-process AMI client."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run

    def action(self, name, fields=None, *, timeout=None):
        self.run.client.send(name, list(fields or ()))
        return succeed(None)


def play_demo(seed: int) -> list[ev.DomainEvent]:
    preset = scenario("demo")
    clock = Clock()
    clock.advance(1_795_914_315.0)
    sim = SimulatedPBX(clock, config=preset.config(), seed=seed)
    model = LiveModel("demo", policy=lambda queue: RingPolicy())
    bus = EventBus()
    events: list[ev.DomainEvent] = []
    bus.subscribe(events.append)
    live = LiveService(model, bus, clock)
    live.startService()
    framer = Framer(expect_banner=False)
    sim.tap(lambda data: [live.on_ami_event(m, clock.seconds()) for m in framer.feed(data)])
    run = ScenarioRun(sim, preset).start()
    guard = RingGuardService(RingGuard(model, model.policy, ZoneInfo("Asia/Shanghai")), bus, LoopbackAMI(run), clock)
    guard.startService()
    advance_to(clock, clock.seconds() + MINUTES * 60)
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_demo_runs_at_a_service_level_a_centre_would_run_at_with_some_misses_each_minute(seed):
    events = play_demo(seed)
    calls = [e.call for e in events if isinstance(e, ev.CallEnded) and e.call.direction == "inbound"]
    in_time = [c for c in calls if c.outcome == "answered" and c.rings_to_answer <= 3]
    assert len(calls) > 5 * MINUTES
    assert len(in_time) / len(calls) >= 0.65, "most callers are answered within three rings"
    misses = [e for e in events if isinstance(e, ev.AgentMissed)]
    minutes_with_a_miss = {int((m.at - events[0].at) // 60) for m in misses}
    assert 0.5 * MINUTES <= len(misses) <= 3 * MINUTES and len(minutes_with_a_miss) >= MINUTES // 3
    alerts = Counter(e.kind for e in events if isinstance(e, ev.SupervisorAlert))
    assert alerts["long_wait"] < alerts["miss"], "long waits fold into one alert a queue: they bury nothing"


@pytest.mark.parametrize("seed", [1, 2])
def test_an_agent_paused_by_the_guard_puts_himself_back(seed):
    events = play_demo(seed)
    end = events[-1].at
    pauses = [e for e in events if isinstance(e, ev.AgentPaused) and e.queue == "support"]
    paused_at: dict[str, float] = {}
    returns = []
    for event in pauses:
        if event.paused:
            paused_at[event.agent] = event.at
        elif event.agent in paused_at:
            returns.append(event.at - paused_at.pop(event.agent))
    assert returns and all(45.0 <= back <= 90.0 for back in returns)
    assert all(end - since < 90.0 for since in paused_at.values()), "nobody stays paused for good"
