"""The whole daemon against the simulated PBX over TCP, with a proxy between them that drops the AMI
link (issue 12, "Evidence"): while a phone rings, while a call talks; and a daemon restarted during a
call.  Every call is stored once, no miss is invented, no time is stretched over the gap, no answer
is invented, and an overdue leg still ringing after the gap is cut as soon as the link is back.

The simulator runs ten times faster than real time and the daemon's ring cycle is scaled to match
(0.5 s for 5 s); the queue's member timeout (60 s simulated) is far beyond the guard's deadline, so
only the guard can end a ring.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.internet.task import deferLater
from twisted.trial import unittest

from bench.faults import CYCLE, Rig
from telephony.live import events as ev
from telephony.sim.behaviour import Answer, NeverAnswer


class LinkFaults(unittest.TestCase):
    """Each test drives one :class:`bench.faults.Rig` (the fault drills' harness) and checks every fact."""

    timeout = 60

    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="link-faults-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.rig = Rig(7, self.folder)
        self.addCleanup(self.rig.close)
        self.sim, self.proxy = self.rig.sim, self.rig.proxy

    @defer.inlineCallbacks
    def test_a_leg_still_ringing_after_the_gap_is_cut_as_soon_as_the_link_is_back(self):
        self.sim.agent("1001").behaviour = NeverAnswer()
        self.sim.agent("1002").behaviour = Answer(after_s=2.0)
        daemon = self.rig.daemon()
        yield daemon.connection.when_synced()
        handle = self.sim.place_call(caller="13811112222", name="钱七", dial="4000", talk_s=3.0)
        yield self.rig.next(lambda e: isinstance(e, ev.AgentRinging) and e.agent == "1001" and e.ring == 2)
        yield self.proxy.cut()
        yield self.rig.next(lambda e: isinstance(e, ev.PbxLink))
        yield deferLater(reactor, 2.0 * CYCLE, lambda: None)  # the deadline (3 cycles) passes, blind
        self.assertEqual(self.rig.of(ev.AgentMissed), [], "no judgement while blind")
        self.proxy.restore()
        resynced = yield self.rig.next(lambda e: isinstance(e, ev.Resynced))
        yield handle.when_ended()
        yield self.rig.next(lambda e: isinstance(e, ev.CallEnded))
        yield daemon.writer_idle()

        (missed,) = self.rig.of(ev.AgentMissed)
        (deadline,) = self.rig.of(ev.RingDeadline)
        self.assertEqual((missed.agent, deadline.action), ("1001", "hangup"))
        self.assertLess(deadline.at - resynced.at, 0.05, "acted on at once after the resync")
        self.assertGreater(resynced.at - deadline.ring_started_at, 3 * CYCLE, "it was overdue")
        self.assertEqual((handle.outcome, handle.agent), ("answered", "1002"))
        calls, facts = self.rig.stored()
        (call,) = calls
        self.assertEqual((call.outcome, call.answered_by), ("answered", "1002"))
        self.assertEqual([(o.agent, o.result) for o in call.offers], [("1001", "no_answer"), ("1002", "answered")])
        self.assertEqual([(f.agent, f.kind) for f in facts], [("1001", "miss")])

    @defer.inlineCallbacks
    def test_a_leg_gone_after_the_gap_is_no_miss_and_no_time_stretches(self):
        self.sim.agent("1001").behaviour = NeverAnswer()
        daemon = self.rig.daemon()
        yield daemon.connection.when_synced()
        handle = self.sim.place_call(caller="13866662222", name="Lin Tao", dial="4000", patience_s=8.0)
        ringing = yield self.rig.next(lambda e: isinstance(e, ev.AgentRinging) and e.agent == "1001" and e.ring == 2)
        yield self.proxy.cut()
        link = yield self.rig.next(lambda e: isinstance(e, ev.PbxLink))
        yield handle.when_ended()  # the caller gives up while the daemon is blind
        yield deferLater(reactor, 2.0 * CYCLE, lambda: None)
        self.proxy.restore()
        resynced = yield self.rig.next(lambda e: isinstance(e, ev.Resynced))
        yield daemon.writer_idle()
        self.assertEqual(self.rig.of(ev.AgentMissed), [])
        (call,), facts = self.rig.stored()
        self.assertEqual((call.outcome, call.ended_unseen, facts), ("incomplete", True, []))
        self.assertLess(abs(call.ended_at.timestamp() - link.since), 0.001, "ended when last heard of, not later")
        self.assertLess(call.wait_s, resynced.at - ringing.call_entered_at - 1.0)
        (offer,) = call.offers
        self.assertEqual((offer.result, offer.ended_unseen), ("unknown", True))
        self.assertLessEqual(offer.rings, 3)

    @defer.inlineCallbacks
    def test_a_call_talking_through_the_gap_stays_answered_by_its_agent_with_its_times_as_lower_bounds(self):
        self.sim.agent("1001").behaviour = Answer(after_s=1.0)
        daemon = self.rig.daemon()
        yield daemon.connection.when_synced()
        handle = self.sim.place_call(caller="13800001111", name="Zhou Jie", dial="4000", talk_s=30.0)
        answered = yield self.rig.next(lambda e: isinstance(e, ev.CallAnswered))
        yield deferLater(reactor, 1.0, lambda: None)  # 10 s simulated of talk, seen
        yield self.proxy.cut()
        link = yield self.rig.next(lambda e: isinstance(e, ev.PbxLink))
        yield handle.when_ended()  # the caller hangs up while the daemon is blind (3 s real after the answer)
        yield deferLater(reactor, 0.5, lambda: None)
        self.proxy.restore()
        resynced = yield self.rig.next(lambda e: isinstance(e, ev.Resynced))
        yield self.rig.seen(lambda e: isinstance(e, ev.CallEnded))
        yield daemon.writer_idle()
        (call,), facts = self.rig.stored()
        self.assertEqual((call.outcome, call.answered_by, call.ended_unseen), ("answered", "1001", True))
        self.assertEqual(call.wait_s, round(answered.wait_s, 1), "the wait seen before the gap is kept")
        heard_talking = link.since - call.answered_at.timestamp()
        self.assertGreater(heard_talking, 0.5)
        self.assertLess(abs(call.talk_s - heard_talking), 0.06, "talk ends when last heard of: a lower bound")
        self.assertLess(call.talk_s, resynced.at - call.answered_at.timestamp() - 1.0, "not stretched to the resync")
        self.assertEqual(facts, [])

    @defer.inlineCallbacks
    def test_a_daemon_restarted_during_calls_keeps_what_it_saw_and_stores_each_call_once(self):
        """The calls under way survive the restart: the one that talks on keeps the answer the first
        daemon saw; the one that ends while no daemon runs is stored, ended unseen when last heard of."""
        self.sim.agent("1001").behaviour = Answer(after_s=1.0)
        self.sim.agent("1002").behaviour = Answer(after_s=1.0)
        first = self.rig.daemon()
        yield first.connection.when_synced()
        talks_on = self.sim.place_call(caller="13800002222", name="吴芳", dial="4000", talk_s=30.0)
        seen = yield self.rig.next(lambda e: isinstance(e, ev.CallAnswered))
        ends = self.sim.place_call(caller="13800004444", name="何丽", dial="4000", talk_s=10.0)
        yield self.rig.next(lambda e: isinstance(e, ev.CallAnswered) and e.linkedid != seen.linkedid)
        yield first.root.stopService()
        self.assertTrue((self.folder / "live.json").exists(), "the calls under way are kept for the next start")
        link = self.rig.of(ev.PbxLink)[-1]
        yield ends.when_ended()  # no daemon runs
        self.rig.events.clear()
        second = self.rig.daemon()
        yield second.connection.when_synced()
        self.assertEqual(self.rig.of(ev.CallAnswered), [], "nothing answered anew: the answers were seen")
        yield talks_on.when_ended()
        yield self.rig.seen(lambda e: isinstance(e, ev.CallEnded) and e.call.caller == "13800002222")
        yield second.writer_idle()
        calls = {c.caller: c for c in self.rig.stored()[0]}
        self.assertEqual(len(calls), 2)
        on, ended = calls["13800002222"], calls["13800004444"]
        self.assertEqual((on.outcome, on.answered_by, on.ended_unseen), ("answered", "1001", False))
        self.assertLess(abs(on.answered_at.timestamp() - seen.at), 0.001, "the answer seen before the restart")
        self.assertEqual(on.wait_s, round(seen.wait_s, 1))
        self.assertEqual((ended.outcome, ended.answered_by, ended.ended_unseen), ("answered", "1002", True))
        self.assertLess(abs(ended.ended_at.timestamp() - link.since), 0.001, "ended when last heard of")
        self.assertFalse((self.folder / "live.json").exists(), "judged, so let go")

    @defer.inlineCallbacks
    def test_a_daemon_that_lost_its_state_invents_no_answer_for_a_call_it_finds_talking(self):
        self.sim.agent("1001").behaviour = Answer(after_s=1.0)
        first = self.rig.daemon()
        yield first.connection.when_synced()
        handle = self.sim.place_call(caller="13800002222", name="吴芳", dial="4000", talk_s=8.0)
        yield self.rig.next(lambda e: isinstance(e, ev.CallAnswered))
        yield first.root.stopService()
        (self.folder / "live.json").unlink()  # as after a crash: nothing was kept
        self.rig.events.clear()
        second = self.rig.daemon()
        yield second.connection.when_synced()
        (answered,) = self.rig.of(ev.CallAnswered)
        self.assertEqual((answered.agent, answered.wait_s, answered.apologise), ("1001", None, None))
        yield handle.when_ended()
        yield self.rig.seen(lambda e: isinstance(e, ev.CallEnded))
        yield second.writer_idle()
        (call,), facts = self.rig.stored()
        self.assertEqual((call.outcome, call.answered_by), ("answered", "1001"))
        self.assertEqual((call.answered_at, call.wait_s, call.rings_to_answer, call.apologise), (None,) * 4)
        self.assertEqual(facts, [])

    @defer.inlineCallbacks
    def test_a_link_that_dies_without_closing_is_found_before_the_guard_acts(self):
        """The PBX host dies (no FIN): the agent answers at ring 3, unseen.  At the deadline the guard
        asks for a sign of life, gets none, and waits for the resync: no hang-up, no miss."""
        self.sim.agent("1001").behaviour = Answer(after_s=11.0)
        daemon = self.rig.daemon()
        yield daemon.connection.when_synced()
        handle = self.sim.place_call(caller="13811113333", name="郑辉", dial="4000", talk_s=20.0)
        yield self.rig.next(lambda e: isinstance(e, ev.AgentRinging) and e.agent == "1001" and e.ring == 2)
        self.proxy.stall()
        link = yield self.rig.next(lambda e: isinstance(e, ev.PbxLink))
        self.assertIn("no answer to a Ping", link.detail)
        yield self.rig.next(lambda e: isinstance(e, ev.Resynced))
        yield handle.when_ended()
        yield self.rig.seen(lambda e: isinstance(e, ev.CallEnded))
        yield daemon.writer_idle()
        self.assertEqual((self.rig.hangups, self.rig.of(ev.AgentMissed)), ([], []))
        (call,), facts = self.rig.stored()
        self.assertEqual((call.outcome, call.answered_by, facts), ("answered", "1001", []))
