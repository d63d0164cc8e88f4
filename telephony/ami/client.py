"""The client side of AMI as a Twisted protocol: banner, login, actions as Deferreds, events.

:class:`AMIProtocol` is one connection to one Asterisk.  It turns bytes into messages with
:class:`~telephony.ami.protocol.Framer` and then sorts each message:

* an **event** (classified by ``Event`` before ``Response``: ``OriginateResponse`` carries both)
  that belongs to a list in progress (same ActionID, after the list's ``EventList: start``) is
  collected into that list; every other event goes to ``on_event(message, received_at)``, in the
  order it arrived;
* a **response** is matched to the pending action by ActionID, whatever the order of the answers
  and however the bytes were split across reads.  ``Response: Error`` fails the action with
  :class:`ActionFailed`; ``EventList: start`` makes it wait for its ``EventList: Complete`` event,
  then it fires once with every list event; anything else (``Success``, ``Goodbye``) fires it.

Failure modes, all of which end in a fired Deferred (nothing hangs):

* no response within the action's timeout → :class:`ActionTimeout` (a late answer is dropped);
* the connection ends → every pending action fails with :class:`ConnectionLost`, and so does
  every action asked for afterwards;
* bytes that cannot be AMI (no banner, an over-long line or message) → logged without their
  content (so never a secret) and the connection is aborted;
* a list that grows past ``max_list_events`` events or ``max_list_bytes`` bytes without its
  ``Complete`` → the same: a peer that never ends a list must not grow the daemon without end;
* a silent peer (socket open, no bytes) → :meth:`AMIProtocol.start_keepalive` aborts it.

Time comes from the injected clock: ``received_at`` is ``clock.seconds()`` when the bytes arrived
(Asterisk's ``timestampevents`` is off, so arrival is the only time there is).  ``last_received_at``
is the last time any byte arrived: AMI is one ordered stream, so everything Asterisk sent before
then has been seen, and a channel with no ``Hangup`` by then was alive then.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from twisted.internet import defer, protocol, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from .protocol import BANNER_PREFIX, Framer, Message, ProtocolError, format_action

__all__ = [
    "AMIError",
    "AMIProtocol",
    "ActionFailed",
    "ActionResult",
    "ActionTimeout",
    "ConnectionLost",
    "LoginFailed",
]

log = logging.getLogger(__name__)

Fields = Iterable[tuple[str, object]] | Mapping[str, object] | None
EventCallback = Callable[[Message, float], None]

#: ``Response`` values that mean the action was carried out.
_OK_RESPONSES = frozenset({"success", "goodbye", "follows"})
#: Bounds on one list reply (``CoreShowChannels`` of a very busy PBX: ~1 KiB per channel).
DEFAULT_MAX_LIST_EVENTS = 200_000
DEFAULT_MAX_LIST_BYTES = 128 * 1024 * 1024


class AMIError(Exception):
    """Base of every AMI client error."""


@dataclass(frozen=True)
class ActionResult:
    """What Asterisk answered to one action."""

    response: Message  #: the ``Response`` message
    events: tuple[Message, ...] = ()  #: the list's events, in order (empty for plain actions)
    complete: Message | None = None  #: the list's ``…Complete`` event

    @property
    def ok(self) -> bool:
        return (self.response.get("Response") or "").lower() in _OK_RESPONSES


class ActionFailed(AMIError):
    """Asterisk answered ``Response: Error``; ``result`` holds the answer."""

    def __init__(self, action: str, result: ActionResult) -> None:
        self.action = action
        self.result = result
        self.message = result.response.get("Message") or ""
        super().__init__(f"AMI action {action} ({result.response.action_id}) failed: "
                         f"{self.message or 'no Message given'}")


class ActionTimeout(AMIError):
    """No response arrived within the action's timeout."""


class ConnectionLost(AMIError):
    """The connection ended while the action was pending (or before it was sent)."""


class LoginFailed(AMIError):
    """Asterisk refused the login; the message names the user and Asterisk's reason."""


@dataclass
class _Pending:
    name: str
    deferred: defer.Deferred[ActionResult]
    timer: IDelayedCall
    response: Message | None = None  # set once a list's "EventList: start" arrived
    events: list[Message] = field(default_factory=list)
    size: int = 0  # bytes of ``events``


