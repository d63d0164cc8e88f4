"""The live feed over the real HTTP channel on an in-memory transport, timed by a task.Clock: what an
event stream carries, how often boards follow, and what a client that stops reading costs."""
from __future__ import annotations

import json
import logging

import pytest
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from telephony.bus import EventBus
from telephony.desktop.site import build_site
from telephony.desktop.sse import format_event
from telephony.live import events as ev
from telephony.live.model import LiveModel

AT = 1795366966.0
PEER = IPv4Address("TCP", "127.0.0.1", 50123)


class Client:
    """One HTTP/1.0 request on the site's own channel class, on a StringTransport."""

    def __init__(self, site, path: bytes = b"/events", headers: bytes = b"") -> None:
        """``headers``: more request header lines, each ending in CRLF."""
        self.transport = StringTransport(peerAddress=PEER)
        self.channel = site.buildProtocol(PEER)
        self.channel.makeConnection(self.transport)
        self.channel.dataReceived(b"GET " + path + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")

    def body(self) -> bytes:
        return self.transport.value().partition(b"\r\n\r\n")[2]

    def events(self) -> list[tuple[str, object]]:
        out = []
        for block in self.body().decode("utf-8").split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in fields:
                out.append((fields["event"], json.loads(fields["data"])))
        return out

    def names(self) -> list[str]:
        return [name for name, _ in self.events()]

    def lose(self) -> None:
        self.channel.connectionLost(Failure(ConnectionDone()))


@pytest.fixture
def clock():
    c = Clock()
    c.advance(AT)
    return c


@pytest.fixture
def bus():
    return EventBus()


def make_site(clock, bus, **kwargs):
    return build_site(model=LiveModel(), bus=bus, clock=clock, store=kwargs.pop("store", None), pbx="default", **kwargs)


def offered(n: int = 1, name: str = "张三") -> ev.CallOffered:
    return ev.CallOffered("default", AT, linkedid=f"1795366966.{n}", queue="support", caller="13800138000",
                          caller_name=name, position=1, entered_at=AT)


def test_a_stream_opens_with_the_board_then_carries_each_event_masked(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    head = client.transport.value().partition(b"\r\n\r\n")[0].lower()
    assert b"content-type: text/event-stream; charset=utf-8" in head
    assert b"content-security-policy: default-src 'self'" in head and b"x-content-type-options: nosniff" in head
    assert client.body().startswith(b"retry: 3000\n\n")
    assert client.names() == ["board"]
    bus.publish(offered())
    name, data = client.events()[-1]
    assert name == "call_offered" and (data["caller"], data["caller_name"]) == ("138****8000", "张三")
    assert b"13800138000" not in client.transport.value()


def test_boards_follow_events_at_most_once_a_second(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    for n in range(5):  # a burst in one reactor turn: one board after it
        bus.publish(offered(n))
    assert client.names() == ["board"] + ["call_offered"] * 5
    clock.advance(0)
    assert client.names()[-1] == "board" and client.names().count("board") == 2
    clock.advance(0.3)
    bus.publish(offered(6))
    clock.advance(0.5)  # 0.8 s after the last board: not yet
    assert client.names().count("board") == 2
    clock.advance(0.2)
    assert client.names().count("board") == 3
    clock.advance(5)  # nothing changed: no more boards, no timer left
    assert client.names().count("board") == 3 and clock.getDelayedCalls() == []


def test_a_client_that_stops_reading_is_dropped_at_the_cap_and_forgotten(clock, bus, caplog):
    site = make_site(clock, bus, sse_max_queued=4096)
    slow, fast = Client(site), Client(site)
    assert len(site.feed.streams.clients) == 2
    slow.channel.pauseProducing()  # what the transport does when the socket stops taking data
    written = len(slow.transport.value())
    event_size = len(format_event("call_offered", offered(0).to_dict()))
    with caplog.at_level(logging.WARNING, logger="telephony.desktop.sse"):
        for n in range(4096 // event_size + 2):
            bus.publish(offered(n))
            stream = next(iter(s for s in site.feed.streams.clients if s.request.channel is slow.channel), None)
            assert stream is None or stream.queued <= 4096  # never more than the cap waits in memory
    assert slow.transport.disconnected  # aborted, not a polite close that would wait for the reader
    assert len(slow.transport.value()) == written
    assert [s.request.channel for s in site.feed.streams.clients] == [fast.channel]
    assert "dropped" in caplog.text and "127.0.0.1:50123" in caplog.text and "limit 4096" in caplog.text
    assert fast.names().count("call_offered") == 4096 // event_size + 2
    slow.lose()
    fast.lose()
    assert site.feed.streams.clients == set() and site.channels == set()


def test_a_paused_client_that_resumes_gets_what_waited_in_order(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    client.channel.pauseProducing()
    bus.publish(offered(1))
    bus.publish(offered(2))
    assert client.names() == ["board"]
    client.channel.resumeProducing()
    assert [d["linkedid"] for name, d in client.events() if name == "call_offered"] == ["1795366966.1", "1795366966.2"]


def test_a_miss_makes_one_alert_line_with_what_the_guard_did(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    common = dict(linkedid="1.1", offer_id="1.2", agent="1002", interface="PJSIP/1002", queue="support")
    bus.publish_all([
        ev.RingDeadline("default", AT, channel="PJSIP/1002-00000002", ring_started_at=AT - 15, action="hangup", **common),
        ev.AgentMissed("default", AT, misses_today=3, consecutive=2, shift="早班", misses_this_shift=1, **common),
        ev.SupervisorAlert("default", AT, kind="miss", agent="1002", queue="support", linkedid="1.1",
                           caller="138****8000", since=AT - 15, detail="3 rings unanswered (hangup)"),
        ev.SupervisorAlert("default", AT, kind="pause", agent="1002", queue=None, linkedid="1.1", caller="138****8000",
                           since=None, detail="2 misses in a row: paused in every queue (振铃未接)"),
    ])
    assert client.names()[1:] == ["ring_deadline", "agent_missed", "supervisor_alert", "alert", "supervisor_alert", "alert"]
    pause, miss = site.feed.alerts()
    assert (miss["kind"], miss["action"], miss["misses_today"], miss["consecutive"]) == ("miss", "hangup", 3, 2)
    assert miss["misses_this_shift"] == 1
    assert pause["kind"] == "pause" and "action" not in pause
    assert [d for name, d in client.events() if name == "alert"] == [miss, pause]


def test_the_pbx_link_state_follows_the_events(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    bus.publish(ev.PbxLink("default", AT, state="disconnected", detail="connection refused"))
    assert site.feed.link_up is False
    assert client.events()[-1] == ("pbx_link", {"type": "pbx_link", "v": 2, "pbx": "default", "at": AT,
                                                "state": "disconnected", "detail": "connection refused",
                                                "since": None})
    assert '<p id="link-down" class="banner">' in Client(site, b"/").body().decode("utf-8")
    bus.publish(ev.Resynced("default", AT + 5, channels=0, calls=0, ringing_offers=0))
    assert site.feed.link_up is True


class FailingStore:
    def recent_calls(self, pbx, limit=20):
        return defer.fail(RuntimeError("database is locked"))


def test_last_calls_survive_a_store_that_fails(clock, bus, caplog):
    site = make_site(clock, bus, store=FailingStore())
    summary = ev.CallSummary(
        pbx="default", linkedid="9.9", caller="13800138000", caller_name="张三", entered_at=AT, queues=("support",),
        queue="support", offers=(), answered_by="1001", answered_at=AT + 4, transferred_to=(), wait_s=4.0,
        rings_to_answer=1, apologise=False, talk_s=5.0, outcome="answered", hangup_by="caller", hangup_cause=16,
        ended_at=AT + 9)
    bus.publish(ev.CallEnded("default", AT + 9, call=summary))
    with caplog.at_level(logging.WARNING, logger="telephony.desktop.feed"):
        rows = site.feed.recent_calls()
    assert [(r["linkedid"], r["caller"]) for r in rows.result] == [("9.9", "138****8000")]
    assert "database is locked" in caplog.text
    page = Client(site, b"/").body().decode("utf-8")
    assert "张三" in page and "138****8000" in page and "13800138000" not in page


def test_stopping_the_feed_closes_streams_and_leaves_no_timer(clock, bus):
    site = make_site(clock, bus)
    client = Client(site)
    bus.publish(offered())
    assert clock.getDelayedCalls()
    site.feed.stop()
    assert client.transport.disconnected and clock.getDelayedCalls() == []
    bus.publish(offered(2))  # no longer subscribed
    assert client.names().count("call_offered") == 1
