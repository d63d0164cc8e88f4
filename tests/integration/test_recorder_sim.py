"""Recording with MixMonitor in the whole daemon, against the simulated PBX over real AMI/TCP: an
answered call is recorded on the caller's channel with the template's file name, the agent pauses
and resumes it (MixMonitorMute both ways, capture 22), it ends with the call, and the store has a
row with its spans; a PBX that refuses leaves a failed row that says why."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.trial import unittest

from telephony.config import parse_config
from telephony.live import events as ev
from telephony.recorder.mixmonitor import NotRecording
from telephony.service import build_daemon
from telephony.sim.behaviour import Answer
from telephony.sim.config import PBXConfig
from telephony.sim.simulator import SimulatedPBX
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade
from tests.integration.test_guard_sim import wait_on_bus

SCALE = 10.0
SECRET_ENV = "TELEPHONY_TEST_AMI_SECRET"


class _DaemonAndSimulator(unittest.TestCase):
    """The daemon (recording with MixMonitor) connected to the simulated PBX; ``sent`` spies its actions."""

    timeout = 60
    scale = SCALE  #: the simulator runs this much faster than real time; the ring cycle shrinks to match

    def pbx_config(self) -> PBXConfig:
        return PBXConfig.with_agents(2, member_timeout=18.0, lab_queues=False)

    def setUp(self) -> None:
        os.environ[SECRET_ENV] = "recorder-test-secret"
        self.addCleanup(os.environ.pop, SECRET_ENV, None)
        self.sim = SimulatedPBX(reactor, config=self.pbx_config(), users={"telephony": "recorder-test-secret"},
                                seed=5, time_scale=self.scale)
        self.sim.agent("1001").behaviour = Answer(after_s=2.0)
        port = self.sim.listen(reactor, 0)
        self.addCleanup(port.stopListening)
        self.addCleanup(self.sim.factory.disconnect_all)
        self.addCleanup(self.sim.shutdown)
        self.folder = Path(tempfile.mkdtemp(prefix="recorder-sim-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.url = f"sqlite:///{self.folder / 'calls.db'}"
        upgrade(self.url)
        config = parse_config(
            f"pbx:\n  name: lab\n  ami:\n    host: 127.0.0.1\n    port: {port.getHost().port}\n"
            f"    secret_env: {SECRET_ENV}\n"
            f"rings:\n  cycle_s: {5.0 / self.scale}\n"
            f"store:\n  url: {self.url}\n  journal: {self.folder / 'journal.jsonl'}\n"
            f"  live_state: {self.folder / 'live.json'}\n"
            f"recording:\n  folder: {self.folder / 'monitor'}\n  template: \"{{queue}}/{{agent}}-{{linkedid}}.wav\"\n",
            "lab.yaml")
        self.daemon = build_daemon(config, reactor, web=False)
        self.sent: list[tuple[str, dict]] = []
        send = self.daemon.connection.action

        def spy(name, fields=None, **kw):
            self.sent.append((name, dict(fields or [])))
            return send(name, fields, **kw)

        self.daemon.connection.action = spy  # the recorder holds this very connection: it sends through the spy
        self.events: list[ev.DomainEvent] = []
        self.daemon.bus.subscribe(self.events.append)
        self.daemon.root.startService()
        self.addCleanup(self.daemon.root.stopService)

    def wait_for(self, done) -> defer.Deferred:
        return wait_on_bus(self.daemon.bus, self.events, done)


class RecordingAgainstTheSimulator(_DaemonAndSimulator):
    @defer.inlineCallbacks
    def test_an_answered_call_is_recorded_paused_resumed_and_ended_with_the_call(self):
        yield self.daemon.connection.when_synced()
        call = self.sim.place_call(caller="13500004444", name="何丽", dial="4000", talk_s=6.0)
        yield self.wait_for(lambda evs: any(isinstance(e, ev.CallAnswered) for e in evs))
        answered = next(e for e in self.events if isinstance(e, ev.CallAnswered))
        yield self.daemon.store.recordings_for_call("lab", answered.linkedid)  # the row is stored first
        while not any(name == "MixMonitor" for name, _ in self.sent):
            yield self.daemon.connection.action("Ping")
        (name, fields), = [(n, f) for n, f in self.sent if n == "MixMonitor"]
        caller_channel = next(name for name in (c.name for c in self.sim.engine.channels.values())
                              if name.startswith("PJSIP/carrier-"))
        expected = str(self.folder / "monitor" / "support" / f"1001-{answered.linkedid}.wav")
        self.assertEqual(fields, {"Channel": caller_channel, "File": expected})
        yield self.daemon.connection.action("Ping")  # the PBX has taken the MixMonitor by now
        self.assertEqual(self.sim.engine.find_channel(caller_channel).mixmonitor, expected)

        yield self.daemon.recorder.mute(answered.linkedid, True, by="1001")
        yield self.daemon.recorder.mute(answered.linkedid, False, by="1001")
        self.assertEqual([(n, f["State"]) for n, f in self.sent if n == "MixMonitorMute"], [("MixMonitorMute", True),
                                                                                            ("MixMonitorMute", False)])
        self.assertEqual({f["Direction"] for n, f in self.sent if n == "MixMonitorMute"}, {"both"})
        yield call.when_ended()
        yield self.wait_for(lambda evs: any(isinstance(e, ev.CallEnded) for e in evs))
        yield self.daemon.writer_idle()
        with open_store(self.url) as store:
            (row,) = store.recordings_for_call("lab", answered.linkedid)
        self.assertEqual((row["state"], row["path"], row["agent"], row["queue"], row["backend"]),
                         ("done", expected, "1001", "support", "mixmonitor"))
        self.assertEqual(len(row["paused"]), 1)
        start, end = row["paused"][0]
        self.assertTrue(start <= end)
        self.assertIsNone(row["size_bytes"])  # Asterisk writes the file on its own host: not here
        yield self.assertFailure(defer.ensureDeferred(self.daemon.recorder.mute(answered.linkedid, True, by="1001")),
                                 NotRecording)

    @defer.inlineCallbacks
    def test_a_recording_the_pbx_refuses_is_a_failed_row_that_says_why(self):
        yield self.daemon.connection.when_synced()
        real = self.daemon.connection.action

        def refuse(name, fields=None, **kw):
            if name == "MixMonitor":
                return defer.fail(RuntimeError("Could not start monitoring channel"))
            return real(name, fields, **kw)

        self.daemon.recorder.ami = type("Refusing", (), {"action": staticmethod(refuse)})()
        call = self.sim.place_call(caller="13500003333", name="Sun Li", dial="4000", talk_s=2.0)
        yield call.when_ended()
        yield self.wait_for(lambda evs: any(isinstance(e, ev.CallEnded) for e in evs))
        answered = next(e for e in self.events if isinstance(e, ev.CallAnswered))
        yield self.daemon.writer_idle()
        rows = yield self.daemon.store.recordings_for_call("lab", answered.linkedid)
        self.assertEqual([(r["state"], r["detail"]) for r in rows],
                         [("failed", "MixMonitor: Could not start monitoring channel")])


class WhoHungUpFirst(_DaemonAndSimulator):
    """The day's report counts the calls an agent ended before the customer, from what the simulated
    PBX did: 1001 hangs up on his caller, 1002's caller hangs up first."""

    def setUp(self) -> None:
        super().setUp()
        self.sim.agent("1001").behaviour = Answer(after_s=2.0, hangup_after_s=3.0)

    @defer.inlineCallbacks
    def test_the_report_counts_the_calls_each_agent_ended_first_and_those_without_a_wrap_up(self):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from telephony.store.casework import WrapUp
        from telephony.store.workday import work_report

        yield self.daemon.connection.when_synced()
        self.sim.agent("1002").behaviour = Answer(after_s=2.0)
        first = self.sim.place_call(caller="13500001111", name="Sun Li", dial="4000", talk_s=60.0)  # 1001 ends it
        second = self.sim.place_call(caller="13500002222", name="何丽", dial="4001", talk_s=3.0)  # the caller ends it
        yield first.when_ended()
        yield second.when_ended()
        yield self.wait_for(lambda evs: sum(isinstance(e, ev.CallEnded) for e in evs) == 2)
        yield self.daemon.writer_idle()
        ended = {e.call.answered_by: e.call for e in self.events if isinstance(e, ev.CallEnded)}
        self.assertEqual((ended["1001"].hangup_by, ended["1002"].hangup_by), ("agent", "caller"))
        yield self.daemon.store.save_wrapup("lab", ended["1002"].linkedid, "1002", "13500002222",
                                            WrapUp("咨询", "resolved"))
        day = datetime.fromtimestamp(ended["1001"].entered_at, ZoneInfo("Asia/Shanghai")).date()
        with open_store(self.url) as store:
            report = store.run(work_report, day, 1, tz="Asia/Shanghai", pbx="lab", wrapup_s=3600)
        figures = {row["agent"]: (row["hung_up_first"], row["without_wrapup"]) for row in report["agents"]}
        self.assertEqual(figures, {"1001": (1, 1), "1002": (0, 0)})


