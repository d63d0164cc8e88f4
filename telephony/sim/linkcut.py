"""A TCP proxy that can cut a link: for fault drills between the daemon and a PBX, simulated or real.

Point the daemon's ``pbx.ami`` at the proxy; :meth:`LinkCutter.cut` drops every connection through
it at once (the daemon sees its AMI link lost) and refuses new ones until :meth:`LinkCutter.restore`
listens again on the same port.  The PBX itself sees a client that went away, as when a network
between them fails.  :meth:`LinkCutter.stall` is the nastier fault: the links stay open and carry
nothing, as when the PBX host dies or a NAT mapping is dropped; new links work.
"""
from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.protocols import portforward

__all__ = ["LinkCutter"]


class _Front(portforward.ProxyServer):
    def connectionMade(self) -> None:
        self.factory.links.add(self)
        super().connectionMade()

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.links.discard(self)
        super().connectionLost(reason)


class LinkCutter(portforward.ProxyFactory):
    protocol = _Front
    noisy = False

    def __init__(self, reactor: IReactorTCP, host: str, port: int, *, interface: str = "127.0.0.1") -> None:
        super().__init__(host, port)
        self.reactor = reactor
        self.interface = interface
        self.links: set[_Front] = set()
        self.number = 0  #: the port the proxy listens on (chosen by the first listen)
        self._listening: IListeningPort | None = None

    def listen(self, port: int = 0) -> int:
        self._listening = self.reactor.listenTCP(self.number or port, self, interface=self.interface)
        self.number = self._listening.getHost().port
        return self.number

    def cut(self) -> defer.Deferred[None]:
        """Drop every link now and refuse new ones; fires once the port is closed."""
        for link in list(self.links):
            link.transport.abortConnection()
        listening, self._listening = self._listening, None
        return defer.maybeDeferred(listening.stopListening) if listening is not None else defer.succeed(None)

    def stall(self) -> None:
        """Every link open now carries nothing more, either way, and is never closed."""
        for link in list(self.links):
            link.transport.pauseProducing()
            if link.peer is not None:
                link.peer.transport.pauseProducing()
        self.links.clear()

    def restore(self) -> None:
        """Accept links again, on the same port."""
        if self._listening is None:
            self.listen()

    def close(self) -> defer.Deferred[None]:
        return self.cut()
