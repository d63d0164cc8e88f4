"""The simulated PBX as others use it: engine + AMI server + controls, one object.

::

    sim = SimulatedPBX(clock, config=PBXConfig.default(), users={"telephony": "s3cret"}, seed=1,
                       time_scale=10.0)
    port = sim.listen(reactor, port=0)                 # real AMI over TCP
    sim.agent("1001").behaviour = Answer(after_s=4)    # or NeverAnswer(), Reject(), Decline(603, 12)
    call = sim.place_call(caller="13800138000", name="张三", dial="4000", talk_s=5.0)
    sim.tap(events.append)                             # every event's bytes, without TCP
    sim.run_generator(GeneratorSpec(rate_per_min=20))
    sim.restart()

``clock`` is the ``IReactorTime`` everything is scheduled on (``task.Clock`` in unit tests, the
reactor otherwise); see :mod:`.pbx` for ``time_scale`` and ``seed``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

from twisted.internet.interfaces import IAddress, IListeningPort, IReactorTCP, IReactorTime

from telephony.ami.protocol import Framer, Message, format_action
from telephony.ami.server import FAILED_LOGIN_DELAY, ManagerFactory, ManagerSession

from .actions import PBXActions
from .behaviour import Behaviour, Seconds
from .calls import CallHandle, CallSpec
from .config import PBXConfig
from .pbx import PBX, Stats

if TYPE_CHECKING:
    from .generator import CallGenerator, GeneratorSpec

__all__ = ["AgentHandle", "LoopbackClient", "SimulatedPBX"]

#: Asterisk takes this long to come back after ``core restart now`` (15: c2 connected 0.6 s later)
RESTART_DOWNTIME = 0.6
#: and sends FullyBooted this long after accepting logins again (15: 0.18 s)
BOOT_DELAY = 0.18


class SimManagerFactory(ManagerFactory):
    """The AMI server, which refuses connections while the PBX restarts."""

    accepting = True

    def buildProtocol(self, addr: object) -> ManagerSession | None:  # type: ignore[override]
        if not self.accepting:
            return None
        return super().buildProtocol(addr)


class AgentHandle:
    """Controls for one agent's phone."""

    def __init__(self, sim: "SimulatedPBX", extension: str) -> None:
        self._sim = sim
        self.extension = extension

    @property
    def behaviour(self) -> Behaviour:
        return self._sim.engine.endpoints[self.extension].behaviour

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        self._sim.engine.endpoints[self.extension].behaviour = value

    @property
    def registered(self) -> bool:
        return self._sim.engine.endpoints[self.extension].registered

    def unregister(self) -> None:
        self._sim.engine.unregister(self.extension)

    def register(self) -> None:
        self._sim.engine.register(self.extension)