class BusyHour(_DaemonAndSimulator):
    """The busy-hour simulation (like capture 21: 3 agents, 40 callers) twenty times faster: every
    answered call gets exactly one recording row, done when its call ended."""

    timeout = 120
    scale = 20.0

    def setUp(self) -> None:
        from telephony.sim.scenarios import scenario

        self.preset = scenario("busy-hour")
        super().setUp()

    def pbx_config(self) -> PBXConfig:
        return self.preset.config()

    @defer.inlineCallbacks
    def test_every_answered_call_of_the_busy_hour_is_recorded_once(self):
        from telephony.sim.scenarios import ScenarioRun

        yield self.daemon.connection.when_synced()
        run = ScenarioRun(self.sim, self.preset).start()
        self.addCleanup(run.stop)
        yield self.wait_for(lambda evs: sum(isinstance(e, ev.CallEnded) for e in evs) >= 40)  # its 40 callers
        yield self.daemon.writer_idle()
        ended = [e.call for e in self.events if isinstance(e, ev.CallEnded)]
        answered = [c for c in ended if c.outcome == "answered"]
        self.assertGreater(len(answered), 20)
        with open_store(self.url) as store:
            rows = {c.linkedid: store.recordings_for_call("lab", c.linkedid) for c in ended}
        for call in ended:
            states = [r["state"] for r in rows[call.linkedid]]
            self.assertEqual(states, ["done"] if call.outcome == "answered" else [], call.linkedid)

