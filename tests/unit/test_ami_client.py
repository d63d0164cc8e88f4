"""The AMI client protocol and the reconnecting connection, against StringTransport and task.Clock.

The real captures are replayed as Asterisk sent them (same reads, same times) with the client
sending the capture's own actions: every response must reach the action that asked for it, every
list must come back whole, and every other event must reach the subscriber in order, stamped with
the time its bytes arrived.
"""
from __future__ import annotations

import hashlib
import logging

import pytest
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost as TransportLost
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer

from telephony.ami.capture import read_capture
from telephony.ami.client import (
    ActionFailed,
    ActionTimeout,
    AMIProtocol,
    ConnectionLost,
    LoginFailed,
)
from telephony.ami.connection import AMIConnection, NotConnected, Snapshot
from telephony.ami.protocol import Framer, Message, format_message
from tests.conftest import all_captures, capture_path

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


# -- helpers ----------------------------------------------------------------------------------


class Client:
    """An AMIProtocol on a StringTransport, with what it delivered."""

    def __init__(self, clock: task.Clock | None = None, **kw):
        self.clock = clock or task.Clock()
        self.events: list[tuple[Message, float]] = []
        self.protocol = AMIProtocol(self.clock, on_event=lambda m, t: self.events.append((m, t)), **kw)
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5038))
        self.protocol.makeConnection(self.transport)

    def sent(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def feed(self, *messages: bytes | list[tuple[str, str]]) -> None:
        for m in messages:
            self.protocol.dataReceived(m if isinstance(m, bytes) else format_message(m))

    def lose(self, reason=ConnectionDone) -> None:
        self.protocol.connectionLost(Failure(reason()))

    @property
    def event_names(self) -> list[str]:
        return [m.event for m, _ in self.events]


PENDING = object()


def outcome(d: defer.Deferred):
    """What ``d`` fired with (a result or a Failure), or PENDING.  A success stays in ``d``; a
    Failure is taken as handled by the test (so look at a failure once)."""
    box = []

    def seen(result):
        box.append(result)
        return result

    d.addBoth(seen)
    if not box:
        return PENDING
    if isinstance(box[0], Failure):
        d.addErrback(lambda _: None)
    return box[0]


def sent_actions(data: bytes) -> list[Message]:
    return Framer(expect_banner=False).feed(data)


def replay(path, connection, *, one_byte=False):
    """Play one connection of a capture: its SENT actions through AMIProtocol.action, its RECV
    reads into dataReceived at the recorded times.  ActionIDs the client would not generate
    itself (``cb-0001``) are chosen explicitly; all others must come out of the generator."""
    client = Client()
    sent: dict[str, object] = {}
    order: list[str] = []
    for record in read_capture(path):
        if record.connection != connection:
            continue
        client.clock.advance(max(0.0, record.t - client.clock.seconds()))
        if record.kind == "SENT":
            msg = Message(record.payload[:-4])
            name, action_id = msg.action, msg.action_id
            fields = [(k, v) for k, v in msg.headers if k not in ("Action", "ActionID")]
            chosen = None if action_id.startswith(f"{name.lower()}-") else action_id
            d = client.protocol.action(name, fields, action_id=chosen)
            assert client.sent() == record.payload, f"{name} {action_id} not sent byte for byte"
            sent[action_id] = None
            order.append(action_id)

            def keep(result, action_id=action_id):
                sent[action_id] = result

            d.addBoth(keep)
        elif record.kind == "RECV":
            if one_byte:
                for i in range(len(record.payload)):
                    client.feed(record.payload[i : i + 1])
            else:
                client.feed(record.payload)
        elif record.kind == "CLOSE":
            client.lose()
    return client, sent, order


def expected_events(path, connection, list_ids):
    """(raw, arrival time) of each event that is not a list item, framed independently."""
    framer, out = Framer(), []
    for record in read_capture(path):
        if record.connection == connection and record.kind == "RECV":
            for m in framer.feed(record.payload):
                if m.event is not None and m.action_id not in list_ids:
                    out.append((m.raw, record.t))
    return out


def capture_connections(path):
    return sorted({r.connection for r in read_capture(path) if r.kind == "OPEN"})


REPLAYS = [(p, c) for p in all_captures() for c in capture_connections(p)]


# -- replaying the real captures --------------------------------------------------------------


@pytest.mark.parametrize("path,connection", REPLAYS, ids=[f"{p.name}:{c}" for p, c in REPLAYS])
def test_capture_replay_matches_every_response_and_delivers_every_other_event(path, connection):
    client, sent, _ = replay(path, connection)
    list_ids = set()
    for action_id, result in sent.items():
        assert result is not None, f"{action_id} never answered"
        if isinstance(result, Failure):
            result.trap(ActionFailed)
            result = result.value.result
        assert result.response.action_id == action_id
        if result.complete is not None:
            list_ids.add(action_id)
            assert all(e.action_id == action_id for e in result.events)
            assert result.complete.get("EventList") == "Complete"
            assert len(result.events) == int(result.complete["ListItems"])
    expected = expected_events(path, connection, list_ids)
    assert [m.raw for m, _ in client.events] == [raw for raw, _ in expected]
    assert [t for _, t in client.events] == pytest.approx([t for _, t in expected], abs=1e-9)
    assert client.clock.getDelayedCalls() == [], "an answered action left its timer running"


@pytest.mark.parametrize("name", ["01-", "06-", "08-", "22-"])
def test_capture_replay_one_byte_at_a_time_gives_the_same_results(name):
    path = capture_path(name)
    for connection in capture_connections(path):
        recorded, sent_recorded, _ = replay(path, connection)
        single, sent_single, _ = replay(path, connection, one_byte=True)
        assert [(m.raw, t) for m, t in single.events] == [(m.raw, t) for m, t in recorded.events]
        for action_id, result in sent_recorded.items():
            other = sent_single[action_id]
            if isinstance(result, Failure):
                assert isinstance(other, Failure) and other.value.result == result.value.result
            else:
                assert other == result


def test_mixmonitor_answers_split_across_reads_reach_their_actions():
    client, sent, order = replay(capture_path("22-"), "c1")
    assert order == ["login-1", "mixmute-1", "mixmute-2", "mixmute-3", "mixmute-4", "logoff-6"]
    # StopMixMonitor: "Response: Success" alone, the ActionID in the next read, the empty line in a third
    assert sent["mixmute-4"].response.headers == [("Response", "Success"), ("ActionID", "mixmute-4")]
    # MixMonitorMute: Response and ActionID only, no Message; the closing empty line in a read of its own
    assert sent["mixmute-3"].response.headers == [("Response", "Success"), ("ActionID", "mixmute-3")]
    assert sent["logoff-6"].response["Message"] == "Thanks for all the fish."
    stops = [(m, t) for m, t in client.events if m.event == "MixMonitorStop"]
    assert [round(t, 6) for _, t in stops] == [11.123953]
    mutes = [m["State"] for m, _ in client.events if m.event == "MixMonitorMute"]
    assert mutes == ["1", "0"]


def test_plain_login_sends_the_capture_bytes_and_split_responses_reach_their_actions():
    path = capture_path("01-")
    records = [r for r in read_capture(path) if r.connection == "c2"]
    sent = [r.payload for r in records if r.kind == "SENT"]
    recv = [r.payload for r in records if r.kind == "RECV"]
    client = Client()
    client.feed(recv[0])
    assert outcome(client.protocol.banner) == "Asterisk Call Manager/11.0.0"

    login = client.protocol.login("heldout", "heldout-secret", md5=False)
    assert client.sent() == sent[0] == b"Action: Login\r\nActionID: login-1\r\nUsername: heldout\r\nSecret: heldout-secret\r\n\r\n"
    client.feed(recv[1])
    assert outcome(login).response["Message"] == "Authentication accepted"
    assert client.event_names == ["FullyBooted", "SuccessfulAuth"]

    ping = client.protocol.action("Ping")
    assert client.sent() == sent[1]
    client.feed(recv[2])  # "Response: Success\r\nActionID: ping-2\r\n" alone
    assert outcome(ping) is PENDING
    client.feed(recv[3])
    assert outcome(ping).response["Ping"] == "Pong"

    command = client.protocol.action("Command", {"Command": "core show version"})
    assert client.sent() == sent[2]
    client.feed(recv[4], recv[5])
    assert outcome(command).response.getall("Output")[0].startswith("Asterisk 22.8.2 built by root")

    status = client.protocol.action("CoreStatus")
    assert client.sent() == sent[3]
    client.feed(recv[6])
    assert outcome(status).response["CoreCurrentCalls"] == "0"

    logoff = client.protocol.logoff()
    assert client.sent() == sent[4]
    client.feed(recv[7])
    result = outcome(logoff)
    assert result.ok and result.response.response == "Goodbye"


def test_md5_login_sends_md5_of_challenge_plus_secret_and_never_the_secret():
    path = capture_path("01-")
    records = [r for r in read_capture(path) if r.connection == "c3"]
    sent = [r.payload for r in records if r.kind == "SENT"]
    recv = [r.payload for r in records if r.kind == "RECV"]
    client = Client()
    client.feed(recv[0])
    login = client.protocol.login("heldout", "heldout-secret")
    assert client.sent() == sent[0] == b"Action: Challenge\r\nActionID: challenge-1\r\nAuthType: MD5\r\n\r\n"
    client.feed(recv[1])  # Challenge: 156144619
    wire = client.sent()
    assert wire == sent[1]
    key = hashlib.md5(b"156144619heldout-secret").hexdigest()
    assert wire == (b"Action: Login\r\nActionID: login-2\r\nAuthType: MD5\r\nUsername: heldout\r\n"
                    b"Key: " + key.encode() + b"\r\n\r\n")
    assert b"heldout-secret" not in wire
    assert outcome(login) is PENDING
    client.feed(recv[2])
    assert outcome(login).ok


def test_events_off_login_says_so():
    client = Client()
    client.feed(BANNER)
    client.protocol.login("heldout", "heldout-secret", md5=False, events=False)
    (sent,) = [r.payload for r in read_capture(capture_path("01-")) if r.connection == "c4" and r.kind == "SENT"][:1]
    assert client.sent() == sent


def test_refused_login_and_denied_action_fail_clearly():
    records = [r for r in read_capture(capture_path("01-")) if r.connection == "c1"]
    recv = [r.payload for r in records if r.kind == "RECV"]
    client = Client()
    client.feed(recv[0])
    ping = client.protocol.action("Ping")
    client.feed(recv[1])
    denied = outcome(ping)
    assert denied.check(ActionFailed)
    assert "Permission denied" in str(denied.value)
    assert not denied.value.result.ok

    login = client.protocol.login("heldout", "wrong-secret", md5=False)
    client.clock.advance(1.0)  # Asterisk answers a refused login after ~1 s
    client.feed(recv[2])
    refused = outcome(login)
    assert refused.check(LoginFailed)
    assert str(refused.value) == "AMI login as 'heldout' refused: Authentication failed"
    assert "wrong-secret" not in str(refused.value)
    client.lose()  # Asterisk closes the connection
    assert outcome(client.protocol.disconnected) == "Connection was closed cleanly."


def test_originate_response_reaches_subscribers_after_the_originate_fired():
    path = capture_path("06-")
    client = Client()
    originates = {}
    sent: dict[str, object] = {}
    for record in read_capture(path):
        if record.connection != "c1":
            continue
        if record.kind == "SENT":
            msg = Message(record.payload[:-4])
            if msg.action == "Originate":
                fields = [(k, v) for k, v in msg.headers if k not in ("Action", "ActionID")]
                originates[msg.action_id] = client.protocol.action("Originate", fields, action_id=msg.action_id)
                originates[msg.action_id].addCallback(lambda r, a=msg.action_id: sent.setdefault(a, len(client.events)))
        elif record.kind == "RECV":
            client.feed(record.payload)
    responses = [(m.action_id, m.get("Response"), m.get("Reason"), i)
                 for i, (m, _) in enumerate(client.events) if m.event == "OriginateResponse"]
    assert [r[:3] for r in responses] == [
        ("cb-0001", "Success", "4"), ("cb-0002", "Failure", "3"),
        ("cb-0003", "Failure", "0"), ("cb-0004", "Failure", "0"),
    ]
    for action_id, _, _, index in responses:
        assert sent[action_id] <= index, "the Originate's own Response comes first"


# -- actions ------------------------------------------------------------------------------------


def logged_in_client(**kw) -> Client:
    client = Client(**kw)
    client.feed(BANNER)
    return client


def test_responses_are_matched_by_action_id_even_out_of_order():
    client = logged_in_client()
    first = client.protocol.action("QueuePause", {"Interface": "PJSIP/1001", "Paused": True})
    second = client.protocol.action("Ping")
    ids = [m.action_id for m in sent_actions(client.sent())]
    assert ids == ["queuepause-1", "ping-2"]
    client.feed([("Response", "Success"), ("ActionID", "ping-2"), ("Ping", "Pong")])
    assert outcome(first) is PENDING
    client.feed([("Response", "Error"), ("ActionID", "queuepause-1"), ("Message", "Interface not found")])
    assert outcome(second).response["Ping"] == "Pong"
    failed = outcome(first)
    assert failed.check(ActionFailed) and failed.value.message == "Interface not found"
    assert client.events == []


def test_list_collects_its_events_fires_once_and_lets_live_events_through():
    client = logged_in_client()
    d = client.protocol.action("CoreShowChannels")
    fired = []
    d.addCallback(fired.append)
    client.feed([("Response", "Success"), ("ActionID", "coreshowchannels-1"), ("EventList", "start"),
                 ("Message", "Channels will follow")])
    client.feed([("Event", "CoreShowChannel"), ("ActionID", "coreshowchannels-1"), ("Channel", "PJSIP/1001-00000011")])
    client.feed([("Event", "Newstate"), ("Channel", "PJSIP/1002-00000013"), ("ChannelState", "5")])
    client.feed([("Event", "CoreShowChannel"), ("ActionID", "coreshowchannels-1"), ("Channel", "PJSIP/carrier-00000012")])
    assert fired == []
    client.feed([("Event", "CoreShowChannelsComplete"), ("ActionID", "coreshowchannels-1"),
                 ("EventList", "Complete"), ("ListItems", "2")])
    (result,) = fired
    assert [e["Channel"] for e in result.events] == ["PJSIP/1001-00000011", "PJSIP/carrier-00000012"]
    assert result.complete["ListItems"] == "2"
    assert client.event_names == ["Newstate"]
    # a stray item after the list closed is an ordinary event, not a second firing
    client.feed([("Event", "CoreShowChannel"), ("ActionID", "coreshowchannels-1"), ("Channel", "x")])
    assert len(fired) == 1 and client.event_names == ["Newstate", "CoreShowChannel"]


def test_lost_connection_fails_every_pending_action_and_every_later_one():
    client = logged_in_client()
    plain = client.protocol.action("Ping")
    listing = client.protocol.action("QueueStatus")
    client.feed([("Response", "Success"), ("ActionID", "queuestatus-2"), ("EventList", "start")],
                [("Event", "QueueParams"), ("Queue", "support"), ("ActionID", "queuestatus-2")])
    client.protocol.start_keepalive(20, 10)
    client.lose(TransportLost)
    for d in (plain, listing):
        failure = outcome(d)
        assert failure.check(ConnectionLost)
        assert "Connection to the other side was lost" in str(failure.value)
    later = outcome(client.protocol.action("Ping"))
    assert later.check(ConnectionLost)
    assert client.transport.value() == b"Action: Ping\r\nActionID: ping-1\r\n\r\nAction: QueueStatus\r\nActionID: queuestatus-2\r\n\r\n"
    assert client.clock.getDelayedCalls() == [], "timers and keepalive must stop with the connection"


def test_banner_wait_fails_if_the_connection_ends_first():
    client = Client()
    client.lose()
    assert outcome(client.protocol.banner).check(ConnectionLost)


def test_action_times_out_and_a_late_answer_is_dropped():
    client = logged_in_client(action_timeout=10.0)
    slow = client.protocol.action("Command", {"Command": "core show channels"})
    quick = client.protocol.action("Ping", timeout=2.0)
    client.clock.advance(2.0)
    assert outcome(quick).check(ActionTimeout)
    assert outcome(slow) is PENDING
    client.clock.advance(8.0)
    failure = outcome(slow)
    assert failure.check(ActionTimeout)
    assert str(failure.value) == "AMI action Command (command-1) got no response from 127.0.0.1:5038 within 10 s"
    client.feed([("Response", "Success"), ("ActionID", "command-1")])
    assert client.events == []
    assert client.clock.getDelayedCalls() == []


def test_cancelling_an_action_forgets_it():
    client = logged_in_client()
    d = client.protocol.action("Ping")
    d.cancel()
    assert outcome(d).check(defer.CancelledError)
    assert client.clock.getDelayedCalls() == []
    client.feed([("Response", "Success"), ("ActionID", "ping-1")])
    assert client.events == []


def test_a_field_that_would_inject_a_header_is_refused_and_nothing_is_sent():
    client = logged_in_client()
    failure = outcome(client.protocol.action("Redirect", {"Channel": "PJSIP/1001\r\nAction: Hangup"}))
    assert failure.check(ValueError)
    assert client.transport.value() == b""
    assert client.clock.getDelayedCalls() == []


def test_a_duplicate_chosen_action_id_is_refused():
    client = logged_in_client()
    client.protocol.action("Ping", action_id="x-1")
    assert outcome(client.protocol.action("Ping", action_id="x-1")).check(ValueError)


# -- keepalive ----------------------------------------------------------------------------------


def test_keepalive_aborts_a_silent_peer_and_keeps_an_answering_one(caplog):
    client = logged_in_client()
    client.protocol.start_keepalive(20, 10)
    client.clock.advance(19.9)
    assert client.transport.value() == b""
    client.clock.advance(0.1)
    (ping,) = sent_actions(client.sent())
    assert ping.action == "Ping"
    client.clock.advance(5)
    client.feed([("Response", "Success"), ("ActionID", ping.action_id), ("Ping", "Pong")])
    client.clock.advance(15)
    (ping,) = sent_actions(client.sent())
    client.clock.advance(9.9)
    assert not client.transport.disconnected
    with caplog.at_level(logging.WARNING, logger="telephony.ami.client"):
        client.clock.advance(0.1)
    assert client.transport.disconnected, "a peer that stops answering is aborted"
    assert "no answer to Ping within 10 s" in caplog.text
    client.lose(TransportLost)
    assert outcome(client.protocol.disconnected) == "no answer to Ping within 10 s"
    assert client.clock.getDelayedCalls() == []


def test_an_error_answer_to_ping_still_counts_as_alive():
    client = logged_in_client()
    client.protocol.start_keepalive(20, 10)
    client.clock.advance(20)
    (ping,) = sent_actions(client.sent())
    client.feed([("Response", "Error"), ("ActionID", ping.action_id), ("Message", "Permission denied")])
    client.clock.advance(10)
    assert not client.transport.disconnected


# -- hostile bytes ------------------------------------------------------------------------------


def test_over_long_line_aborts_the_connection_and_the_log_holds_no_secret(caplog):
    client = logged_in_client()
    login = client.protocol.login("telephony", "s3cret-Lotus", md5=False)
    with caplog.at_level(logging.DEBUG):
        client.feed(b"Event: VarSet\r\nValue: s3cret-Lotus " + b"x" * (64 * 1024 + 10))
    assert client.transport.disconnected
    assert "line longer than 65536 bytes" in caplog.text
    assert "s3cret" not in caplog.text
    client.feed(b"\r\n\r\nResponse: Success\r\nActionID: login-1\r\n\r\n")  # after the abort: ignored
    assert outcome(login) is PENDING
    client.lose(TransportLost)
    failure = outcome(login)
    assert failure.check(ConnectionLost)
    assert "protocol error: line longer than 65536 bytes" in str(failure.value)
    assert "s3cret" not in str(failure.value)
    assert client.events == []


def test_a_peer_that_is_not_asterisk_is_dropped():
    client = Client()
    client.feed(b"SSH-2.0-OpenSSH_9.2\r\n")
    assert client.transport.disconnected
    client.lose(TransportLost)
    assert outcome(client.protocol.banner).check(ConnectionLost)


def test_non_utf8_bytes_never_raise():
    client = logged_in_client()
    d = client.protocol.action("Ping")
    client.feed(b"Event: Newchannel\r\nCallerIDName: \xff\xfe\xe5\xbc\xa0\r\n\r\n"
                b"Response: Success\r\nActionID: ping-1\r\nMessage: \xc3\r\n\r\n")
    ((event, _),) = client.events
    assert event["CallerIDName"] == "\ufffd\ufffd张"
    assert outcome(d).response["Message"] == "\ufffd"


def test_a_failing_subscriber_does_not_stop_delivery(caplog):
    clock = task.Clock()
    seen = []

    def subscriber(message, at):
        seen.append(message.event)
        if message.event == "Boom":
            raise RuntimeError("bug in a consumer")

    protocol = AMIProtocol(clock, on_event=subscriber)
    protocol.makeConnection(StringTransport())
    with caplog.at_level(logging.ERROR):
        protocol.dataReceived(BANNER + b"Event: Boom\r\n\r\nEvent: After\r\n\r\n")
    assert seen == ["Boom", "After"]
    assert "RuntimeError: bug in a consumer" in caplog.text


# -- the reconnecting, resyncing connection -----------------------------------------------------


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """Every connect() succeeds at once onto a fresh StringTransport, unless the PBX is ``down``."""

    def __init__(self, clock=None):
        self.connections: list[tuple[object, StringTransport]] = []
        self.down = False
        self.clock = clock
        self.attempts: list[float] = []

    def connect(self, factory):
        if self.clock is not None:
            self.attempts.append(self.clock.seconds())
        if self.down:
            return defer.fail(ConnectionRefusedError("Connection refused"))
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5038))
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return defer.succeed(protocol)


