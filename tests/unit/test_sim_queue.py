"""app_queue in the simulated PBX: the rules the captures taught us, driven with task.Clock."""
from __future__ import annotations

from twisted.internet.task import Clock

from telephony.ami.protocol import Framer, Message
from telephony.sim import Answer, Decline, LoopbackClient, NeverAnswer, PBXConfig, Reject, SimulatedPBX
from tests.simmatch import advance_to


class Rig:
    """A simulator on a task.Clock, a logged-in in-process AMI client, and every event with its time."""

    def __init__(self, *, config: PBXConfig | None = None, seed: int = 1, time_scale: float = 1.0) -> None:
        self.clock = Clock()
        self.sim = SimulatedPBX(self.clock, config=config, users={"telephony": "s3cret"}, seed=seed,
                                time_scale=time_scale)
        self.start = self.sim.now()
        self.events: list[tuple[float, Message]] = []
        self.sim.tap(self._record)
        self.client = LoopbackClient(self.sim)
        self.client.login("telephony", "s3cret")

    def _record(self, data: bytes) -> None:
        for message in Framer(expect_banner=False).feed(data):
            self.events.append((self.sim.now() - self.start, message))

    def run(self, until: float) -> None:
        """Run to ``until`` simulated seconds after the start."""
        advance_to(self.clock, until / self.sim.engine.time_scale)

    def find(self, event: str, **headers: str) -> list[tuple[float, Message]]:
        return [(t, m) for t, m in self.events
                if m.event == event and all(m.get(k) == v for k, v in headers.items())]

    def first(self, event: str, **headers: str) -> tuple[float, Message]:
        found = self.find(event, **headers)
        assert found, f"no {event} {headers}"
        return found[0]

    def on_channel(self, prefix: str) -> list[str]:
        """Event names of the channels whose name starts with ``prefix``, in order."""
        return [m.event for _, m in self.events if (m.get("Channel") or "").startswith(prefix)
                and m.event not in ("RTCPSent", "RTCPReceived", "Cdr")]

    def action(self, name: str, fields: list[tuple[str, object]] | None = None) -> Message:
        action_id = self.client.send(name, fields)
        answers = [m for m in self.client.messages if m.event is None and m.action_id == action_id]
        assert answers, f"no answer to {name}"
        return answers[0]

    def leg(self, prefix: str) -> str:
        return [m.get("Channel") for _, m in self.events if m.event == "Newchannel"
                and m.get("Channel", "").startswith(prefix)][-1]


def test_a_member_who_never_answers_rings_out_and_the_next_one_is_offered_after_retry() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1002").behaviour = Answer(3.0)
    call = rig.sim.place_call("13912345678", "Wang Wei", "4000", talk_s=5.0)
    rig.run(40)

    called_1001, _ = rig.first("AgentCalled", Interface="PJSIP/1001")
    no_answer_at, no_answer = rig.first("AgentRingNoAnswer")
    assert no_answer.get("RingTime") == "15000"
    assert abs(no_answer_at - called_1001 - 15.0) < 0.001
    ends = [m.get("DialStatus") for _, m in rig.find("DialEnd", DestChannel=no_answer.get("DestChannel"))]
    assert ends == ["NOANSWER", "CANCEL"]
    hangup = rig.first("Hangup", Channel=no_answer.get("DestChannel"))[1]
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("0", "Unknown")
    called_1002, _ = rig.first("AgentCalled", Interface="PJSIP/1002")
    assert abs(called_1002 - no_answer_at - 2.0) < 0.01  # the queue's retry
    connect = rig.first("AgentConnect")[1]
    assert (connect.get("Interface"), connect.get("HoldTime"), connect.get("RingTime")) == ("PJSIP/1002", "20", "3")
    assert call.outcome == "answered" and call.agent == "1002"


