"""The event stream over real HTTP: the board, then live events; a client that stops reading is
dropped while one that reads keeps everything; stopping the service closes open streams."""
from __future__ import annotations

import json
import logging

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.web.http_headers import Headers

from telephony.live import events as ev
from tests.integration.test_desktop_web import WebTestCase


class EventReader(Protocol):
    """Reads a ``text/event-stream`` body; ``wait(predicate)`` fires once the events so far satisfy it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.buffer = b""
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._waiting: list[tuple[object, defer.Deferred]] = []

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        *blocks, self.buffer = self.buffer.split(b"\n\n")
        for block in blocks:
            fields = dict(line.split(": ", 1) for line in block.decode("utf-8").splitlines() if ": " in line)
            if "event" in fields:
                self.events.append((fields["event"], json.loads(fields["data"])))
        for entry in list(self._waiting):
            predicate, d = entry
            if predicate(self.events):
                self._waiting.remove(entry)
                d.callback(self.events)

    def wait(self, predicate) -> defer.Deferred:
        if predicate(self.events):
            return defer.succeed(self.events)
        d: defer.Deferred = defer.Deferred()
        self._waiting.append((predicate, d))
        return d

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def connectionLost(self, reason) -> None:
        self.closed.callback(None)


def count(name: str, n: int):
    return lambda events: sum(1 for e, _ in events if e == name) >= n


def offered(n: int, name: str = "张三") -> ev.CallOffered:
    return ev.CallOffered("default", reactor.seconds(), linkedid=f"1795366966.{n}", queue="support",
                          caller="13800138000", caller_name=name, position=1, entered_at=reactor.seconds())


class EventStreamTests(WebTestCase):
    @defer.inlineCallbacks
    def open_stream(self):
        response = yield self.agent.request(b"GET", self.url("/events"), Headers({b"accept": [b"text/event-stream"]}))
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"text/event-stream; charset=utf-8"])
        reader = EventReader()
        response.deliverBody(reader)
        self.addCleanup(lambda: reader.closed)
        self.addCleanup(reader.transport.stopProducing)
        yield reader.wait(count("board", 1))
        return reader

    @defer.inlineCallbacks
    def test_the_board_first_then_an_event_published_after_connecting_then_a_fresh_board(self):
        self.play_until_now("08-", until=3.0, ago=0.0)
        reader = yield self.open_stream()
        (name, board), = reader.events
        self.assertEqual([(c["caller"], c["state"]) for c in board["calls"]],
                         [("138****1111", "talking"), ("138****2222", "ringing")])
        self.bus.publish(ev.SupervisorAlert("default", reactor.seconds(), kind="long_wait", agent=None, queue="support",
                                            linkedid="1795367102.18", caller="138****2222", since=reactor.seconds() - 40,
                                            detail="waiting 40 s (5+ rings), no agent free"))
        self.bus.publish(offered(7))
        yield reader.wait(count("board", 2))
        self.assertEqual(reader.names(), ["board", "supervisor_alert", "alert", "call_offered", "board"])
        offer = reader.events[3][1]
        self.assertEqual((offer["caller"], offer["caller_name"], offer["linkedid"]), ("138****8000", "张三", "1795366966.7"))
        self.assertEqual(reader.events[2][1]["kind"], "long_wait")

    @defer.inlineCallbacks
    def test_a_client_that_stops_reading_is_dropped_and_one_that_reads_keeps_up(self):
        self.web.site.feed.streams.max_queued = 256 * 1024
        streams = self.web.site.feed.streams.clients
        slow = yield self.open_stream()
        slow.transport.pauseProducing()  # stops reading from its socket
        slow_stream, = streams
        fast = yield self.open_stream()
        self.assertEqual(len(streams), 2)
        big_name = "名" * 2000  # 6 kB of UTF-8 per event: the kernel's buffers fill in a few MB
        sent = 0
        with self.assertLogs("telephony.desktop.sse", logging.WARNING) as logs:
            while slow_stream in streams and sent < 3000:
                for _ in range(10):  # 60 kB per reactor turn, well under the cap: a reader keeps up
                    self.bus.publish(offered(sent, big_name))
                    sent += 1
                yield task.deferLater(reactor, 0, lambda: None)
        self.assertNotIn(slow_stream, streams)
        self.assertEqual(len(streams), 1)
        self.assertIn("dropped", logs.output[0])
        yield fast.wait(count("call_offered", sent))
        self.assertEqual([d["linkedid"] for n, d in fast.events if n == "call_offered"],
                         [f"1795366966.{n}" for n in range(sent)])

    @defer.inlineCallbacks
    def test_stopping_the_service_closes_open_streams_and_the_port(self):
        reader = yield self.open_stream()
        host, port = self.web.address
        yield self.web.stopService()
        yield reader.closed
        self.assertEqual(self.web.site, None)
        with self.assertRaises(ConnectionRefusedError):
            yield connectProtocol(TCP4ClientEndpoint(reactor, host, port), Protocol())