class FakeAsterisk:
    """Plays Asterisk on the last connection of a FakeEndpoint."""

    def __init__(self, endpoint: FakeEndpoint):
        self.protocol, self.transport = endpoint.connections[-1]

    def actions(self) -> list[Message]:
        data = self.transport.value()
        self.transport.clear()
        return sent_actions(data)

    def send(self, *messages) -> None:
        self.protocol.dataReceived(b"".join(format_message(m) for m in messages))

    def answer(self, action: Message, *headers, response="Success") -> None:
        self.send([("Response", response), ("ActionID", action.action_id), *headers])

    def log_in(self, *, booted=True) -> None:
        self.protocol.dataReceived(BANNER)
        (login,) = self.actions()
        assert login.action == "Login"
        self.answer(login, ("Message", "Authentication accepted"))
        if booted:
            self.send([("Event", "FullyBooted"), ("Status", "Fully Booted")])

    def snapshot(self, channels=("PJSIP/1001-00000011",), between=()) -> None:
        (show,) = self.actions()
        assert show.action == "CoreShowChannels"
        self.answer(show, ("EventList", "start"), ("Message", "Channels will follow"))
        self.send(*[[("Event", "CoreShowChannel"), ("ActionID", show.action_id), ("Channel", c)] for c in channels])
        self.send(*between)
        self.send([("Event", "CoreShowChannelsComplete"), ("ActionID", show.action_id),
                   ("EventList", "Complete"), ("ListItems", str(len(channels)))])
        (status,) = self.actions()
        assert status.action == "QueueStatus"
        self.answer(status, ("EventList", "start"), ("Message", "Queue status will follow"))
        self.send([("Event", "QueueParams"), ("Queue", "support"), ("ActionID", status.action_id)],
                  [("Event", "QueueStatusComplete"), ("ActionID", status.action_id),
                   ("EventList", "Complete"), ("ListItems", "1")])

    def lose(self, reason=ConnectionDone) -> None:
        self.protocol.connectionLost(Failure(reason()))


