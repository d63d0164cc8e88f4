"""One short AMI session for command-line tools: connect, log in, run actions, log off.

The daemon keeps its connection with :class:`~telephony.ami.connection.AMIConnection`; a CLI
command that only needs to say one thing to Asterisk (``telephony agent unpause``) uses this.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Generator

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol

from telephony.config import AMI

from .client import AMIProtocol

__all__ = ["ami_session"]


@defer.inlineCallbacks
def ami_session(reactor: Any, ami: AMI, work: Callable[[AMIProtocol], defer.Deferred]) -> Generator[Any, Any, Any]:
    """Log in with ``ami``'s credentials, return what ``work(client)`` fires with, always log off."""
    endpoint = HostnameEndpoint(reactor, ami.host, ami.port, timeout=ami.action_timeout_s)
    client: AMIProtocol = yield connectProtocol(endpoint, partial(AMIProtocol, reactor,
                                                                  action_timeout=ami.action_timeout_s)())
    try:
        yield client.banner
        yield client.login(ami.username, ami.secret(), md5=ami.auth == "md5", events=False)
        result = yield work(client)
        yield client.logoff()
    finally:
        if client.transport is not None:
            client.transport.loseConnection()
    return result

