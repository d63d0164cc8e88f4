"""The long-lived AMI connection: reconnect with backoff, log in, rebuild the picture, then go live.

:class:`AMIConnection` is an ``IService`` around Twisted's ``ClientService``.  Each time a TCP
connection is made, ``prepareConnection`` does, in order:

1. wait for the banner;
2. log in (MD5 challenge or plain), reading the secret afresh, so ops can fix a wrong secret
   without a restart; a refusal is logged with the user, the host and Asterisk's message (never
   the secret) and retried with backoff;
3. wait for ``Event: FullyBooted`` (sent right after login when Asterisk is up, ~0.2 s later
   after a restart, capture 15; after ``action_timeout`` we go on without it);
4. take a snapshot: ``CoreShowChannels`` then ``QueueStatus``;
5. hand it to ``on_resync(snapshot)``, then deliver, in arrival order, the events that arrived
   since the login (held back until now: they may or may not be reflected in the snapshot, and
   the consumer must tolerate both), then go live and start the ``Ping`` keepalive.

A link can also die without closing (a PBX host that crashed, a NAT mapping dropped): the keepalive
finds it within ``ping_interval + ping_timeout``.  Before acting on what it knows, a feature asks
:meth:`AMIConnection.confirm_alive`: fresh when something was heard in the last ``fresh_s``, else a
Ping must be answered within ``confirm_timeout``, or the connection is dropped as dead.

Only then is the connection *synced*: :meth:`AMIConnection.action` refuses at once with
:class:`NotConnected` whenever there is no synced connection, because an action queued for later
(a ring guard's ``Hangup``) would act on a world that has moved on.  Every disconnect calls
``on_disconnect(reason, last_heard_at)`` (the last time bytes arrived on the lost connection, None
if none did) and fails the pending actions with ``ConnectionLost``; ``Event: Shutdown`` (Asterisk
going away) is logged, and the close that follows triggers the reconnect.

While the link is down the guard is blind, so reconnecting is quick and its wait is capped: retry
after ``initial_delay`` doubling up to ``max_delay`` (2 s by default), each delay drawn between half
and all of that (jitter, so that daemons following one PBX do not reconnect in step after it
restarts).  When the link is synced again the blind span is logged.

Held events are bounded by time (a resync that does not finish within its timeouts drops the
connection), by count and by bytes (``max_held_events``/``max_held_bytes``, the same bounds as for
one list reply): past either bound the connection is a protocol error, dropped with the held events,
and made again.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Generator

from automat import NoTransition
from twisted.application import service
from twisted.application.internet import ClientService
from twisted.internet import defer, protocol
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IProtocol, IReactorTime, IStreamClientEndpoint
from twisted.python.failure import Failure
from zope.interface import implementer

from .client import (DEFAULT_MAX_LIST_BYTES, DEFAULT_MAX_LIST_EVENTS, ActionFailed, ActionTimeout, AMIError,
                     AMIProtocol, ActionResult, ConnectionLost, Fields, LoginFailed)
from .protocol import Message

if TYPE_CHECKING:
    from telephony.config import AMI

__all__ = ["AMIConnection", "NotConnected", "Snapshot", "capped_backoff", "pbx_endpoint"]

log = logging.getLogger(__name__)


def capped_backoff(initial: float, cap: float, *, rng: Callable[[], float] = random.random) -> Callable[[int], float]:
    """Seconds to wait before retry number ``attempt`` (0, 1, …): ``initial × 2^attempt`` capped at
    ``cap``, then scaled by a random factor in [0.5, 1) so that it never exceeds ``cap``."""
    def delay(attempt: int) -> float:
        return min(cap, initial * 2 ** min(attempt, 32)) * (0.5 + rng() / 2)
    return delay


class NotConnected(AMIError):
    """There is no logged-in, synced connection right now; the action was not sent."""


@dataclass(frozen=True)
class Snapshot:
    """What a resync learned from Asterisk."""

    channels: tuple[Message, ...]  #: ``CoreShowChannel`` events
    queue_status: tuple[Message, ...]  #: ``QueueParams`` / ``QueueMember`` / ``QueueEntry`` events
    at: float  #: clock time when the snapshot completed


class AMIConnection(service.Service):
    """One Asterisk, kept connected, logged in and synced.  See the module docstring."""

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        *,
        clock: IReactorTime,
        username: str,
        secret: Callable[[], str],
        md5: bool = True,
        on_event: Callable[[Message, float], None],
        on_resync: Callable[[Snapshot], None],
        on_disconnect: Callable[[str, float | None], None] = lambda reason, last_heard_at: None,
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
        action_timeout: float = 10.0,
        initial_delay: float = 0.5,
        max_delay: float = 2.0,
        max_held_events: int = DEFAULT_MAX_LIST_EVENTS,
        max_held_bytes: int = DEFAULT_MAX_LIST_BYTES,
        fresh_s: float = 2.0,
        confirm_timeout: float = 2.0,
    ) -> None:
        self._clock = clock
        self._username = username
        self._secret = secret
        self._md5 = md5
        self._on_event = on_event
        self._on_resync = on_resync
        self._on_disconnect = on_disconnect
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._action_timeout = action_timeout
        self._max_held_events = max_held_events
        self._max_held_bytes = max_held_bytes
        self._fresh_s = fresh_s
        self._confirm_timeout = confirm_timeout
        self._confirming: tuple[Any, list[defer.Deferred[bool]]] | None = None  #: the Ping under way, its waiters
        factory = protocol.Factory()
        factory.noisy = False  # the connection's life is logged here, in AMI terms
        factory.protocol = partial(AMIProtocol, clock, action_timeout=action_timeout, on_event=self._received,
                                   max_list_events=max_held_events, max_list_bytes=max_held_bytes)
        backoff = capped_backoff(initial_delay, max_delay)
        self._client = ClientService(
            _TolerantEndpoint(endpoint), factory, clock=clock, prepareConnection=self._prepare,
            # ClientService counts from 1; the first retry should wait about initial_delay.
            retryPolicy=lambda attempt: backoff(attempt - 1),
        )
        self._open: Any = None  # the connection being prepared or live
        self._live: Any = None  # the synced connection, if any
        self._held: list[tuple[Message, float]] | None = None
        self._held_bytes = 0
        self._blind_since: float | None = None  # last time heard from the lost connection
        self._lost_at: float | None = None  # when that loss was noticed
        self._booted: defer.Deferred[None] | None = None  # only while the resync waits for FullyBooted
        self._boot_seen = False
        self._waiters: list[defer.Deferred[None]] = []
        self._closed: defer.Deferred[None] | None = None

    @classmethod
    def from_config(
        cls,
        ami: "AMI",
        *,
        reactor: Any,
        on_event: Callable[[Message, float], None],
        on_resync: Callable[[Snapshot], None],
        on_disconnect: Callable[[str, float | None], None] = lambda reason, last_heard_at: None,
    ) -> "AMIConnection":
        """Build from the ``pbx.ami`` section; the secret is read at each connect, not now."""
        return cls(
            pbx_endpoint(reactor, ami.host, ami.port, timeout=ami.action_timeout_s),
            clock=reactor,
            username=ami.username,
            secret=ami.secret,
            md5=ami.auth == "md5",
            on_event=on_event,
            on_resync=on_resync,
            on_disconnect=on_disconnect,
            ping_interval=ami.ping_interval_s,
            ping_timeout=ami.ping_timeout_s,
            action_timeout=ami.action_timeout_s,
            initial_delay=ami.reconnect_initial_s,
            max_delay=ami.reconnect_max_s,
            max_held_events=ami.max_resync_events,
            max_held_bytes=int(ami.max_resync_mb * 1024 * 1024),
            fresh_s=ami.fresh_within_s,
            confirm_timeout=ami.confirm_timeout_s,
        )

    # -- the public face ----------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """True while there is a logged-in connection whose resync has completed."""
        return self._live is not None

    def action(self, name: str, fields: Fields = None, *,
               timeout: float | None = None) -> defer.Deferred[ActionResult]:
        """Send an action on the synced connection; fail at once with NotConnected if there is none.

        Other failures are those of :meth:`AMIProtocol.action` (ActionFailed, ActionTimeout,
        ConnectionLost).
        """
        if self._live is None:
            return defer.fail(NotConnected(f"AMI is not connected and synced; {name} not sent"))
        return self._live.action(name, fields, timeout=timeout)

    def confirm_alive(self) -> defer.Deferred[bool]:
        """Whether the synced link is alive now, so that what the model knows is current.

        True at once when something arrived in the last ``fresh_s``; else a Ping is sent, and every
        event Asterisk sent before its answer is delivered first (AMI is one ordered stream).  False
        when there is no synced link, or when the Ping goes unanswered for ``confirm_timeout``: the
        connection is then dropped as dead, so the usual reconnect and resync follow.  Never fails.
        """
        live = self._live
        if live is None:
            return defer.succeed(False)
        heard = live.last_received_at
        if heard is not None and self._clock.seconds() - heard <= self._fresh_s:
            return defer.succeed(True)
        if self._confirming is not None and self._confirming[0] is live:
            # many deadlines falling together share the one Ping under way
            waiter: defer.Deferred[bool] = defer.Deferred()
            self._confirming[1].append(waiter)
            return waiter
        waiters: list[defer.Deferred[bool]] = []
        self._confirming = (live, waiters)

        def tell(alive: bool) -> bool:
            if self._confirming is not None and self._confirming[0] is live:
                self._confirming = None
            for waiter in waiters:
                waiter.callback(alive)
            return alive

        def unanswered(failure: Failure) -> bool:
            if failure.check(ActionFailed):
                return True  # an error answer still proves it alive
            if failure.check(ActionTimeout):
                log.warning("AMI %s: nothing heard for %.1f s and no answer to a Ping within %g s; the link is "
                            "dead, dropping it", live.peer, self._clock.seconds() - (heard or 0), self._confirm_timeout)
                live.abort(f"no answer to a Ping within {self._confirm_timeout:g} s")
            return False

        return live.action("Ping", timeout=self._confirm_timeout).addCallbacks(lambda _: True, unanswered).addCallback(tell)

    def when_synced(self) -> defer.Deferred[None]:
        """Fire now if synced, else when the next resync completes; fail with CancelledError
        if the service stops first."""
        if self._live is not None:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def startService(self) -> None:
        super().startService()
        self._client.startService()

    def stopService(self) -> defer.Deferred[None]:
        """Stop reconnecting and close the connection; fires once it is closed."""
        super().stopService()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(defer.CancelledError("the AMI connection service stopped"))
        # ClientService stops by closing the socket; a Logoff first is the polite way.
        if self._live is not None:
            self._live.logoff().addErrback(lambda f: f.trap(ConnectionLost))
        done = [self._client.stopService()]
        if self._open is not None:
            # ClientService does not wait for a connection it was still preparing.
            self._closed = defer.Deferred()
            done.append(self._closed)
        return defer.gatherResults(done, consumeErrors=True).addCallback(lambda _: None)

    # -- preparing a connection (ClientService's prepareConnection) ----------------------------

    def _prepare(self, connection: AMIProtocol) -> defer.Deferred[None]:
        self._open = connection
        self._held = []
        self._held_bytes = 0
        self._boot_seen = False
        connection.disconnected.addCallback(self._lost, connection)
        return self._sync(connection).addErrback(self._reject, connection)

    @defer.inlineCallbacks
    def _sync(self, connection: AMIProtocol) -> Generator[Any, Any, None]:
        banner = yield connection.banner.addTimeout(self._action_timeout, self._clock)
        yield connection.login(self._username, self._secret(), md5=self._md5)
        log.info("AMI logged in as %r at %s (%s)", self._username, connection.peer, banner)
        if not self._boot_seen:
            # The Deferred exists only while somebody waits on it, so a connection lost earlier
            # leaves no failed Deferred behind that nobody handles.
            self._booted = defer.Deferred()
            yield self._booted.addTimeout(self._action_timeout, self._clock,
                                          onTimeoutCancel=partial(self._not_booted, connection))
            self._booted = None
        channels = yield connection.action("CoreShowChannels")
        queues = yield connection.action("QueueStatus")
        self._go_live(connection, Snapshot(channels.events, queues.events, at=self._clock.seconds()))

    def _not_booted(self, connection: AMIProtocol, result: Failure, timeout: float) -> None:
        log.info("AMI %s: no FullyBooted within %g s of the login; taking the snapshot anyway",
                 connection.peer, timeout)

    def _go_live(self, connection: AMIProtocol, snapshot: Snapshot) -> None:
        held, self._held, self._booted = self._held or [], None, None
        self._held_bytes = 0
        self._live = connection
        log.info("AMI %s synced: %d channels, %d queue records, %d events held during the resync",
                 connection.peer, len(snapshot.channels), len(snapshot.queue_status), len(held))
        if self._blind_since is not None:
            log.warning("AMI %s: the link is back after %.1f s blind (nothing heard since %s, loss noticed "
                        "%.1f s later); what happened meanwhile was judged by the snapshot",
                        connection.peer, snapshot.at - self._blind_since, _clock_time(self._blind_since),
                        (self._lost_at or self._blind_since) - self._blind_since)
            self._blind_since = self._lost_at = None
        self._call(self._on_resync, snapshot)
        for message, received_at in held:
            self._call(self._on_event, message, received_at)
        connection.start_keepalive(self._ping_interval, self._ping_timeout)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _reject(self, failure: Failure, connection: AMIProtocol) -> Failure:
        """The connection could not be made usable: say why, drop it, let ClientService back off."""
        self._held, self._booted = None, None
        if failure.check(LoginFailed):
            log.error("%s (server %s); retrying with backoff", failure.getErrorMessage(), connection.peer)
        elif failure.check(defer.CancelledError) and not self.running:
            log.debug("AMI %s: connection attempt cancelled by stop", connection.peer)
        else:
            log.warning("AMI %s: connection not usable (%s: %s); reconnecting with backoff",
                        connection.peer, failure.type.__name__, failure.getErrorMessage())
        connection.abort(f"not usable: {failure.getErrorMessage()}")
        return failure

    # -- what the protocol reports -------------------------------------------------------------

    def _received(self, message: Message, received_at: float) -> None:
        name = message.event
        if name == "FullyBooted" and self._held is not None:
            self._boot_seen = True
            if self._booted is not None and not self._booted.called:
                self._booted.callback(None)
        elif name == "Shutdown":
            log.warning("AMI %s: Asterisk is shutting down (Shutdown: %s, Restart: %s); will reconnect",
                        self._open.peer if self._open is not None else "server",
                        message.get("Shutdown"), message.get("Restart"))
        if self._held is None:
            self._call(self._on_event, message, received_at)
            return
        self._held.append((message, received_at))
        self._held_bytes += len(message.raw)
        if len(self._held) > self._max_held_events or self._held_bytes > self._max_held_bytes:
            connection = self._open
            log.error("AMI %s: %d events (%d bytes) arrived while the resync waited, past the bound of %d / %d; "
                      "dropping the connection and connecting again",
                      connection.peer if connection is not None else "server", len(self._held), self._held_bytes,
                      self._max_held_events, self._max_held_bytes)
            self._held, self._held_bytes = [], 0
            if connection is not None:
                connection.abort(f"more than {self._max_held_events} events / {self._max_held_bytes} bytes "
                                 "held during the resync")

    def _lost(self, reason: str, connection: AMIProtocol) -> None:
        was_live = connection is self._live
        if was_live:
            self._live = None
            if self.running:
                log.warning("AMI connection to %s lost: %s; reconnecting", connection.peer, reason)
            else:  # we closed it: a stop, not a fault
                log.info("AMI connection to %s closed (%s)", connection.peer, reason)
        if connection is self._open:
            self._open = None
            self._held = None
            self._held_bytes = 0
            if self._booted is not None and not self._booted.called:
                self._booted.errback(ConnectionLost(f"AMI connection to {connection.peer} lost: {reason}"))
        # Only a synced connection showed the PBX as it is; a failed attempt's bytes say nothing of calls.
        heard = connection.last_received_at if was_live else None
        if heard is not None:
            self._blind_since, self._lost_at = heard, self._clock.seconds()
        self._call(self._on_disconnect, reason, heard)
        if self._closed is not None:
            closed, self._closed = self._closed, None
            closed.callback(None)

    @staticmethod
    def _call(callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            # A consumer's bug must not take the AMI connection (and the ring guard) down with it.
            log.exception("AMI consumer %r failed", callback)


def pbx_endpoint(reactor: Any, host: str, port: int, *, timeout: float) -> IStreamClientEndpoint:
    """Where the PBX listens.  An address is dialled directly, so a refused connection is known at
    once; a host name goes through ``HostnameEndpoint``, whose "happy eyeballs" wait 0.3 s between
    the addresses of a name, also when the only one refuses (blind time, after every refusal)."""
    if isIPAddress(host):
        return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    if isIPv6Address(host):
        return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)
    return HostnameEndpoint(reactor, host, port, timeout=timeout)


def _clock_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) + f".{int(epoch % 1 * 1000):03d}"


@implementer(IStreamClientEndpoint)
class _TolerantEndpoint:
    """Lets ClientService survive the loss of a connection it never accepted.

    ClientService (Twisted 26.10) has no state transition for the loss of a connection while its
    ``prepareConnection`` runs or after it failed: the notification raises automat's
    ``NoTransition`` out of ``connectionLost`` into the reactor.  A refused login is exactly that
    case (Asterisk closes the socket after answering).  By then ``_prepare`` has failed (it fails
    synchronously when the connection ends), so ClientService has already counted the attempt
    and scheduled the retry: the notification has nothing left to tell it.
    """

    def __init__(self, endpoint: IStreamClientEndpoint) -> None:
        self._endpoint = endpoint

    def __repr__(self) -> str:
        return repr(self._endpoint)  # ClientService names it in "Scheduling retry … to connect …"

    def connect(self, factory: protocol.Factory) -> defer.Deferred[Any]:
        connecting = self._endpoint.connect(_TolerantFactory(factory))
        return connecting.addCallback(lambda tolerant: tolerant.wrapped)


class _TolerantFactory(protocol.Factory):
    noisy = False

    def __init__(self, wrapped: protocol.Factory) -> None:
        self.wrapped = wrapped

    def doStart(self) -> None:
        self.wrapped.doStart()

    def doStop(self) -> None:
        self.wrapped.doStop()

    def buildProtocol(self, addr: Any) -> "_Tolerant | None":
        built = self.wrapped.buildProtocol(addr)
        return None if built is None else _Tolerant(built)


@implementer(IProtocol)
class _Tolerant:
    def __init__(self, wrapped: IProtocol) -> None:
        self.wrapped = wrapped

    def makeConnection(self, transport: Any) -> None:
        self.wrapped.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.wrapped.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        try:
            self.wrapped.connectionLost(reason)
        except NoTransition:
            log.debug("ClientService was not told of the loss of a connection it never accepted")