class Harness:
    def __init__(self, secret="heldout-secret", **kw):
        self.clock = task.Clock()
        self.endpoint = FakeEndpoint(self.clock)
        self.calls: list[tuple] = []
        self.last_heard: list[float | None] = []
        self.secret = secret
        self.connection = AMIConnection(
            self.endpoint, clock=self.clock, username="heldout", secret=lambda: self.secret, md5=False,
            on_event=lambda m, t: self.calls.append(("event", m.event, t)),
            on_resync=lambda s: self.calls.append(("resync", s)),
            on_disconnect=lambda reason, last_heard_at: (self.calls.append(("disconnect", reason)),
                                                         self.last_heard.append(last_heard_at)),
            **kw)
        self.connection.startService()

    def asterisk(self) -> FakeAsterisk:
        return FakeAsterisk(self.endpoint)


def test_resync_holds_events_until_the_snapshot_then_delivers_them_in_order():
    h = Harness()
    synced = h.connection.when_synced()
    asterisk = h.asterisk()
    h.clock.advance(0.5)
    asterisk.log_in()
    assert not h.connection.synced
    assert outcome(h.connection.action("Ping")).check(NotConnected)
    h.clock.advance(0.25)
    assert outcome(synced) is PENDING
    asterisk.snapshot(between=[[("Event", "Newstate"), ("Channel", "PJSIP/1002-00000013")]])
    assert outcome(synced) is None
    kinds = [c[0] if c[0] != "event" else c[1] for c in h.calls]
    assert kinds == ["resync", "FullyBooted", "Newstate"]
    snapshot = h.calls[0][1]
    assert isinstance(snapshot, Snapshot)
    assert [m["Channel"] for m in snapshot.channels] == ["PJSIP/1001-00000011"]
    assert [m.event for m in snapshot.queue_status] == ["QueueParams"]
    assert snapshot.at == 0.75
    assert [c[2] for c in h.calls[1:]] == [0.5, 0.75], "held events keep their arrival time"
    assert h.connection.synced
    # live now: events go straight through, actions go out
    asterisk.send([("Event", "Hangup"), ("Channel", "PJSIP/1002-00000013")])
    assert h.calls[-1][:2] == ("event", "Hangup")
    ping = h.connection.action("Ping")
    (sent,) = asterisk.actions()
    asterisk.answer(sent, ("Ping", "Pong"))
    assert outcome(ping).ok