def test_an_ami_hangup_of_the_ringing_leg_offers_the_next_member_at_once() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1002").behaviour = Answer(3.0)
    rig.sim.place_call("13811112222", "钱七", "4002", talk_s=5.0)  # guard: member timeout 60 s
    rig.run(1)
    called_1001, _ = rig.first("AgentCalled", Interface="PJSIP/1001")
    rig.run(called_1001 + 15.0)
    leg = rig.leg("PJSIP/1001")
    answer = rig.action("Hangup", [("Channel", leg), ("Cause", "19")])
    assert (answer.get("Response"), answer.get("Message")) == ("Success", "Channel Hungup")
    rig.run(40)

    assert [m.get("DialStatus") for _, m in rig.find("DialEnd", DestChannel=leg)] == ["NOANSWER"]
    assert rig.first("AgentRingNoAnswer", DestChannel=leg)[1].get("RingTime") == "15000"
    hangup_at, hangup = rig.first("Hangup", Channel=leg)
    assert (hangup.get("Cause"), hangup.get("Cause-txt"), hangup.get("TechCause")) == (
        "19", "User alerting, no answer", "480")
    assert not rig.find("HangupRequest", Channel=leg) and not rig.find("SoftHangupRequest", Channel=leg)
    called_1002, _ = rig.first("AgentCalled", Interface="PJSIP/1002")
    assert 0 < called_1002 - hangup_at <= 0.003  # no retry wait
    connect = rig.first("AgentConnect")[1]
    assert connect.get("RingTime") == connect.get("HoldTime") == "18"  # counted from the first offer


def test_an_ami_hangup_without_cause_gives_cause_0() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.place_call(dial="4002", patience_s=20.0)
    rig.run(3)
    leg = rig.leg("PJSIP/1001")
    rig.action("Hangup", [("Channel", leg)])
    rig.run(4)
    hangup = rig.first("Hangup", Channel=leg)[1]
    assert (hangup.get("Cause"), hangup.get("Cause-txt"), hangup.get("TechCause")) == ("0", "Unknown", None)


def test_an_ami_hangup_of_the_answered_leg_ends_the_whole_call() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(3.0)
    call = rig.sim.place_call("13866662222", "Lin Tao", "4002", talk_s=20.0)
    rig.run(4.2)
    leg = rig.leg("PJSIP/1001")
    rig.action("Hangup", [("Channel", leg)])
    hung_up_at = rig.sim.now() - rig.start
    rig.run(30)

    caller_hangup_at, caller_hangup = rig.first("Hangup", Channel=call.channel)
    assert caller_hangup_at - hung_up_at < 0.01 and caller_hangup.get("Cause") == "16"
    complete = rig.first("AgentComplete")[1]
    assert complete.get("Reason") == "caller" and complete.get("TalkTime") == "1"
    assert not any(key.startswith("Dest") for key, _ in complete.headers)
    assert call.outcome == "answered" and call.ended_at is not None


def test_a_paused_member_is_skipped_without_any_event() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(1.0)
    rig.sim.agent("1002").behaviour = Answer(2.0)
    answer = rig.action("QueuePause", [("Interface", "PJSIP/1001"), ("Paused", "true"), ("Reason", "振铃未接")])
    assert answer.get("Message") == "Interface paused successfully"
    pauses = rig.find("QueueMemberPause", Interface="PJSIP/1001")
    assert [m.get("Queue") for _, m in pauses] == ["support", "guard", "autopause"]
    assert all(m.get("Paused") == "1" and m.get("PausedReason") == "振铃未接" for _, m in pauses)
    mark = len(rig.events)
    call = rig.sim.place_call("13877778888", "冯涛", "4000", talk_s=4.0)
    rig.run(15)

    assert call.agent == "1002"
    after = [m for _, m in rig.events[mark:]]
    assert not any("1001" in (m.get("Channel", "") + m.get("DestChannel", "") + m.get("Interface", "")
                              + m.get("Device", "")) for m in after)


def test_queuepause_answers_and_errors() -> None:
    rig = Rig()
    only_support = rig.action("QueuePause", [("Queue", "support"), ("Interface", "PJSIP/1002"),
                                             ("Paused", "true"), ("Reason", "training")])
    assert only_support.get("Message") == "Interface paused successfully"
    assert [m.get("Queue") for _, m in rig.find("QueueMemberPause")] == ["support"]
    unpaused = rig.action("QueuePause", [("Interface", "PJSIP/1002"), ("Paused", "false")])
    assert unpaused.get("Message") == "Interface unpaused successfully"
    last = rig.find("QueueMemberPause")[-1][1]
    assert last.get("Paused") == "0" and last.get("PausedReason") == ""
    unknown = rig.action("QueuePause", [("Interface", "PJSIP/1009"), ("Paused", "true")])
    assert (unknown.get("Response"), unknown.get("Message")) == ("Error", "Interface not found")


