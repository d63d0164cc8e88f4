"""The simulated PBX over real TCP: the project's AMI client logs in (plain and MD5) and watches the
demo scenario, 20× faster than real time, bring calls in, ring agents, get answered and abandoned."""
from __future__ import annotations

from twisted.internet import defer, reactor
from twisted.internet.protocol import ClientCreator
from twisted.trial import unittest

from telephony.ami.client import AMIProtocol, LoginFailed
from telephony.ami.protocol import Message
from telephony.sim import SimulatedPBX
from telephony.sim.scenarios import scenario
from telephony.sim.service import SimulatorService

SEEN_WITHIN = 10.0  #: real seconds; the demo's first minute takes 3 s at time scale 20


class Watcher:
    """Collects a connection's events and fires once every awaited event name has been seen."""

    def __init__(self, wanted: set[str]) -> None:
        self.events: list[Message] = []
        self.wanted = set(wanted)
        self.done: defer.Deferred[list[Message]] = defer.Deferred()

    def __call__(self, message: Message, received_at: float) -> None:
        self.events.append(message)
        self.wanted.discard(message.event or "")
        if not self.wanted and not self.done.called:
            self.done.callback(self.events)


class SimulatorOverTCP(unittest.TestCase):
    def setUp(self) -> None:
        preset = scenario("demo")
        self.sim = SimulatedPBX(reactor, config=preset.config(), users={"telephony": "s3cret"}, seed=4,
                                time_scale=20.0)
        self.service = SimulatorService(self.sim, reactor, port=0, scenario=preset)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    @defer.inlineCallbacks
    def connect(self, watcher: Watcher | None = None):
        protocol = yield ClientCreator(reactor, AMIProtocol, reactor, on_event=watcher).connectTCP(
            "127.0.0.1", self.service.port)
        self.addCleanup(lambda: protocol.disconnected)
        self.addCleanup(protocol.abort, "test over")
        banner = yield protocol.banner
        self.assertEqual(banner, "Asterisk Call Manager/11.0.0")
        return protocol

    @defer.inlineCallbacks
    def test_plain_and_md5_logins_watch_calls_ring_and_get_answered_or_abandoned(self) -> None:
        wanted = {"FullyBooted", "Newchannel", "QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentRingNoAnswer",
                  "QueueCallerAbandon", "AgentComplete"}
        plain_watch, md5_watch = Watcher(wanted), Watcher(wanted)
        plain = yield self.connect(plain_watch)
        yield plain.login("telephony", "s3cret", md5=False)
        md5 = yield self.connect(md5_watch)
        yield md5.login("telephony", "s3cret", md5=True)

        both = defer.gatherResults([plain_watch.done, md5_watch.done])
        both.addTimeout(SEEN_WITHIN, reactor)
        plain_events, md5_events = yield both

        for events in (plain_events, md5_events):
            names = [m.event for m in events]
            self.assertLess(names.index("QueueCallerJoin"), names.index("AgentCalled"))
            self.assertLess(names.index("AgentCalled"), names.index("AgentConnect"))
        no_answer = next(m for m in plain_events if m.event == "AgentRingNoAnswer")
        # the demo's member timeout is 18 s, the backstop behind the ring guard's 15 s (no guard here);
        # simulated seconds, though it took under a second at this time scale
        self.assertEqual(no_answer.get("RingTime"), "18000")
        status = yield plain.action("QueueStatus", [("Queue", "support")])
        self.assertEqual(status.complete.get("ListItems"), str(len(status.events)))
        self.assertEqual([m.event for m in status.events][:1], ["QueueParams"])
        goodbye = yield plain.logoff()
        self.assertEqual(goodbye.response.get("Message"), "Thanks for all the fish.")
        yield md5.logoff()

    @defer.inlineCallbacks
    def test_a_wrong_secret_is_refused(self) -> None:
        protocol = yield self.connect()
        with self.assertRaises(LoginFailed):
            yield protocol.login("telephony", "wrong", md5=True)
        yield protocol.disconnected
