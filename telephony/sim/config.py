"""What the simulated PBX is made of: agents, queues, members, dialplan numbers.

:meth:`PBXConfig.default` is the PBX the real captures came from (``tests/fixtures/ami-real/README.md``,
"The PBX these came from"): agents 1001–1003, queues ``support`` (4000), ``sales`` (4001),
``guard`` (4002, member timeout 60 s) and ``autopause`` (4003, ``autopause=yes``), 1001 and 1002
members of ``support``, ``guard`` and ``autopause`` so that every state change of theirs gives
three ``QueueMemberStatus``.  :meth:`PBXConfig.with_agents` builds a bigger call centre for the
demo and the load benchmarks with the same shape.

``version`` selects the Asterisk whose stream is copied: ``"22.10.1"`` (the default, captures
16–24) or ``"22.8.2"`` (captures 01–15).  The differences are the ones the capture README lists
(``HangupRequest`` without ``Cause`` in ``Queue()``, the ``QUEUEWAIT``/``DIALEDTIME``…
``VarSet``\\s, ``RTPAUDIOQOS`` once on the caller).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AgentConfig", "MemberConfig", "PBXConfig", "QueueConfig", "VERSIONS"]

VERSIONS = ("22.10.1", "22.8.2")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """One PJSIP agent endpoint (a phone on an agent's desk)."""

    extension: str  #: endpoint name and extension, e.g. "1001"
    name: str  #: caller ID name, e.g. "Agent 1001"
    port: int = 0  #: the phone's SIP port (only shown in RTCP and PJSIP listings); 0: 5060 + n

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.extension}"


@dataclass(frozen=True, slots=True)
class MemberConfig:
    extension: str
    member_name: str


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One app_queue queue; the defaults are the capture PBX's."""

    name: str
    exten: str  #: number dialled in ``from-carrier`` to reach the queue
    members: tuple[MemberConfig, ...]
    strategy: str = "rrmemory"  #: the only strategy simulated (the captures' queues all use it)
    timeout: float = 15.0  #: seconds a member rings before app_queue gives up on him
    retry: float = 2.0  #: seconds app_queue waits after a round of offers timed out
    ringinuse: bool = False  #: True: a member on a call or ringing may be offered another call
    autopause: bool = False

    def __post_init__(self) -> None:
        if self.strategy != "rrmemory":
            raise ValueError(f"queue {self.name}: strategy {self.strategy!r} is not simulated; use rrmemory")
        if self.timeout <= 0 or self.retry < 0:
            raise ValueError(f"queue {self.name}: timeout must be positive and retry not negative")


@dataclass(frozen=True, slots=True)
class PBXConfig:
    agents: tuple[AgentConfig, ...]
    queues: tuple[QueueConfig, ...]
    version: str = VERSIONS[0]
    carrier: str = "carrier"
    #: ``from-carrier`` ``_100X`` → ``Dial(PJSIP/${EXTEN},direct_dial_timeout)`` (16–21)
    direct_dial_timeout: int = 60
    #: ``agents`` ``_100X`` → ``Dial(PJSIP/${EXTEN},agent_dial_timeout)``
    agent_dial_timeout: int = 20
    #: ``agents`` ``_X.`` → ``Dial(PJSIP/${EXTEN}@carrier,outbound_dial_timeout)``
    outbound_dial_timeout: int = 30
    #: seconds between an agent phone's REGISTER refreshes (each gives ChallengeSent + SuccessfulAuth)
    register_interval: float = 300.0
    uptime_s: int = 107  #: what FullyBooted reports as Uptime at the start
    #: app_queue was (re)loaded just before: Asterisk's device-state cache then holds INUSE for
    #: every ``Queue:<q>_avail`` (the captures' queue scenarios); False: NOT_INUSE (06)
    queues_reloaded: bool = True

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"version {self.version!r} is not one of {', '.join(VERSIONS)}")
        known = {a.extension for a in self.agents}
        for queue in self.queues:
            missing = [m.extension for m in queue.members if m.extension not in known]
            if missing:
                raise ValueError(f"queue {queue.name}: members {missing} are not agents")
        extens = [q.exten for q in self.queues]
        if len(set(extens)) != len(extens):
            raise ValueError("two queues share a dialled number")

    @classmethod
    def default(cls, *, version: str = VERSIONS[0]) -> "PBXConfig":
        agents = tuple(AgentConfig(f"100{n}", f"Agent 100{n}", 5060 + n) for n in (1, 2, 3))
        pair = (MemberConfig("1001", "Agent 1001"), MemberConfig("1002", "Agent 1002"))
        queues = (
            QueueConfig("support", "4000", pair),
            QueueConfig("sales", "4001", (MemberConfig("1003", "Agent 1003"),)),
            QueueConfig("guard", "4002", pair, timeout=60.0),
            QueueConfig("autopause", "4003", pair, autopause=True),
        )
        return cls(agents=agents, queues=queues, version=version)

    @classmethod
    def early(cls) -> "PBXConfig":
        """The PBX of captures 01–15: Asterisk 22.8.2, queues ``support`` and ``sales`` only, so
        an agent's state change gives one ``QueueMemberStatus``."""
        full = cls.default(version="22.8.2")
        return cls(agents=full.agents, queues=full.queues[:2], version="22.8.2")

    @classmethod
    def with_agents(cls, count: int, *, version: str = VERSIONS[0], member_timeout: float = 15.0,
                    lab_queues: bool = True) -> "PBXConfig":
        """``count`` agents 1001… split over ``support`` (two thirds) and ``sales``; with
        ``lab_queues`` the ``guard``/``autopause`` queues of the capture PBX get the support members.

        A call centre run by the ring guard sets ``member_timeout`` a little beyond the guard's
        deadline (15 s) so that the guard, not app_queue, moves a call on, and leaves the lab
        queues out: app_queue's own autopause would pause agents behind the guard's back."""
        if count < 2:
            raise ValueError("a call centre needs at least two agents")
        agents = tuple(AgentConfig(str(1001 + i), f"Agent {1001 + i}", 5061 + i) for i in range(count))
        split = max(1, (count * 2) // 3)
        support = tuple(MemberConfig(a.extension, a.name) for a in agents[:split])
        sales = tuple(MemberConfig(a.extension, a.name) for a in agents[split:]) or support
        queues = (
            QueueConfig("support", "4000", support, timeout=member_timeout),
            QueueConfig("sales", "4001", sales, timeout=member_timeout),
        )
        if lab_queues:
            queues += (QueueConfig("guard", "4002", support, timeout=60.0),
                       QueueConfig("autopause", "4003", support, autopause=True))
        return cls(agents=agents, queues=queues, version=version)

    # -- lookups -------------------------------------------------------------------------------

    @property
    def is_22_10(self) -> bool:
        return self.version == "22.10.1"

    def agent(self, extension: str) -> AgentConfig | None:
        for agent in self.agents:
            if agent.extension == extension:
                return agent
        return None

    def queue(self, name: str) -> QueueConfig | None:
        for queue in self.queues:
            if queue.name == name:
                return queue
        return None

    def queue_for_exten(self, exten: str) -> QueueConfig | None:
        for queue in self.queues:
            if queue.exten == exten:
                return queue
        return None

    def queues_of(self, extension: str) -> list[QueueConfig]:
        """The queues an agent is a member of, in configuration order."""
        return [q for q in self.queues if any(m.extension == extension for m in q.members)]