def test_native_autopause_pauses_in_that_queue_only_before_the_dialends() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1002").behaviour = Answer(2.0)
    rig.sim.place_call("13899990000", "许明", "4003", talk_s=3.0)
    rig.run(30)

    names = [m.event for _, m in rig.events]
    pause_index = names.index("QueueMemberPause")
    pause = rig.events[pause_index][1]
    assert (pause.get("Queue"), pause.get("Paused"), pause.get("PausedReason"), pause.get("Status")) == (
        "autopause", "1", "Auto-Pause", "6")
    assert names.index("AgentRingNoAnswer") < pause_index < names.index("DialEnd", names.index("AgentRingNoAnswer"))
    assert len(rig.find("QueueMemberPause")) == 1
    status = rig.find("QueueMemberStatus", Interface="PJSIP/1001", Queue="autopause")[-1][1]
    assert (status.get("Paused"), status.get("PausedReason")) == ("1", "Auto-Pause")
    # still free in support: the next support call rings 1001 again
    rig.sim.agent("1001").behaviour = Answer(1.0)
    second = rig.sim.place_call("13899990001", "Xu Ming", "4000", talk_s=2.0)
    rig.run(60)
    assert second.agent == "1001"


def test_a_caller_who_gives_up_is_reported_as_an_abandon() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    call = rig.sim.place_call("13600002222", "Zhao Min", "4000", patience_s=8.0)
    rig.run(20)

    request = rig.first("HangupRequest", Channel=call.channel)[1]
    assert (request.get("Cause"), request.get("TechCause")) == ("127", "487")
    abandon = rig.first("QueueCallerAbandon")[1]
    assert (abandon.get("Position"), abandon.get("OriginalPosition"), abandon.get("HoldTime")) == ("1", "1", "8")
    hangup = rig.first("Hangup", Channel=call.channel)[1]
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("127", "Interworking, unspecified")
    assert rig.first("Hangup", Channel=rig.leg("PJSIP/1001"))[1].get("Cause") == "0"
    assert [m.get("Disposition") for _, m in rig.find("Cdr")] == ["NO ANSWER"]
    assert call.outcome == "abandoned"


def test_a_caller_never_offered_who_gives_up_leaves_no_cdr() -> None:
    rig = Rig()
    for extension in ("1001", "1002"):
        rig.action("QueuePause", [("Interface", f"PJSIP/{extension}"), ("Paused", "true")])
    call = rig.sim.place_call(patience_s=12.0)
    rig.run(20)
    assert call.outcome == "abandoned" and not rig.find("Cdr") and not rig.find("AgentCalled")


def test_redirect_out_of_a_queue_is_an_abandon_there_and_a_join_in_the_next() -> None:
    rig = Rig(config=PBXConfig.early())
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1003").behaviour = Answer(3.0)
    call = rig.sim.place_call("13700001111", "Li Lei", "4000", talk_s=5.0)
    rig.run(5.1)
    answer = rig.action("Redirect", [("Channel", call.channel), ("Context", "from-carrier"), ("Exten", "4001"),
                                     ("Priority", "1")])
    assert answer.get("Message") == "Redirect successful"
    rig.run(20)

    caller = rig.on_channel(call.channel)
    assert caller.index("QueueCallerAbandon") < caller.index("QueueCallerJoin", caller.index("QueueCallerAbandon"))
    assert rig.first("QueueCallerAbandon")[1].get("Queue") == "support"
    assert [m.get("Queue") for _, m in rig.find("QueueCallerJoin")] == ["support", "sales"]
    assert call.agent == "1003" and call.queues == ["support", "sales"]


def test_redirect_of_a_bridged_caller_holds_agentcomplete_until_the_caller_hangs_up() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(2.0)
    rig.sim.agent("1003").behaviour = Answer(2.0)
    call = rig.sim.place_call("13700005555", "Xie Fang", "4000", talk_s=8.0)
    rig.run(4.1)
    rig.action("Redirect", [("Channel", call.channel), ("Context", "agents"), ("Exten", "1003"), ("Priority", "1")])
    rig.run(6.0)
    assert not rig.find("AgentComplete")  # held back while the caller talks to 1003
    assert not [m for _, m in rig.events if m.event and "Transfer" in m.event]
    assert rig.first("Hangup", Channel=rig.leg("PJSIP/1001"))[1].get("Cause") == "16"
    rig.run(20)

    complete_at, complete = rig.first("AgentComplete")
    caller_hangup_at, _ = rig.first("Hangup", Channel=call.channel)
    assert complete_at == caller_hangup_at
    assert (complete.get("Reason"), complete.get("TalkTime")) == ("caller", "8")
    assert not any(key.startswith("Dest") for key, _ in complete.headers)
    assert [m.get("LastApplication") for _, m in rig.find("Cdr")] == ["Queue", "Dial"]