def test_when_synced_fires_at_once_when_already_synced_and_waits_otherwise():
    h = Harness()
    asterisk = h.asterisk()
    asterisk.log_in()
    waiting = h.connection.when_synced()
    assert outcome(waiting) is PENDING
    asterisk.snapshot()
    assert outcome(waiting) is None
    assert outcome(h.connection.when_synced()) is None, "already synced: fires at once"


def test_without_fully_booted_the_snapshot_waits_for_the_action_timeout():
    h = Harness(action_timeout=5.0)
    asterisk = h.asterisk()
    asterisk.log_in(booted=False)
    h.clock.advance(4.9)
    assert asterisk.actions() == []
    h.clock.advance(0.1)
    asterisk.snapshot()
    assert h.connection.synced


def test_fully_booted_after_the_login_starts_the_snapshot():
    # capture 15: after a restart the login succeeds ~0.18 s before FullyBooted
    h = Harness()
    asterisk = h.asterisk()
    asterisk.log_in(booted=False)
    h.clock.advance(0.18)
    assert asterisk.actions() == []
    asterisk.send([("Event", "FullyBooted"), ("Uptime", "0")])
    asterisk.snapshot()
    assert h.connection.synced


def test_disconnect_fails_pending_reports_and_reconnects_with_a_fresh_resync(caplog):
    h = Harness(initial_delay=1.0, max_delay=30.0)
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    pending = h.connection.action("Hangup", {"Channel": "PJSIP/1001-00000011"})
    with caplog.at_level(logging.WARNING):
        asterisk.send([("Event", "Shutdown"), ("Shutdown", "Cleanly"), ("Restart", "True")])
        asterisk.lose()
    assert "Asterisk is shutting down (Shutdown: Cleanly, Restart: True)" in caplog.text
    assert h.calls[-1] == ("disconnect", "Connection was closed cleanly.")
    assert outcome(pending).check(ConnectionLost)
    assert not h.connection.synced
    assert outcome(h.connection.action("Hangup", {"Channel": "x"})).check(NotConnected)
    synced = h.connection.when_synced()
    assert len(h.endpoint.connections) == 1
    h.clock.advance(1.0)  # first retry: between half and all of initial_delay (jitter)
    assert len(h.endpoint.connections) == 2
    again = h.asterisk()
    again.log_in()
    assert outcome(synced) is PENDING
    again.snapshot()
    assert outcome(synced) is None
    assert [c[0] for c in h.calls].count("resync") == 2
    assert h.connection.synced