class SimulatedPBX:
    """A PBX that speaks AMI like the capture PBX (see the module docstring for an example).

    ``config`` defaults to :meth:`PBXConfig.default` (Asterisk 22.10.1, agents 1001–1003, queues
    support/sales/guard/autopause); ``users`` maps AMI user names to secrets; every phone
    starts with the ``quick`` behaviour until told otherwise.
    """

    def __init__(self, clock: IReactorTime, *, config: PBXConfig | None = None,
                 users: Mapping[str, str] | None = None, seed: int | None = None, time_scale: float = 1.0,
                 epoch: float | None = None) -> None:
        self.clock = clock
        self.engine = PBX(clock, config=config, seed=seed, time_scale=time_scale, epoch=epoch)
        self.actions = PBXActions(self.engine)
        self.factory = SimManagerFactory(self.actions, users if users is not None else {"telephony": "s3cret"},
                                         clock, failed_login_delay=FAILED_LOGIN_DELAY / time_scale)
        self.engine.sinks.append(self.factory.broadcast)
        self.generators: list["CallGenerator"] = []

    # -- facts --------------------------------------------------------------------------------------

    @property
    def config(self) -> PBXConfig:
        return self.engine.config

    @property
    def stats(self) -> Stats:
        return self.engine.stats

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self.engine.now()

    # -- the network ----------------------------------------------------------------------------------

    def listen(self, reactor: IReactorTCP, port: int = 0, interface: str = "127.0.0.1") -> IListeningPort:
        return reactor.listenTCP(port, self.factory, interface=interface)

    def tap(self, sink: Callable[[bytes], None]) -> Callable[[], None]:
        """Get every event the PBX broadcasts (one AMI message per call); returns the way to stop."""
        self.engine.sinks.append(sink)
        return lambda: self.engine.sinks.remove(sink) if sink in self.engine.sinks else None

    # -- what happens --------------------------------------------------------------------------------

    def place_call(self, caller: str = "13800138000", name: str = "张三", dial: str = "4000",
                   talk_s: Seconds = 5.0, patience_s: Seconds | None = None) -> CallHandle:
        return self.engine.place_call(CallSpec(caller, name, dial, talk_s, patience_s))

    def agent(self, extension: str) -> AgentHandle:
        if extension not in self.engine.endpoints:
            raise KeyError(f"no agent {extension!r}")
        return AgentHandle(self, extension)

    def restart(self, downtime: float = RESTART_DOWNTIME, boot_delay: float = BOOT_DELAY) -> None:
        """``core restart now`` (15): Shutdown to everybody, every session closed, connections
        refused for ``downtime``, logins accepted ``boot_delay`` before FullyBooted."""
        engine = self.engine
        engine.restart(downtime)
        self.factory.disconnect_all()
        self.factory.accepting = False
        self.actions.booting_until = engine.now() + downtime + boot_delay
        engine.later(downtime, self._accept)

    def _accept(self) -> None:
        self.factory.accepting = True

    def run_generator(self, spec: "GeneratorSpec") -> "CallGenerator":
        from .generator import CallGenerator

        generator = CallGenerator(self.engine, spec)
        self.generators.append(generator)
        generator.start()
        return generator

    def stop(self) -> None:
        """Stop generating calls; calls already running finish on their own."""
        for generator in self.generators:
            generator.stop()

    def shutdown(self) -> None:
        """Stop everything at once: generators, calls (silently, like a killed process), timers."""
        self.stop()
        self.engine.stop()


class _LoopbackTransport:
    """Just enough of an ITransport for a ManagerSession that talks to an in-process client."""

    disconnecting = False

    def __init__(self, client: "LoopbackClient") -> None:
        self.client = client

    def write(self, data: bytes) -> None:
        self.client.received(data)

    def writeSequence(self, data: list[bytes]) -> None:
        for chunk in data:
            self.write(chunk)

    def loseConnection(self) -> None:
        if not self.disconnecting:
            self.disconnecting = True
            self.client.closed = True
            self.client.session.connectionLost(None)

    def getHost(self) -> IAddress:
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", "127.0.0.1", 5038)

    def getPeer(self) -> IAddress:
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", "127.0.0.1", 40000 + self.client.session.id % 20000)


class LoopbackClient:
    """An AMI client inside the process: the scripted scenarios send their actions through it
    (so the server code answers them), and tests read what a TCP client would have read."""

    def __init__(self, sim: SimulatedPBX) -> None:
        self.sim = sim
        session = sim.factory.buildProtocol(None)
        if session is None:
            raise ConnectionRefusedError("the simulated PBX is restarting and accepts no connection yet")
        self.session: ManagerSession = session
        self.framer = Framer()
        self.messages: list[Message] = []
        self.raw: list[bytes] = []
        self.closed = False
        self._ids = 0
        self.session.makeConnection(_LoopbackTransport(self))  # type: ignore[arg-type]

    def received(self, data: bytes) -> None:
        self.raw.append(data)
        self.messages.extend(self.framer.feed(data))

    def send(self, action: str, fields: list[tuple[str, object]] | None = None, action_id: str | None = None) -> str:
        self._ids += 1
        action_id = action_id or f"{action.lower()}-{self._ids}"
        self.session.dataReceived(format_action(action, fields or [], action_id=action_id))
        return action_id

    def login(self, username: str, secret: str) -> str:
        return self.send("Login", [("Username", username), ("Secret", secret)])
