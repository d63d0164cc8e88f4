"""The call generator: callers arriving at random, agents with answer-time profiles.

Arrivals are a Poisson process (exponential gaps) at ``rate_per_min``, or, with
``concurrent_calls``, a constant population: every call that ends is replaced at once (the load
scenario keeps 500 calls in the PBX).  Each caller gets a distinct mobile number (138…, 139…),
often a Chinese display name (张三, 李娜, 王伟…), a dialled number from ``dial_mix``, a talk
time, and with probability ``impatient_share`` a patience of 10–40 s.  All choices come from the
PBX's seeded ``random.Random``, so a seed reproduces the run.

The generator stands outside the PBX (it is the world calling in): its timers are its own, so a
PBX restart does not stop it; calls it places while the PBX is down fail at once.

Agent profiles (``GeneratorSpec.agents`` maps an extension to one; the rest keep theirs):
``quick`` answers after 2–4 s, ``slow`` after 8–14 s (past the third ring), ``never`` never
answers, ``rejecting`` answers after 2–6 s but now and then sends 486 or declines with 603.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .behaviour import Answer, Behaviour, Decline, Mixed, NeverAnswer, Reject, Seconds, pick
from .calls import CallHandle, CallSpec

if TYPE_CHECKING:
    from .pbx import PBX

__all__ = ["CallGenerator", "GeneratorSpec", "PROFILES", "CHINESE_NAMES", "LATIN_NAMES"]

PROFILES: dict[str, Behaviour] = {
    "quick": Answer(after_s=(2.0, 4.0)),
    "slow": Answer(after_s=(8.0, 14.0)),
    "never": NeverAnswer(),
    "rejecting": Mixed(((0.8, Answer(after_s=(2.0, 6.0))), (0.1, Reject()), (0.1, Decline(after_s=(6.0, 12.0))))),
    #: capture 21's agents: answer 2–12 s after ringing, sometimes never, once a 603
    "busy-hour": Mixed(((0.82, Answer(after_s=(2.0, 12.0))), (0.15, NeverAnswer()),
                        (0.03, Decline(after_s=(8.0, 12.0))))),
}

CHINESE_NAMES = ("张三", "李娜", "王伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴芳", "徐磊", "孙丽",
                 "朱琳", "马超", "胡军", "郭静", "林雪", "何丽", "高峰", "罗斌", "宋佳", "郑辉", "谢芳", "唐宁")
LATIN_NAMES = ("Wang Wei", "Li Lei", "Zhao Min", "Sun Li", "Zhou Jie", "Wu Fang", "Lin Tao", "Han Mei",
               "Xie Fang", "Gu Yue", "Zhu Qi", "He Ping", "Feng Lu", "Luo Yi", "Peng Bo", "Sun Yue")
RETRY_WHILE_DOWN = 1.0  #: seconds before a caller whose call failed during a restart tries again
MOBILE_PREFIXES = ("138", "139", "137", "136", "135", "150", "159", "186", "189", "158")


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    rate_per_min: float = 6.0  #: mean arrivals per minute (Poisson)
    dial_mix: tuple[tuple[str, float], ...] = (("4000", 2.0), ("4001", 1.0))
    talk_s: Seconds = (5.0, 30.0)
    impatient_share: float = 0.2
    patience_s: Seconds = (10.0, 40.0)
    chinese_share: float = 0.4  #: share of callers whose display name is Chinese
    max_calls: int | None = None  #: stop after this many calls (None: run until stopped)
    duration_s: float | None = None  #: stop placing calls after this long
    concurrent_calls: int | None = None  #: keep this many calls running instead of Poisson arrivals
    agents: dict[str, str] = field(default_factory=dict)  #: extension → profile name

    def __post_init__(self) -> None:
        if self.rate_per_min <= 0 and self.concurrent_calls is None:
            raise ValueError("rate_per_min must be positive")
        unknown = set(self.agents.values()) - set(PROFILES)
        if unknown:
            raise ValueError(f"unknown agent profiles {sorted(unknown)}; known: {sorted(PROFILES)}")


class CallGenerator:
    """Places calls on the engine according to a :class:`GeneratorSpec`; :meth:`stop` ends it."""

    def __init__(self, pbx: "PBX", spec: GeneratorSpec) -> None:
        self.pbx = pbx
        self.spec = spec
        self.handles: list[CallHandle] = []
        self.running = False
        self._numbers: set[str] = set()
        self._timer = None
        self._retries: list = []
        self._started = 0.0

    def start(self) -> None:
        for extension, profile in self.spec.agents.items():
            self.pbx.endpoints[extension].behaviour = PROFILES[profile]
        self.running = True
        self._started = self.pbx.now()
        if self.spec.concurrent_calls is not None:
            for _ in range(self.spec.concurrent_calls):
                self._place()
        else:
            self._schedule()

    def stop(self) -> None:
        self.running = False
        for timer in [self._timer, *self._retries]:
            if timer is not None and timer.active():
                timer.cancel()
        self._timer = None
        self._retries.clear()

    def _after(self, delay: float, fn) -> None:
        self._timer = self.pbx.clock.callLater(delay / self.pbx.time_scale, fn)

    @property
    def active(self) -> int:
        return sum(1 for h in self.handles if not h.ended)

    def _may_place(self) -> bool:
        spec = self.spec
        if not self.running:
            return False
        if spec.max_calls is not None and len(self.handles) >= spec.max_calls:
            return False
        return spec.duration_s is None or self.pbx.now() - self._started < spec.duration_s

    def _schedule(self) -> None:
        self._after(self.pbx.rng.expovariate(self.spec.rate_per_min / 60.0), self._arrival)

    def _arrival(self) -> None:
        self._timer = None
        if not self._may_place():
            self.running = False
            return
        self._place()
        self._schedule()

    def _place(self) -> None:
        if not self._may_place():
            return
        handle = self.pbx.place_call(self.next_caller(), on_end=self._ended)
        self.handles.append(handle)

    def _ended(self, handle: CallHandle) -> None:
        if self.spec.concurrent_calls is None or not self.running:
            return
        if self.pbx.up:
            self._place()
        else:
            # the PBX is restarting: call again once it may be back
            self._retries = [t for t in self._retries if t.active()]
            self._retries.append(self.pbx.clock.callLater(RETRY_WHILE_DOWN / self.pbx.time_scale, self._place))

    def next_caller(self) -> CallSpec:
        rng, spec = self.pbx.rng, self.spec
        while True:
            number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in self._numbers:
                self._numbers.add(number)
                break
        names = CHINESE_NAMES if rng.random() < spec.chinese_share else LATIN_NAMES
        dial = rng.choices([d for d, _ in spec.dial_mix], weights=[w for _, w in spec.dial_mix])[0]
        patience = pick(spec.patience_s, rng) if rng.random() < spec.impatient_share else None
        return CallSpec(number, rng.choice(names), dial, pick(spec.talk_s, rng) or 0.0, patience)