def test_capped_backoff_doubles_up_to_the_cap_and_never_passes_it():
    from telephony.ami.connection import capped_backoff

    lowest, highest = capped_backoff(0.5, 2.0, rng=lambda: 0.0), capped_backoff(0.5, 2.0, rng=lambda: 0.999999)
    assert [lowest(n) for n in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert [round(highest(n), 3) for n in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert highest(10_000) <= 2.0


def test_after_a_long_outage_the_link_is_back_within_the_cap_and_the_blind_span_is_logged(caplog):
    """Item 5: after a 20 s outage the daemon came back 4.3 s after the PBX did (1, 2, 2, 4, 6, 8 s…)."""
    h = Harness()  # the defaults: 0.5 s doubling up to 2 s
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    h.clock.advance(3.0)
    asterisk.send([("Event", "Newstate"), ("Channel", "PJSIP/1001-00000011")])  # last heard at 3.0
    h.endpoint.down = True
    h.clock.advance(1.0)
    asterisk.lose()
    while h.clock.seconds() < 24.0:  # the PBX is away for 20 s
        h.clock.advance(0.01)
    h.endpoint.down = False
    back = h.clock.seconds()
    while len(h.endpoint.connections) == 1:
        h.clock.advance(0.01)
    assert h.clock.seconds() - back <= 2.0, "never blind more than the cap after the PBX is back"
    retries = h.endpoint.attempts[1:]
    assert max(b - a for a, b in zip(retries, retries[1:])) <= 2.0 + 1e-9
    with caplog.at_level(logging.WARNING):
        again = h.asterisk()
        again.log_in()
        again.snapshot()
    assert h.connection.synced
    assert "the link is back after 2" in caplog.text and "s blind (nothing heard since" in caplog.text
    assert ("disconnect", "Connection was closed cleanly.") in h.calls
    assert h.last_heard[0] == 3.0, "the last moment the PBX was heard, not when the loss was noticed"


def test_refused_login_is_logged_without_the_secret_and_retried_with_backoff(caplog):
    h = Harness(secret="wrong-secret", initial_delay=1.0, max_delay=30.0)
    with caplog.at_level(logging.INFO):
        asterisk = h.asterisk()
        asterisk.protocol.dataReceived(BANNER)
        (login,) = asterisk.actions()
        asterisk.answer(login, ("Message", "Authentication failed"), response="Error")
    assert asterisk.transport.disconnected, "the refused connection is dropped"
    assert "AMI login as 'heldout' refused: Authentication failed (server 127.0.0.1:5038); retrying" in caplog.text
    asterisk.lose()  # must not upset ClientService
    assert "wrong-secret" not in caplog.text
    # backoff: the first retry comes after 0.5–1 s, the next ones later and later
    delays = []
    for attempt in range(3):
        before = h.clock.seconds()
        while len(h.endpoint.connections) == attempt + 1:
            h.clock.advance(0.05)
        delays.append(h.clock.seconds() - before)
        refused = h.asterisk()
        refused.protocol.dataReceived(BANNER)
        (login,) = refused.actions()
        refused.answer(login, ("Message", "Authentication failed"), response="Error")
        refused.lose()
    assert 0.5 <= delays[0] <= 1.05
    assert delays[2] > delays[0]
    # ops fix the secret: the next attempt reads it again and gets in
    h.secret = "heldout-secret"
    while len(h.endpoint.connections) == 4:
        h.clock.advance(0.05)
    fixed = h.asterisk()
    fixed.log_in()
    fixed.snapshot()
    assert h.connection.synced


def test_connection_lost_during_login_is_retried():
    h = Harness(initial_delay=1.0)
    asterisk = h.asterisk()
    asterisk.protocol.dataReceived(BANNER)
    asterisk.lose(TransportLost)  # must not raise out of connectionLost
    assert h.calls == [("disconnect", "Connection to the other side was lost in a non-clean fashion.")]
    h.clock.advance(2.0)
    assert len(h.endpoint.connections) == 2


def test_a_failed_snapshot_drops_the_connection_and_retries():
    h = Harness(action_timeout=5.0)
    asterisk = h.asterisk()
    asterisk.log_in()
    (show,) = asterisk.actions()
    asterisk.answer(show, ("Message", "Permission denied"), response="Error")
    assert asterisk.transport.disconnected
    asterisk.lose()
    assert not h.connection.synced
    assert [c[0] for c in h.calls] == ["disconnect"], "held events die with the failed resync"


def test_keepalive_runs_on_the_synced_connection():
    h = Harness(ping_interval=20.0, ping_timeout=10.0)
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    h.clock.advance(20.0)
    (ping,) = asterisk.actions()
    assert ping.action == "Ping"
    h.clock.advance(10.0)
    assert asterisk.transport.disconnected


def test_stop_logs_off_and_closes():
    h = Harness()
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    stopped = h.connection.stopService()
    (logoff,) = asterisk.actions()
    assert logoff.action == "Logoff"
    assert asterisk.transport.disconnecting
    assert outcome(stopped) is PENDING
    asterisk.lose()
    assert outcome(stopped) is None
    assert not h.connection.synced
    assert h.clock.getDelayedCalls() == [], "no reconnect after a stop"


def test_stop_while_preparing_closes_the_connection():
    h = Harness()
    asterisk = h.asterisk()
    asterisk.protocol.dataReceived(BANNER)
    waiter = h.connection.when_synced()
    stopped = h.connection.stopService()
    assert outcome(waiter).check(defer.CancelledError)
    assert asterisk.transport.disconnected
    assert outcome(stopped) is PENDING, "stopped only once the socket is closed"
    asterisk.lose()
    assert outcome(stopped) is None
    assert h.clock.getDelayedCalls() == []


def test_from_config_connects_where_the_config_says_and_reads_the_secret_only_then(monkeypatch, caplog):
    from twisted.internet.testing import MemoryReactorClock

    from telephony.config import parse_config

    monkeypatch.delenv("TEST_AMI_SECRET", raising=False)
    config = parse_config("pbx:\n  ami:\n    host: 127.0.0.1\n    port: 5039\n    secret_env: TEST_AMI_SECRET\n"
                          "    auth: plain\n    reconnect_initial_s: 3\n    reconnect_max_s: 9\n")
    reactor = MemoryReactorClock()
    connection = AMIConnection.from_config(config.pbx.ami, reactor=reactor, on_event=lambda m, t: None,
                                           on_resync=lambda s: None)  # the secret is not read yet
    connection.startService()
    ((host, port, factory, _, _),) = reactor.tcpClients
    assert (host, port) == ("127.0.0.1", 5039)
    protocol = factory.buildProtocol(None)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5039))
    protocol.makeConnection(transport)
    with caplog.at_level(logging.WARNING):
        protocol.dataReceived(BANNER)
    assert "TEST_AMI_SECRET (ami.secret_env) is not set" in caplog.text
    assert transport.disconnected, "no secret, no login: the connection is dropped and retried"
    protocol.connectionLost(Failure(ConnectionDone()))
    monkeypatch.setenv("TEST_AMI_SECRET", "from-the-environment")
    reactor.advance(3.0)  # at most initial_delay
    assert len(reactor.tcpClients) == 2
    protocol = reactor.tcpClients[1][2].buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(BANNER)
    (login,) = sent_actions(transport.value())
    assert login.headers[2:] == [("Username", "telephony"), ("Secret", "from-the-environment")]


