"""Named presets for ``telephony sim --scenario``, for tests and for the demo.

* ``idle``: nothing happens until a client acts.
* ``demo``: six agents of every kind (1001 quick, 1002 never answers, 1003 slow, 1004 now and then
  rejects, 1005 away from his desk for the first minute, then quick, 1006 quick); within the first
  minute one call is answered quickly, one rings out past 15 s (1002) before 1003 takes it, and one
  caller gives up on 1005; then a call every ten seconds or so, a load the staff can carry: most
  callers are answered within three rings (about 80 %), and a ring runs out about once a minute.
  Agents paused by the guard put themselves back after a minute or so, as people do.
* ``busy-hour``: like capture 21: 3 agents, 40 callers over ~3 minutes.
* ``load``: ``agents`` agents and ``calls`` calls kept in the PBX at all times.
* ``capture-02`` … ``capture-23a``: the single-call scripts of the real captures (same callers,
  same phone behaviour, the same actions at the same moments), for the capture matcher.

A scenario is a list of timed steps; :class:`ScenarioRun` plays them on a
:class:`~.simulator.SimulatedPBX`, sending actions through an in-process AMI client so that the
server answers them exactly as it answers a TCP client.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from .behaviour import Answer, Behaviour, NeverAnswer, Reject, Seconds
from .calls import CallHandle, CallSpec
from .config import PBXConfig
from .generator import GeneratorSpec
from .simulator import LoopbackClient, SimulatedPBX

__all__ = ["SCENARIOS", "Scenario", "ScenarioRun", "Step", "scenario"]

Fields = Sequence[tuple[str, object]]


@dataclass(frozen=True, slots=True)
class Step:
    """Something that happens ``at`` seconds after the scenario starts."""

    at: float
    kind: str  #: call, behave, action, unregister, register, restart, reconnect
    spec: CallSpec | None = None
    extension: str = ""
    behaviour: Behaviour | None = None
    action: str = ""
    fields: Fields | Callable[["ScenarioRun"], Fields] = ()


def call(at: float, caller: str, name: str, dial: str, talk_s: float = 5.0, patience_s: float | None = None) -> Step:
    return Step(at, "call", spec=CallSpec(caller, name, dial, talk_s, patience_s))


def behave(at: float, extension: str, behaviour: Behaviour) -> Step:
    return Step(at, "behave", extension=extension, behaviour=behaviour)


def act(at: float, action: str, fields: Fields | Callable[["ScenarioRun"], Fields] = ()) -> Step:
    return Step(at, "action", action=action, fields=fields)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    config: Callable[[], PBXConfig] = PBXConfig.default
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    generator: GeneratorSpec | None = None
    generator_at: float = 0.0
    length_s: float = 0.0  #: when the scripted part is over (the generator may go on)
    #: agents paused by somebody else unpause themselves this long later (None: they wait)
    agents_return_after_s: Seconds | None = None


class ScenarioRun:
    """One scenario playing on one simulator."""

    def __init__(self, sim: SimulatedPBX, scenario: Scenario,
                 connect: Callable[[SimulatedPBX], LoopbackClient] | None = None) -> None:
        self.sim = sim
        self.scenario = scenario
        self._connect = connect or _login_first_user
        self.clients: list[LoopbackClient] = []
        self.calls: list[CallHandle] = []
        self.generator = None
        self._timers: list = []

    @property
    def client(self) -> LoopbackClient:
        return self.clients[-1]

    def start(self) -> "ScenarioRun":
        for extension, behaviour in self.scenario.behaviours.items():
            self.sim.agent(extension).behaviour = behaviour
        for endpoint in self.sim.engine.endpoints.values():
            endpoint.returns_after_s = self.scenario.agents_return_after_s
        self.clients.append(self._connect(self.sim))
        # the script stands outside the PBX: its timers are its own and survive a restart
        clock, scale = self.sim.clock, self.sim.engine.time_scale
        for step in self.scenario.steps:
            self._timers.append(clock.callLater(step.at / scale, self._do, step))
        if self.scenario.generator is not None:
            self._timers.append(clock.callLater(self.scenario.generator_at / scale, self._generate))
        return self

    def stop(self) -> None:
        """Cancel what the script has not done yet and stop its generator."""
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        if self.generator is not None:
            self.generator.stop()

    def _generate(self) -> None:
        assert self.scenario.generator is not None
        self.generator = self.sim.run_generator(self.scenario.generator)

    def _do(self, step: Step) -> None:
        sim = self.sim
        if step.kind == "call":
            assert step.spec is not None
            self.calls.append(sim.engine.place_call(step.spec))
        elif step.kind == "behave":
            assert step.behaviour is not None
            sim.agent(step.extension).behaviour = step.behaviour
        elif step.kind == "action":
            fields = step.fields(self) if callable(step.fields) else step.fields
            self.client.send(step.action, list(fields))
        elif step.kind == "unregister":
            sim.agent(step.extension).unregister()
        elif step.kind == "register":
            sim.agent(step.extension).register()
        elif step.kind == "restart":
            sim.restart()
        elif step.kind == "reconnect":
            self.clients.append(self._connect(sim))
        else:
            raise ValueError(f"unknown step kind {step.kind!r}")

    def channel(self, prefix: str, index: int = -1) -> str:
        """The name of a channel seen so far (dead or alive), e.g. the latest ``PJSIP/1001-…``."""
        names = [m.get("Channel") for c in self.clients for m in c.messages
                 if m.event == "Newchannel" and (m.get("Channel") or "").startswith(prefix)]
        if not names:
            raise LookupError(f"no channel {prefix}… yet")
        return str(names[index])


def _login_first_user(sim: SimulatedPBX) -> LoopbackClient:
    client = LoopbackClient(sim)
    username, secret = next(iter(sim.factory.users.items()))
    client.login(username, secret)
    return client


# -- the presets -----------------------------------------------------------------------------------------

#: the demo's load: with talk times of 5–30 s, about two of its four answering agents are busy
DEMO_CALLS_PER_MIN = 6.0
#: how long a paused demo agent takes to come back (a person, not a machine: it varies)
DEMO_BACK_AFTER_S = (45.0, 90.0)


def _demo() -> Scenario:
    agents = {"1001": "quick", "1002": "never", "1003": "slow", "1004": "rejecting", "1005": "quick",
              "1006": "quick"}
    first_minute = {**agents, "1005": "never"}
    from .generator import PROFILES

    return Scenario(
        "demo", "six agents of every kind; a quick answer, a ring-out past 15 s and an abandon in the first minute",
        # a call centre run by the guard: member timeout beyond its 15 s deadline, no lab queues
        config=lambda: PBXConfig.with_agents(6, member_timeout=18.0, lab_queues=False),
        behaviours={ext: PROFILES[p] for ext, p in first_minute.items()},
        steps=(
            call(2.0, "13800138000", "张三", "4000", talk_s=45.0),
            call(5.0, "13912345678", "Wang Wei", "4000", talk_s=20.0),
            call(8.0, "13700001111", "李娜", "4001", talk_s=10.0, patience_s=12.0),
        ),
        generator=GeneratorSpec(rate_per_min=DEMO_CALLS_PER_MIN, agents=agents), generator_at=30.0, length_s=60.0,
        agents_return_after_s=DEMO_BACK_AFTER_S,
    )


def _screen_pop() -> Scenario:
    """The agent screen's walk-through (the browser tests play it): one customer calls twice, the
    second time writing his number another way; in between an agent who never answers rings out."""
    return Scenario(
        "screen-pop", "张三 calls support twice (1001 answers at ring 3); a sales call rings out at 1002",
        config=lambda: PBXConfig.with_agents(2, member_timeout=18.0, lab_queues=False),
        behaviours={"1001": Answer(after_s=11.0), "1002": NeverAnswer()},
        steps=(
            call(6.0, "13800138000", "张三", "4000", talk_s=6.0),
            call(12.0, "13912345678", "<img src=x onerror=alert(1)>", "4001", talk_s=5.0, patience_s=24.0),
            call(45.0, "013800138000", "张三", "4000", talk_s=20.0),
        ),
        length_s=70.0,
    )


def _busy_hour() -> Scenario:
    return Scenario(
        "busy-hour", "like capture 21: 3 agents, 40 callers over about 3 minutes",
        generator=GeneratorSpec(rate_per_min=13.0, dial_mix=(("4000", 27.0), ("4001", 13.0)), talk_s=(5.0, 30.0),
                                impatient_share=0.2, patience_s=(10.0, 40.0), chinese_share=0.4, max_calls=40,
                                agents={e: "busy-hour" for e in ("1001", "1002", "1003")}),
        generator_at=5.8, length_s=400.0,
    )


def load(agents: int = 50, calls: int = 500) -> Scenario:
    return Scenario(
        "load", f"{agents} agents, {calls} calls in the PBX at all times",
        config=lambda: PBXConfig.with_agents(agents),
        generator=GeneratorSpec(concurrent_calls=calls, talk_s=(20.0, 60.0), impatient_share=0.0,
                                agents={str(1001 + i): "quick" for i in range(agents)}),
    )


def _caller(run: ScenarioRun) -> str:
    return run.channel("PJSIP/carrier")


def _answer(after_s: float, hangup_after_s: float | None = None) -> Answer:
    """The capture scripts pin the order of the offer events to the one their capture shows."""
    return Answer(after_s, hangup_after_s, ring_first=False)


_NEVER = NeverAnswer(ring_first=False)
STANDARD = {"1001": _NEVER, "1002": _NEVER, "1003": _NEVER}


def _captures() -> list[Scenario]:
    early = PBXConfig.early
    return [
        Scenario("capture-02", "02: 张三 in support, 1001 answers after 4 s, talks 5 s", early,
                 {**STANDARD, "1001": _answer(4.0)}, (call(0.11, "13800138000", "张三", "4000", 5.0),), length_s=12.0),
        Scenario("capture-03", "03: 1001 rings out (15 s), retry 2 s, 1002 answers after 3 s", early,
                 {**STANDARD, "1002": _answer(3.0)}, (call(0.11, "13912345678", "Wang Wei", "4000", 5.0),),
                 length_s=28.0),
        Scenario("capture-04", "04: Redirect of the caller from support to sales while 1001 rings", early,
                 {**STANDARD, "1003": _answer(3.0)},
                 (call(0.11, "13700001111", "Li Lei", "4000", 5.0),
                  act(5.11, "Redirect", lambda r: [("Channel", _caller(r)), ("Context", "from-carrier"),
                                                   ("Exten", "4001"), ("Priority", "1")])), length_s=16.0),
        Scenario("capture-05", "05: the caller gives up after 8 s while 1001 rings", early, dict(STANDARD),
                 (call(0.11, "13600002222", "Zhao Min", "4000", patience_s=8.0),), length_s=10.0),
        Scenario("capture-06", "06: Originate callbacks: answered, no answer, 486, no such endpoint",
                 lambda: replace(PBXConfig.early(), queues_reloaded=False),
                 dict(STANDARD), (
                     behave(0.0, "1002", _answer(3.0, hangup_after_s=6.0)),
                     act(0.003, "Originate", [("Channel", "PJSIP/1002"), ("Context", "agents"),
                                              ("Exten", "13900139000"), ("Priority", "1"),
                                              ("CallerID", '"Callback" <4000>'), ("Timeout", "20000"),
                                              ("Async", "true"), ("Variable", "CALLBACK_ID=cb-0001"),
                                              ("Account", "callback")]),
                     behave(12.0, "1002", NeverAnswer(ring_first=True)),
                     act(12.016, "Originate", [("Channel", "PJSIP/1002"), ("Context", "agents"),
                                               ("Exten", "13900139001"), ("Priority", "1"),
                                               ("CallerID", '"Callback" <4000>'), ("Timeout", "10000"),
                                               ("Async", "true"), ("Variable", "CALLBACK_ID=cb-0002")]),
                     behave(25.0, "1003", Reject()),
                     act(25.03, "Originate", [("Channel", "PJSIP/1003"), ("Context", "agents"),
                                              ("Exten", "13900139002"), ("Priority", "1"),
                                              ("CallerID", '"Callback" <4000>'), ("Timeout", "10000"),
                                              ("Async", "true"), ("Variable", "CALLBACK_ID=cb-0003")]),
                     act(28.033, "Originate", [("Channel", "PJSIP/1009"), ("Context", "agents"),
                                               ("Exten", "13900139003"), ("Priority", "1"), ("Timeout", "10000"),
                                               ("Async", "true")]),
                 ), length_s=31.0),
        Scenario("capture-07", "07: MixMonitor on the caller 1 s after the answer, stopped 5 s later", early,
                 {**STANDARD, "1001": _answer(2.0)}, (
                     call(0.11, "13500003333", "Sun Li", "4000", 12.0),
                     act(3.118, "MixMonitor", lambda r: [("Channel", _caller(r)),
                                                         ("File", "/var/spool/asterisk/monitor/test.wav")]),
                     act(8.118, "StopMixMonitor", lambda r: [("Channel", _caller(r))]),
                 ), length_s=17.0),
        Scenario("capture-08", "08: one caller talking, one waiting; the status actions", early,
                 {**STANDARD, "1001": _answer(1.0)}, (
                     call(0.11, "13800001111", "Zhou Jie", "4000", 15.0),
                     call(1.235, "13800002222", "Wu Fang", "4000", patience_s=10.0),
                     *(act(3.237, name) for name in ("QueueStatus", "QueueSummary", "CoreShowChannels", "Status",
                                                     "PJSIPShowEndpoints", "PJSIPShowContacts")),
                 ), length_s=19.0),
        Scenario("capture-09", "09: QueuePause of 1001 everywhere and of 1002 in support; an unknown interface",
                 early, dict(STANDARD), (
                     act(0.001, "QueuePause", [("Interface", "PJSIP/1001"), ("Paused", "true"),
                                               ("Reason", "午休 lunch")]),
                     act(1.002, "QueueStatus", [("Queue", "support")]),
                     act(2.003, "QueuePause", [("Interface", "PJSIP/1001"), ("Paused", "false")]),
                     act(3.003, "QueuePause", [("Queue", "support"), ("Interface", "PJSIP/1002"), ("Paused", "true"),
                                               ("Reason", "training")]),
                     act(4.004, "QueuePause", [("Queue", "support"), ("Interface", "PJSIP/1002"),
                                               ("Paused", "false")]),
                     act(5.005, "QueuePause", [("Interface", "PJSIP/1009"), ("Paused", "true"), ("Reason", "nobody")]),
                 ), length_s=7.0),
        Scenario("capture-10", "10: the three phones unregister, and register again 9.7 s later", early,
                 dict(STANDARD), (
                     *(Step(0.011 + i * 0.003, "unregister", extension=e) for i, e in enumerate(("1001", "1002", "1003"))),
                     *(Step(9.7 + i * 0.003, "register", extension=e) for i, e in enumerate(("1001", "1002", "1003"))),
                 ), length_s=17.6),
        Scenario("capture-15", "15: core restart now; a new login 0.6 s later, FullyBooted 0.18 s after it", early,
                 dict(STANDARD), (Step(1.0, "restart"), Step(1.602, "reconnect")), length_s=36.0),
        Scenario("capture-16", "16: guard queue; AMI Hangup (Cause 19) of 1001's ringing leg 15 s after AgentCalled",
                 PBXConfig.default, {**STANDARD, "1001": NeverAnswer(ring_first=True),
                                     "1002": _answer(3.0)}, (
                     call(0.1, "13811112222", "钱七", "4002", 5.0),
                     act(15.102, "Hangup", lambda r: [("Channel", r.channel("PJSIP/1001")), ("Cause", "19")]),
                 ), length_s=26.0),
        Scenario("capture-17", "17: Hangup races: a gone leg, an answered leg, a regex with no match",
                 PBXConfig.default, {**STANDARD, "1001": _NEVER}, (
                     call(0.12, "13866661111", "周九", "4000", patience_s=5.0),
                     act(6.12, "Hangup", lambda r: [("Channel", r.channel("PJSIP/1001"))]),
                     behave(8.0, "1001", _answer(3.0)),
                     call(8.25, "13866662222", "Lin Tao", "4002", 20.0),
                     act(12.25, "Hangup", lambda r: [("Channel", r.channel("PJSIP/1001"))]),
                     act(14.26, "Hangup", [("Channel", r"/^PJSIP\/1001-.*$/")]),
                 ), length_s=16.3),
        Scenario("capture-18", "18: 1001 paused everywhere; the call goes to 1002; unpause; QueueStatus",
                 PBXConfig.default, {**STANDARD, "1002": _answer(2.0)}, (
                     act(0.002, "QueuePause", [("Interface", "PJSIP/1001"), ("Paused", "true"),
                                               ("Reason", "振铃未接")]),
                     call(1.1, "13877778888", "冯涛", "4000", 4.0),
                     act(8.15, "QueuePause", [("Interface", "PJSIP/1001"), ("Paused", "false"), ("Reason", "")]),
                     act(9.15, "QueueStatus", [("Queue", "support")]),
                 ), length_s=11.2),
        Scenario("capture-20", "20: autopause queue: 1001 rings out and is paused by app_queue; 1002 answers",
                 PBXConfig.default, {**STANDARD, "1001": _NEVER,
                                     "1002": _answer(2.0)}, (
                     call(0.1, "13899990000", "许明", "4003", 3.0),
                     act(23.16, "QueuePause", [("Queue", "autopause"), ("Interface", "PJSIP/1001"),
                                               ("Paused", "false")]),
                 ), length_s=25.2),
        Scenario("capture-22", "22: MixMonitor, muted for 3 s, stopped", PBXConfig.default,
                 {**STANDARD, "1001": _answer(2.0)}, (
                     call(0.11, "13500004444", "何丽", "4000", 14.0),
                     act(3.123, "MixMonitor", lambda r: [("Channel", _caller(r)),
                                                         ("File", "/var/spool/asterisk/monitor/mute-test.wav")]),
                     act(5.123, "MixMonitorMute", lambda r: [("Channel", _caller(r)), ("Direction", "both"),
                                                             ("State", "1")]),
                     act(8.123, "MixMonitorMute", lambda r: [("Channel", _caller(r)), ("Direction", "both"),
                                                             ("State", "0")]),
                     act(11.123, "StopMixMonitor", lambda r: [("Channel", _caller(r))]),
                 ), length_s=19.2),
        Scenario("capture-23a", "23a: Redirect of the bridged caller to agents,1003,1", PBXConfig.default,
                 {**STANDARD, "1001": _answer(2.0), "1003": _answer(2.0)}, (
                     call(0.12, "13700005555", "Xie Fang", "4000", 8.0),
                     act(4.124, "Redirect", lambda r: [("Channel", _caller(r)), ("Context", "agents"),
                                                      ("Exten", "1003"), ("Priority", "1")]),
                 ), length_s=12.0),
    ]


def _all() -> dict[str, Scenario]:
    found = [Scenario("idle", "no calls; the PBX answers actions"), _demo(), _screen_pop(), _busy_hour(), load(),
             *_captures()]
    return {s.name: s for s in found}


SCENARIOS: dict[str, Scenario] = _all()


def scenario(name: str, *, agents: int | None = None, calls: int | None = None) -> Scenario:
    """A preset by name; ``load`` takes ``agents``/``calls``.  KeyError names the known ones."""
    if name == "load":
        return load(agents or 50, calls or 500)
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]

