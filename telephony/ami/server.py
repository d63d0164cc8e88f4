"""The server side of AMI, as Asterisk speaks it: banner, authentication, dispatch, event fan-out.

Used by the simulated PBX (:mod:`telephony.sim`).  What the PBX does with an action is not this
module's business: an :class:`ActionHandler` gets every action of a logged-in session and answers
through the :class:`ManagerSession`.  What *is* handled here, because every Asterisk does it the
same way (see ``tests/fixtures/ami-real/01-login.ami``):

* the banner ``Asterisk Call Manager/11.0.0`` on connect;
* ``Challenge`` (``AuthType: MD5``) and ``Login`` with ``Secret`` or ``Key = md5(challenge+secret)``;
* any other action before login → ``Response: Error`` / ``Message: Permission denied``;
* a failed login is answered after a delay (Asterisk: ~1 s) and the connection is then closed;
* ``Logoff`` → ``Response: Goodbye`` / ``Message: Thanks for all the fish.`` and close;
* ``Events: off`` at login → the session gets responses and list events but no broadcast events.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
from typing import Iterable, Mapping, Protocol as TypingProtocol

from twisted.internet import protocol
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from .protocol import Framer, Message, ProtocolError, format_message

log = logging.getLogger(__name__)

BANNER = "Asterisk Call Manager/11.0.0"
FAILED_LOGIN_DELAY = 1.0

Headers = Iterable[tuple[str, object]] | Mapping[str, object]


class ActionHandler(TypingProtocol):
    """What a PBX implements to serve AMI actions."""

    def handle_action(self, session: "ManagerSession", action: Message) -> None:
        """Answer ``action`` (name in ``action.action``) through ``session.respond``/``send``."""

    def session_started(self, session: "ManagerSession") -> None:
        """A session logged in (send ``FullyBooted`` and the like here)."""


class ManagerSession(protocol.Protocol):
    """One AMI client connection on the server side."""

    _ids = itertools.count(1)

    def __init__(self, factory: "ManagerFactory") -> None:
        self.factory = factory
        self.framer = Framer(expect_banner=False)
        self.username: str | None = None
        self.events_on = True
        self.challenge: str | None = None
        self.id = next(self._ids)
        self.closing = False
        self._rejecting: IDelayedCall | None = None

    # -- Twisted ------------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.transport.write(f"{self.factory.banner}\r\n".encode())

    def connectionLost(self, reason: object = None) -> None:
        self.factory.sessions.discard(self)
        if self._rejecting is not None and self._rejecting.active():
            self._rejecting.cancel()  # the client left before hearing its login refused

    def dataReceived(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            actions = self.framer.feed(data)
        except ProtocolError as exc:
            log.warning("AMI session %d: %s; closing", self.id, exc)
            self.close()
            return
        for action in actions:
            if self.closing:
                return
            self._dispatch(action)

    # -- answering ----------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        return self.username is not None

    def send(self, data: bytes) -> None:
        if not self.closing and self.transport is not None:
            self.transport.write(data)

    def respond(self, action: Message, response: str, headers: Headers = (), *, message: str | None = None) -> None:
        """Write ``Response: <response>`` with the action's ActionID, then ``Message``, then headers."""
        pairs: list[tuple[str, object]] = [("Response", response)]
        if action.action_id is not None:
            pairs.append(("ActionID", action.action_id))
        if message is not None:
            pairs.append(("Message", message))
        pairs.extend(headers.items() if isinstance(headers, Mapping) else headers)
        self.send(format_message(pairs))

    def error(self, action: Message, message: str) -> None:
        self.respond(action, "Error", message=message)

    def close(self) -> None:
        self.closing = True
        self.factory.sessions.discard(self)
        if self.transport is not None:
            self.transport.loseConnection()

    # -- the part every Asterisk does the same way ---------------------------------------------

    def _dispatch(self, action: Message) -> None:
        name = (action.action or "").lower()
        if name == "challenge":
            self._challenge(action)
        elif name == "login":
            self._login(action)
        elif name == "logoff":
            self.respond(action, "Goodbye", message="Thanks for all the fish.")
            self.close()
        elif not self.authenticated:
            self.error(action, "Permission denied")
        elif not name:
            self.error(action, "Missing action in request")
        else:
            self.factory.handler.handle_action(self, action)

    def _challenge(self, action: Message) -> None:
        if (action.get("AuthType") or "").lower() != "md5":
            self.error(action, "Must specify AuthType")
            return
        self.challenge = str(secrets.randbelow(10**9))
        self.respond(action, "Success", [("Challenge", self.challenge)])

    def _login(self, action: Message) -> None:
        if self.authenticated:
            self.respond(action, "Success", message="Already authenticated")
            return
        username = action.get("Username") or ""
        secret = self.factory.users.get(username)
        if secret is not None and self._credentials_match(action, secret):
            self.username = username
            self.events_on = (action.get("Events") or "on").lower() not in ("off", "no", "false")
            self.respond(action, "Success", message="Authentication accepted")
            self.factory.sessions.add(self)
            self.factory.handler.session_started(self)
            return
        log.info("AMI session %d: failed login for user %r", self.id, username)
        self.closing = True  # nothing else is read from a client that failed to log in

        def reject() -> None:
            self.closing = False
            self.error(action, "Authentication failed")
            self.close()

        self._rejecting = self.factory.clock.callLater(self.factory.failed_login_delay, reject)

    def _credentials_match(self, action: Message, secret: str) -> bool:
        if (action.get("AuthType") or "").lower() == "md5":
            if self.challenge is None:
                return False
            expected = hashlib.md5((self.challenge + secret).encode()).hexdigest()
            return secrets.compare_digest(expected, (action.get("Key") or "").lower())
        return secrets.compare_digest(secret.encode(), (action.get("Secret") or "").encode())


class ManagerFactory(protocol.Factory):
    """Accepts AMI connections and fans events out to every logged-in session that wants them."""

    def __init__(
        self,
        handler: ActionHandler,
        users: Mapping[str, str],
        clock: IReactorTime,
        *,
        banner: str = BANNER,
        failed_login_delay: float = FAILED_LOGIN_DELAY,
    ) -> None:
        self.handler = handler
        self.users = dict(users)
        self.clock = clock
        self.banner = banner
        self.failed_login_delay = failed_login_delay
        self.sessions: set[ManagerSession] = set()

    def buildProtocol(self, addr: object) -> ManagerSession:
        session = ManagerSession(self)
        session.factory = self
        return session

    def broadcast(self, data: bytes) -> None:
        """Send one encoded event to every session that logged in with events on."""
        for session in list(self.sessions):
            if session.events_on:
                session.send(data)

    def disconnect_all(self) -> None:
        for session in list(self.sessions):
            session.close()