def test_a_server_that_never_sends_the_banner_is_dropped_after_the_action_timeout(caplog):
    h = Harness(action_timeout=5.0, initial_delay=1.0)
    asterisk = h.asterisk()
    with caplog.at_level(logging.WARNING):
        h.clock.advance(4.9)
        assert not asterisk.transport.disconnected
        h.clock.advance(0.1)
    assert asterisk.transport.disconnected
    assert asterisk.transport.value() == b"", "nothing, least of all a secret, goes to a peer that is not AMI"
    assert "connection not usable (TimeoutError" in caplog.text
    asterisk.lose()
    h.clock.advance(2.0)
    assert len(h.endpoint.connections) == 2


def test_a_connection_lost_before_the_banner_leaves_no_unhandled_failure():
    """Found in review: the FullyBooted wait failed with nobody waiting on it, and Twisted logged
    "Unhandled error in Deferred" (and trial failed tests) when Asterisk closed during a restart."""
    import gc

    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from twisted.logger import globalLogPublisher

    from telephony.ami.client import AMIProtocol
    from telephony.ami.connection import AMIConnection

    clock = Clock()
    connection = AMIConnection(TCP4ClientEndpoint(clock, "127.0.0.1", 1), clock=clock, username="u",
                               secret=lambda: "s", on_event=lambda m, t: None, on_resync=lambda s: None)
    errors = []

    def observe(event):
        if event.get("isError") or event.get("log_failure"):
            errors.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        protocol = AMIProtocol(clock, on_event=connection._received)
        protocol.makeConnection(StringTransport())
        prepared = connection._prepare(protocol)  # what ClientService calls on each connection
        prepared.addErrback(lambda failure: None)  # ClientService handles a failed preparation
        protocol.connectionLost()
        del prepared
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observe)
    assert errors == []


