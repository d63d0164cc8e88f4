"""The AMI client over real TCP on 127.0.0.1 against the project's own AMI server side
(:class:`telephony.ami.server.ManagerFactory`) with a small action handler whose lists are the
real ones from capture 08.  Real reactor, short delays, no sleeps: every wait is a Deferred."""
from __future__ import annotations

import logging

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial import unittest

from telephony.ami.capture import read_capture
from telephony.ami.client import ActionTimeout, AMIProtocol, ConnectionLost, LoginFailed
from telephony.ami.connection import AMIConnection
from telephony.ami.protocol import Framer, Message, format_message
from telephony.ami.server import ManagerFactory, ManagerSession
from tests.conftest import capture_path

USER, SECRET = "telephony", "s3cret-Lotus"


def _capture_08_lists() -> dict[str, list[Message]]:
    framer, messages = Framer(), []
    for record in read_capture(capture_path("08-")):
        if record.connection == "c1" and record.kind == "RECV":
            messages.extend(framer.feed(record.payload))
    return {name: [m for m in messages if m.action_id == action_id]
            for name, action_id in (("coreshowchannels", "coreshowchannels-4"), ("queuestatus", "queuestatus-2"))}


LISTS = _capture_08_lists()


def _with_action_id(message: Message, action_id: str) -> bytes:
    return format_message([(k, action_id if k == "ActionID" else v) for k, v in message.headers])


def _event(name: str, **headers: str) -> bytes:
    return format_message([("Event", name), *headers.items()])


class Handler:
    """A tiny PBX: answers Ping and the two snapshot lists (as Asterisk did in capture 08),
    never answers ``NeverAnswers``, and drops the connection halfway through ``Status``.

    ``before_list`` events are sent ahead of each list's answer and ``inside_list`` events in
    the middle of it, as live traffic would be."""

    def __init__(self) -> None:
        self.before_list: dict[str, list[bytes]] = {}
        self.inside_list: dict[str, list[bytes]] = {}
        #: a broken peer: ``"coreshowchannels"`` streams that list and never completes it; ``"events"``
        #: streams events after the login and never says FullyBooted
        self.flood: str | None = None

    def session_started(self, session: ManagerSession) -> None:
        if self.flood == "events":
            self._stream(session, lambda n: _event("VarSet", Channel=f"PJSIP/1001-{n:08x}", Variable="X", Value="y" * 200))
            return
        session.send(_event("FullyBooted", Privilege="system,all", Uptime="101", Status="Fully Booted"))

    @staticmethod
    def _stream(session: ManagerSession, make) -> None:
        """Send 200 messages a reactor turn until the session closes (a peer that never stops)."""
        count = iter(range(10**9))

        def more() -> None:
            if session.closing or session.transport is None or not session.transport.connected:
                return
            session.send(b"".join(make(next(count)) for _ in range(200)))
            reactor.callLater(0, more)

        more()

    def handle_action(self, session: ManagerSession, action: Message) -> None:
        name = (action.action or "").lower()
        if name == self.flood:
            session.respond(action, "Success", [("EventList", "start")], message="Channels will follow")
            self._stream(session, lambda n: format_message([
                ("Event", "CoreShowChannel"), ("Channel", f"PJSIP/1001-{n:08x}"), ("Uniqueid", f"1795366966.{n}"),
                ("ChannelState", "6"), ("Duration", "00:00:01"), ("ActionID", action.action_id)]))
        elif name == "ping":
            session.respond(action, "Success", [("Ping", "Pong"), ("Timestamp", "1795366960.812735")])
        elif name in LISTS:
            response, *items, complete = LISTS[name]
            for event in self.before_list.get(name, []):
                session.send(event)
            session.send(_with_action_id(response, action.action_id))
            for i, item in enumerate(items):
                session.send(_with_action_id(item, action.action_id))
                if i == 0:
                    for event in self.inside_list.get(name, []):
                        session.send(event)
            session.send(_with_action_id(complete, action.action_id))
        elif name == "status":
            session.respond(action, "Success", [("EventList", "start")], message="Channel status will follow")
            session.send(format_message([("Event", "Status"), ("Channel", "PJSIP/1001-00000011"),
                                         ("ActionID", action.action_id)]))
            session.close()
        elif name != "neveranswers":
            session.error(action, "Invalid/unknown command")


class TrackedSession(ManagerSession):
    def connectionLost(self, reason: object = None) -> None:
        super().connectionLost(reason)
        self.factory.closed[self.id].callback(None)


class Server(ManagerFactory):
    """The AMI server, counting connections and knowing when each one has closed."""

    def __init__(self, handler: Handler, **kw: object) -> None:
        super().__init__(handler, {USER: SECRET}, reactor, **kw)
        self.closed: dict[int, defer.Deferred[None]] = {}
        self.connected: list[defer.Deferred[None]] = []

    def buildProtocol(self, addr: object) -> TrackedSession:
        session = TrackedSession(self)
        self.closed[session.id] = defer.Deferred()
        waiters, self.connected = self.connected, []
        for waiter in waiters:
            waiter.callback(None)
        return session

    def next_connection(self) -> defer.Deferred[None]:
        waiter: defer.Deferred[None] = defer.Deferred()
        self.connected.append(waiter)
        return waiter


