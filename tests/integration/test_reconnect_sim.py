"""The AMI connection and the live model against the simulated PBX: lists, refusals, and an
Asterisk restart in the middle of calls (capture 15: Shutdown, socket closed, logins accepted
before FullyBooted), after which the daemon reconnects, resyncs and closes the calls that died."""
from __future__ import annotations

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.trial import unittest

from telephony.ami.client import ActionFailed
from telephony.ami.connection import AMIConnection, Snapshot
from telephony.bus import EventBus
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.sim.behaviour import Answer, NeverAnswer
from telephony.sim.config import PBXConfig
from telephony.sim.simulator import SimulatedPBX

SCALE = 10.0


class ConnectionAgainstTheSimulator(unittest.TestCase):
    timeout = 30

    def setUp(self) -> None:
        self.sim = SimulatedPBX(reactor, config=PBXConfig.with_agents(3, member_timeout=18.0, lab_queues=False),
                                users={"telephony": "s3cret"}, seed=5, time_scale=SCALE)
        port = self.sim.listen(reactor, 0)
        self.addCleanup(port.stopListening)
        self.addCleanup(self.sim.factory.disconnect_all)
        self.addCleanup(self.sim.shutdown)
        self.model = LiveModel("lab")
        self.bus = EventBus()
        self.events: list[ev.DomainEvent] = []
        self.bus.subscribe(self.events.append)
        self.live = LiveService(self.model, self.bus, reactor)
        self.snapshots: list[Snapshot] = []
        self.disconnects: list[str] = []
        self.first_disconnect: defer.Deferred = defer.Deferred()

        def disconnected(reason: str, last_heard_at: float | None) -> None:
            self.live.on_link_lost(reason, last_heard_at)
            self.disconnects.append(reason)
            if not self.first_disconnect.called:
                self.first_disconnect.callback(reason)

        def resynced(snapshot: Snapshot) -> None:
            self.snapshots.append(snapshot)
            self.live.on_snapshot(list(snapshot.channels), list(snapshot.queue_status), snapshot.at)

        self.secret = "s3cret"
        self.connection = AMIConnection(
            TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), clock=reactor, username="telephony",
            secret=lambda: self.secret, on_event=self.live.on_ami_event, on_resync=resynced,
            on_disconnect=disconnected, initial_delay=0.05, max_delay=0.5, action_timeout=2.0)
        self.live.startService()
        self.addCleanup(self.live.stopService)

    def start(self) -> defer.Deferred:
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        return self.connection.when_synced()

    def until(self, done) -> defer.Deferred:
        waiting: defer.Deferred = defer.Deferred()

        def check(_event=None) -> None:
            if not waiting.called and done(self.events):
                unsubscribe()
                waiting.callback(None)

        unsubscribe = self.bus.subscribe(check)
        check()
        return waiting

    @defer.inlineCallbacks
    def test_lists_come_back_whole_and_errors_are_clear(self):
        yield self.start()
        status = yield self.connection.action("QueueStatus")
        members = [m for m in status.events if m.event == "QueueMember"]
        self.assertEqual(sorted(m["Location"] for m in members), ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"])
        self.assertEqual(status.complete.get("ListItems"), str(len(status.events)))
        with self.assertRaises(ActionFailed) as refused:
            yield self.connection.action("QueuePause", [("Interface", "PJSIP/1009"), ("Paused", True)])
        self.assertIn("Interface not found", str(refused.exception))
        gone = yield self.connection.action("Hangup", [("Channel", "PJSIP/1001-deadbeef")]).addErrback(
            lambda failure: failure.value)
        self.assertIn("No such channel", str(gone))

    @defer.inlineCallbacks
    def test_a_wrong_secret_is_retried_until_ops_fix_it(self):
        self.secret = "wrong"
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        self.sim.factory.failed_login_delay = 0.05
        yield self.first_disconnect  # refused; Asterisk closes the connection after its delay
        self.assertFalse(self.connection.synced)
        self.secret = "s3cret"
        yield self.connection.when_synced()
        self.assertTrue(self.connection.synced)

    @defer.inlineCallbacks
    def test_restart_mid_call_reconnects_resyncs_and_closes_the_calls_that_died(self):
        self.sim.agent("1001").behaviour = Answer(after_s=1.0)
        self.sim.agent("1002").behaviour = NeverAnswer()
        yield self.start()
        self.assertEqual(len(self.snapshots), 1)
        talking = self.sim.place_call(caller="13800001111", name="Zhou Jie", dial="4000", talk_s=600.0)
        yield self.until(lambda evs: any(isinstance(e, ev.CallAnswered) for e in evs))
        ringing = self.sim.place_call(caller="13800002222", name="Wu Fang", dial="4000", talk_s=600.0)
        yield self.until(lambda evs: any(isinstance(e, ev.AgentRinging) and e.caller == "13800002222" for e in evs))

        self.sim.restart()
        yield self.until(lambda evs: sum(isinstance(e, ev.Resynced) for e in evs) == 2)
        self.assertTrue(self.disconnects, "the restart was noticed")
        self.assertEqual(len(self.snapshots), 2)
        self.assertEqual(self.snapshots[1].channels, (), "every channel died with the restart")
        ended = {e.call.caller: e.call for e in self.events if isinstance(e, ev.CallEnded)}
        self.assertEqual(set(ended), {"13800001111", "13800002222"})
        # seen answered before the restart: still answered by 1001, ended unseen at the last moment
        # heard, not at the resync; the call that only rang is incomplete and its offer no miss
        talked, rang = ended["13800001111"], ended["13800002222"]
        self.assertEqual((talked.outcome, talked.answered_by, talked.ended_unseen), ("answered", "1001", True))
        self.assertEqual((rang.outcome, rang.ended_unseen, rang.offers[-1].result), ("incomplete", True, "unknown"))
        resynced = [e for e in self.events if isinstance(e, ev.Resynced)][1]
        self.assertLess(talked.ended_at, resynced.at)
        self.assertEqual(talked.ended_at, resynced.blind_since)
        self.assertEqual(self.model.calls, {})
        self.assertTrue(talking.ended and ringing.ended)

        # and the link works again: a new call is followed from its first ring
        after = self.sim.place_call(caller="13800003333", name="Sun Li", dial="4000", talk_s=1.0)
        yield after.when_ended()
        yield self.until(lambda evs: any(isinstance(e, ev.CallEnded) and e.call.caller == "13800003333"
                                         for e in evs))