def test_an_address_is_dialled_directly_so_a_refusal_costs_no_extra_wait():
    from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
    from twisted.internet.testing import MemoryReactorClock

    from telephony.ami.connection import pbx_endpoint

    reactor = MemoryReactorClock()
    assert isinstance(pbx_endpoint(reactor, "10.0.0.5", 5038, timeout=10), TCP4ClientEndpoint)
    assert isinstance(pbx_endpoint(reactor, "::1", 5038, timeout=10), TCP6ClientEndpoint)
    assert isinstance(pbx_endpoint(reactor, "pbx.example", 5038, timeout=10), HostnameEndpoint)


def test_confirm_alive_is_at_once_when_fresh_else_a_ping_after_every_earlier_event():
    h = Harness(fresh_s=2.0, confirm_timeout=2.0)
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    assert outcome(h.connection.confirm_alive()) is True and asterisk.actions() == [], "heard from just now"
    h.clock.advance(5.0)
    alive = h.connection.confirm_alive()
    (ping,) = asterisk.actions()
    assert ping.action == "Ping" and outcome(alive) is PENDING
    also = [h.connection.confirm_alive() for _ in range(3)]
    assert asterisk.actions() == [], "deadlines falling together share one Ping"
    asterisk.send([("Event", "Newstate"), ("Channel", "PJSIP/1001-00000011"), ("ChannelState", "6")])
    asterisk.answer(ping, ("Ping", "Pong"))
    assert outcome(alive) is True and [outcome(a) for a in also] == [True] * 3
    assert h.calls[-1][:2] == ("event", "Newstate"), "what Asterisk sent before the Pong has landed"


def test_confirm_alive_drops_a_link_that_died_without_closing(caplog):
    h = Harness(fresh_s=2.0, confirm_timeout=2.0)
    asterisk = h.asterisk()
    asterisk.log_in()
    asterisk.snapshot()
    h.clock.advance(10.0)
    with caplog.at_level(logging.WARNING):
        alive = h.connection.confirm_alive()
        h.clock.advance(2.0)
    assert outcome(alive) is False
    assert asterisk.transport.disconnected
    assert "no answer to a Ping within 2 s; the link is dead" in caplog.text
    asterisk.lose()
    assert outcome(h.connection.confirm_alive()) is False, "no synced link: not alive"
