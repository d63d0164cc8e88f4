"""The simulated PBX as a long-lived service: listens for AMI and plays a scenario while running."""
from __future__ import annotations

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort, IReactorTCP

from .scenarios import Scenario, ScenarioRun
from .simulator import SimulatedPBX

__all__ = ["SimulatorService"]


class SimulatorService(Service):
    """Start: listen on ``interface:port`` (0 picks a free port, see :attr:`port`) and start the
    scenario.  Stop: stop the scenario and the generators, hang nothing up (the PBX just goes
    quiet), close every AMI session and the listening port, cancel every timer."""

    def __init__(self, sim: SimulatedPBX, reactor: IReactorTCP, *, port: int = 5038,
                 interface: str = "127.0.0.1", scenario: Scenario | None = None) -> None:
        self.sim = sim
        self.reactor = reactor
        self.requested_port = port
        self.interface = interface
        self.scenario = scenario
        self.listening: IListeningPort | None = None
        self.run: ScenarioRun | None = None

    @property
    def port(self) -> int:
        """The TCP port actually listened on."""
        if self.listening is None:
            raise RuntimeError("the simulator is not listening")
        return self.listening.getHost().port

    def listen(self) -> int:
        """Listen now (before the service starts, so a client can be built for the real port);
        returns the port.  Raises ``CannotListenError``."""
        if self.listening is None:
            self.listening = self.sim.listen(self.reactor, self.requested_port, self.interface)
        return self.port

    def startService(self) -> None:
        super().startService()
        self.listen()
        if self.scenario is not None:
            self.run = ScenarioRun(self.sim, self.scenario).start()

    def stopService(self) -> defer.Deferred:
        super().stopService()
        if self.run is not None:
            self.run.stop()
        self.sim.shutdown()
        self.sim.factory.disconnect_all()
        listening, self.listening = self.listening, None
        return defer.maybeDeferred(listening.stopListening) if listening is not None else defer.succeed(None)