class AMIProtocol(protocol.Protocol):
    """One AMI connection, client side.  See the module docstring for the contract."""

    def __init__(
        self,
        clock: IReactorTime,
        *,
        action_timeout: float = 10.0,
        on_event: EventCallback | None = None,
        max_list_events: int = DEFAULT_MAX_LIST_EVENTS,
        max_list_bytes: int = DEFAULT_MAX_LIST_BYTES,
    ) -> None:
        self.clock = clock
        self.action_timeout = action_timeout
        self.on_event = on_event
        self.max_list_events = max_list_events
        self.max_list_bytes = max_list_bytes
        self.last_received_at: float | None = None
        #: Fires with the banner line (``Asterisk Call Manager/11.0.0``); fails with
        #: :class:`ConnectionLost` if the connection ends first.
        self.banner: defer.Deferred[str] = defer.Deferred()
        #: Fires with a readable reason once the connection has ended (never fails).
        self.disconnected: defer.Deferred[str] = defer.Deferred()
        self.peer = "AMI server"
        self._framer = Framer(expect_banner=True)
        self._pending: dict[str, _Pending] = {}
        self._lists: dict[str, _Pending] = {}  # the pending actions that are collecting a list
        self._numbers = itertools.count(1)
        self._keepalive: task.LoopingCall | None = None
        self._closing: str | None = None  # why we are ending the connection ourselves
        self._gone: str | None = None  # why the connection ended

    # -- Twisted ------------------------------------------------------------------------------

    def connectionMade(self) -> None:
        peer = self.transport.getPeer()
        host, port = getattr(peer, "host", None), getattr(peer, "port", None)
        self.peer = f"{host}:{port}" if host is not None else str(peer)

    def dataReceived(self, data: bytes) -> None:
        if self._closing is not None:
            return  # bytes already in flight after we decided to abort
        received_at = self.last_received_at = self.clock.seconds()
        try:
            messages = self._framer.feed(data)
        except ProtocolError as exc:
            log.warning("AMI %s: protocol error: %s; closing the connection", self.peer, exc)
            self.abort(f"protocol error: {exc}")
            return
        if not self.banner.called and self._framer.banner is not None:
            if not self._framer.banner.startswith(BANNER_PREFIX):
                log.warning("AMI %s: not an AMI server (first line %r); closing the connection",
                            self.peer, self._framer.banner[:60])
                self.abort("not an AMI server")
                return
            self.banner.callback(self._framer.banner)
        for message in messages:
            self._dispatch(message, received_at)
            if self._closing is not None:
                return

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._gone = self._closing or reason.getErrorMessage()
        self._stop_keepalive()
        self.disconnected.callback(self._gone)
        if not self.banner.called:
            self.banner.errback(ConnectionLost(f"connection closed before the AMI banner: {self._gone}"))
        pending, self._pending, self._lists = self._pending, {}, {}
        for action_id, entry in pending.items():
            entry.timer.cancel()
            entry.deferred.errback(ConnectionLost(
                f"AMI connection to {self.peer} lost while {entry.name} ({action_id}) was pending: {self._gone}"))

    # -- actions ------------------------------------------------------------------------------

    def action(self, name: str, fields: Fields = None, *, timeout: float | None = None,
               action_id: str | None = None) -> defer.Deferred[ActionResult]:
        """Send ``Action: name`` with ``fields``; fire with the :class:`ActionResult`.

        The ActionID is ``<name in lower case>-<n>``, n counting the actions of this connection
        (``login-1``, ``ping-2``…), unless ``action_id`` chooses one.  Fails with
        :class:`ActionFailed`, :class:`ActionTimeout` (after ``timeout``, default the protocol's
        ``action_timeout``), :class:`ConnectionLost`, or ValueError for a field that would inject
        a header or an ActionID that is already pending.  Cancelling the Deferred forgets the
        action (a late answer is dropped).
        """
        number = next(self._numbers)
        action_id = action_id or f"{name.lower()}-{number}"
        if self._gone is not None or self._closing is not None or self.transport is None:
            reason = self._gone or self._closing or "not connected yet"
            return defer.fail(ConnectionLost(f"AMI connection to {self.peer} is closed ({reason}); "
                                             f"{name} not sent"))
        if action_id in self._pending:
            return defer.fail(ValueError(f"ActionID {action_id!r} is already pending"))
        try:
            data = format_action(name, fields, action_id=action_id)
        except ValueError:
            return defer.fail()
        deferred: defer.Deferred[ActionResult] = defer.Deferred(lambda _: self._forget(action_id))
        wait = self.action_timeout if timeout is None else timeout
        timer = self.clock.callLater(wait, self._timed_out, action_id, wait)
        self._pending[action_id] = _Pending(name, deferred, timer)
        self.transport.write(data)
        return deferred

    def login(self, username: str, secret: str, *, md5: bool = True,
              events: bool = True) -> defer.Deferred[ActionResult]:
        """Log in; with ``md5`` the secret never crosses the wire (``Key = md5(challenge+secret)``).

        Fails with :class:`LoginFailed` (e.g. "AMI login as 'telephony' refused: Authentication
        failed") when Asterisk refuses; Asterisk then closes the connection after ~1 s.
        ``events=False`` logs in with ``Events: off`` (responses and lists only).
        """
        extra = [] if events else [("Events", "off")]
        if md5:
            done = self.action("Challenge", [("AuthType", "MD5")])
            done.addCallback(self._login_with_key, username, secret, extra)
        else:
            done = self.action("Login", [("Username", username), ("Secret", secret), *extra])
        return done.addErrback(self._refused, username)

    def _login_with_key(self, challenge: ActionResult, username: str, secret: str,
                        extra: list[tuple[str, str]]) -> defer.Deferred[ActionResult]:
        nonce = challenge.response.get("Challenge")
        if not nonce:
            raise LoginFailed(f"AMI login as {username!r} refused: the Challenge answer has no challenge")
        key = hashlib.md5((nonce + secret).encode("utf-8")).hexdigest()
        return self.action("Login", [("AuthType", "MD5"), ("Username", username), ("Key", key), *extra])

    @staticmethod
    def _refused(failure: Failure, username: str) -> Failure:
        if failure.check(ActionFailed):
            raise LoginFailed(f"AMI login as {username!r} refused: "
                              f"{failure.value.message or 'no reason given'}") from None
        return failure

    def logoff(self) -> defer.Deferred[ActionResult]:
        """Say goodbye (``Response: Goodbye`` is a success); Asterisk then closes the connection."""
        return self.action("Logoff")

    def abort(self, reason: str) -> None:
        """End the connection now, without a goodbye; ``reason`` becomes the disconnect reason."""
        if self._closing is not None or self._gone is not None or self.transport is None:
            return
        self._closing = reason
        self.transport.abortConnection()

    # -- keepalive ----------------------------------------------------------------------------

    def start_keepalive(self, interval: float, timeout: float) -> None:
        """Send ``Ping`` every ``interval`` s; no answer within ``timeout`` s aborts the connection.

        This is what notices a peer that vanished without closing the socket (a dead host, a
        dropped NAT mapping): TCP alone would wait for hours.
        """
        self._stop_keepalive()
        self._keepalive = task.LoopingCall(self._ping, timeout)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def _ping(self, timeout: float) -> None:
        self.action("Ping", timeout=timeout).addErrback(self._ping_failed, timeout)

    def _ping_failed(self, failure: Failure, timeout: float) -> None:
        if failure.check(ActionTimeout):
            log.warning("AMI %s: no answer to Ping within %g s; dropping the connection", self.peer, timeout)
            self.abort(f"no answer to Ping within {timeout:g} s")
            return
        # An error answer still proves the peer is alive; a lost connection is handled elsewhere.
        failure.trap(ActionFailed, ConnectionLost)

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    # -- sorting what arrives -----------------------------------------------------------------

    def _dispatch(self, message: Message, received_at: float) -> None:
        if message.event is not None:
            if self._lists:
                entry = self._lists.get(message.action_id or "")
                if entry is not None:
                    self._collect(entry, message)
                    return
            self._emit(message, received_at)
            return
        action_id = message.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None:
            # Typically the answer to an action that already timed out.
            log.debug("AMI %s: dropping a response to no pending action (ActionID %r)", self.peer, action_id)
            return
        if entry.response is not None:
            log.debug("AMI %s: dropping a second response to %s", self.peer, action_id)
            return
        result = ActionResult(message)
        if not result.ok:
            self._settle(action_id, failure=ActionFailed(entry.name, result))  # type: ignore[arg-type]
        elif (message.get("EventList") or "").lower() == "start":
            entry.response = message
            self._lists[action_id] = entry  # type: ignore[index]
        else:
            self._settle(action_id, result=result)  # type: ignore[arg-type]

    def _collect(self, entry: _Pending, event: Message) -> None:
        if (event.get("EventList") or "").lower() == "complete":
            assert entry.response is not None
            self._settle(event.action_id or "", result=ActionResult(entry.response, tuple(entry.events), event))
            return
        entry.events.append(event)
        entry.size += len(event.raw)
        if len(entry.events) > self.max_list_events or entry.size > self.max_list_bytes:
            log.warning("AMI %s: the %s list passed its bound (%d events, %d bytes; at most %d / %d) without "
                        "its Complete; closing the connection", self.peer, entry.name, len(entry.events),
                        entry.size, self.max_list_events, self.max_list_bytes)
            self.abort(f"{entry.name} list past its bound of {self.max_list_events} events / "
                       f"{self.max_list_bytes} bytes")
            entry.events.clear()  # let the memory go now, not when the socket is gone

    def _emit(self, event: Message, received_at: float) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event, received_at)
        except Exception:
            # One subscriber's bug must not cost the connection (and every call on it).
            log.exception("AMI %s: the event subscriber failed on a %s event", self.peer, event.event)

    def _settle(self, action_id: str, *, result: ActionResult | None = None,
                failure: AMIError | None = None) -> None:
        entry = self._pending.pop(action_id)
        self._lists.pop(action_id, None)
        entry.timer.cancel()
        if failure is not None:
            entry.deferred.errback(failure)
        else:
            entry.deferred.callback(result)

    def _timed_out(self, action_id: str, timeout: float) -> None:
        entry = self._pending.pop(action_id)
        self._lists.pop(action_id, None)
        entry.deferred.errback(ActionTimeout(
            f"AMI action {entry.name} ({action_id}) got no response from {self.peer} within {timeout:g} s"))

    def _forget(self, action_id: str) -> None:
        entry = self._pending.pop(action_id, None)
        self._lists.pop(action_id, None)
        if entry is not None:
            entry.timer.cancel()
