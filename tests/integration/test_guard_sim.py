"""The ring guard in the whole daemon, against the simulated PBX over real AMI/TCP.

An agent who never answers is skipped at the third ring, the next agent gets the call, the second
miss pauses him in every queue, and the call log says so.  The simulator runs ten times faster
than real time, and the daemon's ring cycle is shortened to match (0.5 s for 5 s), so the test
takes a few seconds; the queue's member timeout (18 s simulated) stays a little beyond the
guard's deadline, as ops are told to configure it.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from telephony.config import parse_config
from telephony.live import events as ev
from telephony.service import build_daemon
from telephony.sim.behaviour import Answer, NeverAnswer
from telephony.sim.config import PBXConfig
from telephony.sim.simulator import SimulatedPBX
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade

SCALE = 10.0
SECRET_ENV = "TELEPHONY_TEST_AMI_SECRET"


def wait_on_bus(bus, events: list[ev.DomainEvent], done) -> defer.Deferred:
    """Fires once ``done(events)`` is true; checked whenever ``bus`` carries something."""
    waiting: defer.Deferred = defer.Deferred()

    def check(_event: ev.DomainEvent | None) -> None:
        if not waiting.called and done(events):
            unsubscribe()
            waiting.callback(None)

    unsubscribe = bus.subscribe(check)
    check(None)
    return waiting


class GuardAgainstTheSimulator(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        os.environ[SECRET_ENV] = "guard-test-secret"
        self.addCleanup(os.environ.pop, SECRET_ENV, None)
        self.sim = SimulatedPBX(reactor, config=PBXConfig.with_agents(3, member_timeout=18.0, lab_queues=False),
                                users={"telephony": "guard-test-secret"}, seed=3, time_scale=SCALE)
        self.sim.agent("1001").behaviour = NeverAnswer()
        # 2.5 s simulated = 0.25 s real: clear of the 0.2 s a ring needs to count, so one ring under any load
        self.sim.agent("1002").behaviour = Answer(after_s=2.5)
        port = self.sim.listen(reactor, 0)
        self.addCleanup(port.stopListening)
        self.addCleanup(self.sim.factory.disconnect_all)
        self.addCleanup(self.sim.shutdown)
        self.folder = Path(tempfile.mkdtemp(prefix="guard-sim-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.url = f"sqlite:///{self.folder / 'calls.db'}"
        upgrade(self.url)
        self.config_text = (
            f"pbx:\n  name: lab\n  ami:\n    host: 127.0.0.1\n    port: {port.getHost().port}\n"
            f"    secret_env: {SECRET_ENV}\n    reconnect_initial_s: 0.1\n    reconnect_max_s: 1\n"
            f"rings:\n  cycle_s: {5.0 / SCALE}\n  allowed: 3\n  pause_after_misses: 2\n"
            f"store:\n  url: {self.url}\n  journal: {self.folder / 'journal.jsonl'}\n"
            f"  live_state: {self.folder / 'live.json'}\n"
        )
        self.daemon = build_daemon(parse_config(self.config_text, "lab.yaml"), reactor, web=False)
        self.events: list[ev.DomainEvent] = []
        self.daemon.bus.subscribe(self.events.append)
        self.daemon.root.startService()
        self.addCleanup(self.daemon.root.stopService)

    def wait_for(self, done) -> defer.Deferred:
        return wait_on_bus(self.daemon.bus, self.events, done)

    @defer.inlineCallbacks
    def test_never_answering_agent_is_skipped_at_the_third_ring_and_paused_after_two_misses(self):
        yield self.daemon.connection.when_synced()
        first = self.sim.place_call(caller="13811112222", name="钱七", dial="4000", talk_s=3.0)
        yield first.when_ended()
        second = self.sim.place_call(caller="13866662222", name="Lin Tao", dial="4000", talk_s=3.0)
        yield second.when_ended()
        yield self.wait_for(lambda evs: sum(isinstance(e, ev.CallEnded) for e in evs) == 2
                            and any(isinstance(e, ev.AgentPaused) and e.paused for e in evs))
        yield self.daemon.writer_idle()

        # what Asterisk saw: both callers answered by 1002, after the guard took them from 1001
        self.assertEqual((first.outcome, first.agent, second.outcome, second.agent),
                         ("answered", "1002", "answered", "1002"))
        deadlines = [e for e in self.events if isinstance(e, ev.RingDeadline)]
        self.assertEqual([(d.agent, d.action) for d in deadlines], [("1001", "hangup"), ("1001", "hangup")])
        for deadline in deadlines:
            # acted within a few hundred ms of the deadline; the deadline is 3 cycles after the ring
            self.assertLess(abs(deadline.at - deadline.ring_started_at - 3 * 5.0 / SCALE), 0.3)
        paused = [e for e in self.events if isinstance(e, ev.AgentPaused) and e.paused]
        self.assertEqual({(e.agent, e.reason) for e in paused}, {("1001", "振铃未接")})

        # what the call log says
        with open_store(self.url) as store:
            calls = {c.caller: c for c in store.recent_calls("lab", 10)}
            facts = store.agent_events("lab", agent="1001")
        self.assertEqual(set(calls), {"13811112222", "13866662222"})
        for call in calls.values():
            self.assertEqual(call.answered_by, "1002")
            self.assertEqual([(o.agent, o.result, o.rings) for o in call.offers][:2],
                             [("1001", "no_answer", 3), ("1002", "answered", 1)])
        self.assertEqual([(f.kind, f.source) for f in facts if f.kind == "miss"], [("miss", "guard")] * 2)
        self.assertEqual({(f.kind, f.source, f.reason) for f in facts if f.kind == "pause"},
                         {("pause", "guard", "振铃未接")})

        # the agent puts himself back: `telephony agent unpause`, over AMI, recorded by the daemon
        config = self.folder / "lab.yaml"
        config.write_text(self.config_text, encoding="utf-8")
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, ["-m", "telephony.cli", "agent", "unpause", "1001", "--config", str(config)],
            env=dict(os.environ))
        self.assertEqual(code, 0, err.decode())
        self.assertIn(b"PJSIP/1001", out)
        yield self.wait_for(lambda evs: any(isinstance(e, ev.AgentPaused) and not e.paused and e.agent == "1001"
                                            for e in evs))
        yield self.daemon.writer_idle()
        with open_store(self.url) as store:
            unpauses = [f for f in store.agent_events("lab", agent="1001") if f.kind == "unpause"]
        self.assertTrue(unpauses and all(f.source == "agent" for f in unpauses))