def test_a_busy_member_is_skipped_without_retry_and_a_decline_reports_its_ring_time() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Reject()
    rig.sim.agent("1002").behaviour = Decline(after_s=12.0)
    rig.sim.place_call(dial="4000", patience_s=30.0)
    rig.run(16)

    busy = rig.first("AgentRingNoAnswer", Interface="PJSIP/1001")[1]
    assert busy.get("RingTime") == "0"
    busy_hangup_at, busy_hangup = rig.first("Hangup", Channel=busy.get("DestChannel"))
    assert (busy_hangup.get("Cause"), busy_hangup.get("TechCause")) == ("17", "486")
    assert not rig.find("Newstate", Channel=busy.get("DestChannel"))  # a 486 never rang
    called_1002, _ = rig.first("AgentCalled", Interface="PJSIP/1002")
    assert called_1002 - busy_hangup_at <= 0.003
    declined = rig.first("AgentRingNoAnswer", Interface="PJSIP/1002")[1]
    assert declined.get("RingTime") == "12000"
    hangup = rig.first("Hangup", Channel=declined.get("DestChannel"))[1]
    assert (hangup.get("Cause"), hangup.get("Cause-txt"), hangup.get("TechCause")) == ("21", "Call Rejected", "603")


def test_agentconnect_arrives_while_the_caller_still_rings() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(4.0)
    call = rig.sim.place_call()
    rig.run(12)
    caller = [m for _, m in rig.events if m.get("Channel") == call.channel]
    connect = next(i for i, m in enumerate(caller) if m.event == "AgentConnect")
    assert caller[connect].get("ChannelState") == "4"
    assert caller[connect + 1].event == "Newstate" and caller[connect + 1].get("ChannelState") == "6"


def test_every_member_state_change_gives_one_queuemembersatus_per_queue() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(1.0)
    rig.sim.place_call()
    rig.run(1.5)
    ringing = rig.find("QueueMemberStatus", Interface="PJSIP/1001", Status="6")
    assert [m.get("Queue") for _, m in ringing] == ["support", "guard", "autopause"]


def test_an_unregistered_agent_is_not_offered_and_comes_back_on_register() -> None:
    rig = Rig(config=PBXConfig.early())
    rig.sim.agent("1001").unregister()
    assert rig.first("QueueMemberStatus", Interface="PJSIP/1001")[1].get("Status") == "5"
    assert rig.first("PeerStatus")[1].get("PeerStatus") == "Unreachable"
    assert rig.first("ContactStatus")[1].get("ContactStatus") == "Removed"
    rig.sim.agent("1002").behaviour = Answer(1.0)
    call = rig.sim.place_call()
    rig.run(10)
    assert call.agent == "1002" and not rig.find("AgentCalled", Interface="PJSIP/1001")
    rig.sim.agent("1001").register()
    back = rig.find("QueueMemberStatus", Interface="PJSIP/1001")[-1][1]
    assert back.get("Status") == "1"
    assert [m.get("ContactStatus") for _, m in rig.find("ContactStatus")][-2:] == ["NonQualified", "Reachable"]


def test_a_caller_bye_in_queue_has_no_cause_on_22_10_and_cause_16_on_22_8() -> None:
    for config, cause in ((PBXConfig.default(), None), (PBXConfig.early(), "16")):
        rig = Rig(config=config)
        rig.sim.agent("1001").behaviour = Answer(1.0)
        call = rig.sim.place_call(talk_s=3.0)
        rig.run(10)
        assert rig.first("HangupRequest", Channel=call.channel)[1].get("Cause") == cause
        waits = [m.get("Variable") for _, m in rig.find("VarSet", Channel=call.channel)
                 if m.get("Variable", "").startswith("QUEUEWAIT")]
        assert bool(waits) == (cause is None)  # 22.10's new variables


def test_ringinuse_lets_a_busy_member_be_offered_again() -> None:
    from dataclasses import replace

    base = PBXConfig.default()
    config = replace(base, queues=tuple(replace(q, ringinuse=(q.name == "sales")) for q in base.queues))
    rig = Rig(config=config)
    rig.sim.agent("1003").behaviour = Answer(1.0)
    first = rig.sim.place_call("13800000001", "One", "4001", talk_s=30.0)
    rig.run(3)
    second = rig.sim.place_call("13800000002", "Two", "4001", talk_s=5.0)
    rig.run(10)
    assert first.agent == second.agent == "1003"