class AMIOverTCP(unittest.TestCase):
    timeout = 10

    def setUp(self) -> None:
        self.handler = Handler()
        self.server = Server(self.handler, failed_login_delay=0.05)
        self.port = reactor.listenTCP(0, self.server, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        # runs after each test's own cleanups: the server side of every connection must be closed
        self.addCleanup(lambda: defer.gatherResults(list(self.server.closed.values())))
        self.endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        self.events: defer.DeferredQueue[tuple[Message, float]] = defer.DeferredQueue()

    @defer.inlineCallbacks
    def connect(self, **kw):
        protocol = AMIProtocol(reactor, on_event=lambda m, t: self.events.put((m, t)), **kw)
        yield connectProtocol(self.endpoint, protocol)
        self.addCleanup(self.close, protocol)
        banner = yield protocol.banner
        self.assertEqual(banner, "Asterisk Call Manager/11.0.0")
        return protocol

    def close(self, protocol: AMIProtocol) -> defer.Deferred[str]:
        if protocol.transport.connected:
            protocol.transport.loseConnection()
        return protocol.disconnected

    @defer.inlineCallbacks
    def test_plain_login_then_logoff(self):
        protocol = yield self.connect()
        result = yield protocol.login(USER, SECRET, md5=False)
        self.assertEqual(result.response["Message"], "Authentication accepted")
        event, _ = yield self.events.get()
        self.assertEqual(event.event, "FullyBooted")
        goodbye = yield protocol.logoff()
        self.assertEqual(goodbye.response.response, "Goodbye")
        reason = yield protocol.disconnected
        self.assertEqual(reason, "Connection was closed cleanly.")

    @defer.inlineCallbacks
    def test_md5_login(self):
        protocol = yield self.connect()
        result = yield protocol.login(USER, SECRET)
        self.assertTrue(result.ok)
        pong = yield protocol.action("Ping")
        self.assertEqual(pong.response["Ping"], "Pong")

    @defer.inlineCallbacks
    def test_failed_login_is_refused_after_the_delay_and_the_server_closes(self):
        protocol = yield self.connect()
        started = reactor.seconds()
        failure = yield self.assertFailure(protocol.login(USER, "wrong-secret"), LoginFailed)
        self.assertEqual(str(failure), "AMI login as 'telephony' refused: Authentication failed")
        self.assertGreaterEqual(reactor.seconds() - started, 0.05)
        reason = yield protocol.disconnected  # the client did not close it: the server did
        self.assertEqual(reason, "Connection was closed cleanly.")

    @defer.inlineCallbacks
    def test_action_times_out_and_the_connection_stays_usable(self):
        protocol = yield self.connect()
        yield protocol.login(USER, SECRET)
        failure = yield self.assertFailure(protocol.action("NeverAnswers", timeout=0.05), ActionTimeout)
        self.assertIn("NeverAnswers", str(failure))
        pong = yield protocol.action("Ping")
        self.assertTrue(pong.ok)

    @defer.inlineCallbacks
    def test_event_lists_come_back_whole(self):
        protocol = yield self.connect()
        yield protocol.login(USER, SECRET)
        queues = yield protocol.action("QueueStatus")
        channels = yield protocol.action("CoreShowChannels")
        self.assertEqual([e.event for e in queues.events],
                         ["QueueParams", "QueueMember", "QueueMember", "QueueEntry", "QueueParams", "QueueMember"])
        self.assertEqual(queues.complete["ListItems"], "6")
        self.assertEqual([e["Channel"] for e in channels.events],
                         [m["Channel"] for m in LISTS["coreshowchannels"][1:-1]])
        self.assertTrue(all(e.action_id == channels.response.action_id for e in channels.events))

    @defer.inlineCallbacks
    def test_connection_dropped_mid_list_fails_the_list(self):
        protocol = yield self.connect()
        yield protocol.login(USER, SECRET)
        pending = protocol.action("NeverAnswers")
        failure = yield self.assertFailure(protocol.action("Status"), ConnectionLost)
        self.assertIn("Status", str(failure))
        yield self.assertFailure(pending, ConnectionLost)

    # -- the reconnecting connection -------------------------------------------------------------

    def start_connection(self, secret=lambda: SECRET, **kw) -> tuple[AMIConnection, list[tuple]]:
        calls: list[tuple] = []
        self.disconnects: defer.DeferredQueue[str] = defer.DeferredQueue()

        def on_disconnect(reason: str, last_heard_at: float | None) -> None:
            calls.append(("disconnect", reason))
            self.disconnects.put(reason)

        connection = AMIConnection(
            self.endpoint, clock=reactor, username=USER, secret=secret,
            on_event=lambda m, t: calls.append(("event", m.event, m.get("Channel"))),
            on_resync=lambda s: calls.append(("resync", len(s.channels), len(s.queue_status))),
            on_disconnect=on_disconnect,
            action_timeout=2.0, initial_delay=0.01, max_delay=0.05, **kw)
        connection.startService()
        self.addCleanup(connection.stopService)
        return connection, calls

    @defer.inlineCallbacks
    def test_a_stop_is_no_fault_and_logs_no_warning(self):
        connection, _ = self.start_connection()
        yield connection.when_synced()
        with self.assertLogs("telephony.ami.connection", "INFO") as logged:
            yield connection.stopService()
        self.assertEqual([r.levelname for r in logged.records if r.levelno >= logging.WARNING], [])
        self.assertTrue(any("closed" in r.getMessage() for r in logged.records))

    @defer.inlineCallbacks
    def test_reconnect_resyncs_and_delivers_held_events_after_the_snapshot_in_order(self):
        self.handler.before_list["coreshowchannels"] = [_event("Newchannel", Channel="PJSIP/carrier-00000014")]
        self.handler.inside_list["queuestatus"] = [_event("Newstate", Channel="PJSIP/1002-00000015")]
        held = [("event", "FullyBooted", None), ("event", "Newchannel", "PJSIP/carrier-00000014"),
                ("event", "Newstate", "PJSIP/1002-00000015")]
        connection, calls = self.start_connection()
        yield connection.when_synced()
        self.assertEqual(calls, [("resync", 4, 6), *held])
        pong = yield connection.action("Ping")
        self.assertTrue(pong.ok)

        pending = connection.action("NeverAnswers")
        self.server.disconnect_all()
        reason = yield self.disconnects.get()
        self.assertEqual(reason, "Connection was closed cleanly.")
        yield self.assertFailure(pending, ConnectionLost)
        self.assertFalse(connection.synced)

        yield connection.when_synced()
        self.assertEqual(calls, [("resync", 4, 6), *held, ("disconnect", reason), ("resync", 4, 6), *held])
        self.server.broadcast(_event("Hangup", Channel="PJSIP/carrier-00000014"))
        pong = yield connection.action("Ping")  # answered after the broadcast: it has arrived
        self.assertTrue(pong.ok)
        self.assertEqual(calls[-1], ("event", "Hangup", "PJSIP/carrier-00000014"))

    @defer.inlineCallbacks
    def test_a_list_that_never_completes_is_dropped_at_its_bound_and_the_connection_made_again(self):
        """Item 6: a peer that streams CoreShowChannel and never sends Complete grew the daemon to GBs."""
        self.handler.flood = "coreshowchannels"
        with self.logs() as records:
            connection, calls = self.start_connection(max_held_events=2000, max_held_bytes=10**7)
            reason = yield self.disconnects.get()
        self.assertEqual(reason, "CoreShowChannels list past its bound of 2000 events / 10000000 bytes")
        self.assertIn("the CoreShowChannels list passed its bound (2001 events", records.text())
        self.assertFalse(connection.synced)
        self.handler.flood = None  # the peer behaves again: the next attempt syncs
        yield connection.when_synced()
        self.assertEqual([c[0] for c in calls].count("resync"), 1)

    @defer.inlineCallbacks
    def test_events_that_never_stop_before_the_snapshot_are_bounded_too(self):
        self.handler.flood = "events"
        with self.logs() as records:
            connection, calls = self.start_connection(max_held_events=1000, max_held_bytes=10**7)
            reason = yield self.disconnects.get()
        self.assertEqual(reason, "more than 1000 events / 10000000 bytes held during the resync")
        self.assertIn("past the bound of 1000 / 10000000; dropping the connection", records.text())
        self.assertEqual([c[0] for c in calls], ["disconnect"], "nothing held was delivered")
        self.handler.flood = None
        yield connection.when_synced()

    def logs(self):
        return _Records(logging.getLogger("telephony.ami"))

    @defer.inlineCallbacks
    def test_refused_login_is_logged_and_retried_until_ops_fix_the_secret(self):
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger("telephony.ami")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        secret = ["wrong-secret"]
        connection, calls = self.start_connection(secret=lambda: secret[0])
        for _ in range(2):
            yield self.disconnects.get()  # each refused attempt ends in a disconnect
        text = "\n".join(r.getMessage() for r in records)
        self.assertIn("AMI login as 'telephony' refused: Authentication failed (server 127.0.0.1:", text)
        self.assertNotIn("wrong-secret", text)
        self.assertFalse(connection.synced)
        secret[0] = SECRET
        yield connection.when_synced()
        refused = ("disconnect", "not usable: AMI login as 'telephony' refused: Authentication failed")
        attempts = len(calls) - 2
        self.assertGreaterEqual(attempts, 2)
        self.assertEqual(calls, [refused] * attempts + [("resync", 4, 6), ("event", "FullyBooted", None)])
        self.assertEqual(len(self.server.closed), attempts + 1, "one TCP connection per attempt")


class _Records(logging.Handler):
    """``with``: collect what ``logger`` writes."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logger
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)

    def __enter__(self) -> "_Records":
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
