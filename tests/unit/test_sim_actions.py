"""AMI actions of the simulated PBX, restarts, time scale and seeds (task.Clock, no TCP)."""
from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from telephony.sim import Answer, GeneratorSpec, LoopbackClient, NeverAnswer, PBXConfig, Reject, SimulatedPBX
from tests.simmatch import advance_to
from tests.unit.test_sim_queue import Rig


def test_login_gets_fullybooted_then_successfulauth() -> None:
    rig = Rig()
    kinds = [m.event or m.response for m in rig.client.messages]
    assert kinds == ["Success", "FullyBooted", "SuccessfulAuth"]
    auth = rig.client.messages[2]
    assert (auth.get("Service"), auth.get("AccountID"), auth.get("UsingPassword")) == ("AMI", "telephony", "0")
    assert auth.get("EventTV") == "2026-11-22T17:01:40.000+0000"  # from the clock, not the host


def test_ping_timestamp_comes_from_the_simulated_clock() -> None:
    rig = Rig(time_scale=10.0)
    rig.clock.advance(1.5)
    pong = rig.action("Ping")
    assert pong.get("Ping") == "Pong"
    assert float(pong.get("Timestamp")) == pytest.approx(rig.start + 15.0)


def test_command_core_show_version_and_unknown_things() -> None:
    rig = Rig()
    version = rig.action("Command", [("Command", "core show version")])
    assert (version.get("Response"), version.get("Message")) == ("Success", "Command output follows")
    assert version.getall("Output")[0].startswith("Asterisk 22.10.1 built by")
    unknown_command = rig.action("Command", [("Command", "frobnicate")])
    assert unknown_command.get("Response") == "Error"
    unknown_action = rig.action("Frobnicate")
    assert (unknown_action.get("Response"), unknown_action.get("Message")) == ("Error", "Invalid/unknown command")


def test_originate_answered_runs_the_dialplan_and_reports_success_reason_4() -> None:
    rig = Rig(config=PBXConfig.early())
    rig.sim.agent("1002").behaviour = Answer(3.0, hangup_after_s=6.0)
    queued = rig.action("Originate", [("Channel", "PJSIP/1002"), ("Context", "agents"), ("Exten", "13900139000"),
                                      ("Priority", "1"), ("CallerID", '"Callback" <4000>'), ("Timeout", "20000"),
                                      ("Async", "true"), ("Variable", "CALLBACK_ID=cb-0001"),
                                      ("Account", "callback")])
    assert queued.get("Message") == "Originate successfully queued"
    rig.run(12)
    at, response = rig.first("OriginateResponse")
    assert (response.get("Response"), response.get("Reason"), response.get("CallerIDNum")) == ("Success", "4", "4000")
    assert response.get("ActionID") == queued.get("ActionID")
    assert at == pytest.approx(3.0, abs=0.01)
    carrier = rig.first("Newchannel", Channel=rig.leg("PJSIP/carrier"))[1]
    assert carrier.get("Linkedid") == response.get("Uniqueid")
    assert rig.first("VarSet", Variable="CALLBACK_ID")[1].get("Value") == "cb-0001"
    cdr = rig.first("Cdr")[1]
    assert (cdr.get("AccountCode"), cdr.get("LastApplication"), cdr.get("Disposition")) == (
        "callback", "Dial", "ANSWERED")


def test_originate_no_answer_busy_and_unknown_endpoint() -> None:
    rig = Rig(config=PBXConfig.early())
    rig.sim.agent("1002").behaviour = NeverAnswer()
    rig.sim.agent("1003").behaviour = Reject()
    rig.action("Originate", [("Channel", "PJSIP/1002"), ("Context", "agents"), ("Exten", "13900139001"),
                             ("Timeout", "10000"), ("Async", "true")])
    rig.run(11)
    failed = rig.first("OriginateResponse")[1]
    assert (failed.get("Response"), failed.get("Reason"), failed.get("Channel"), failed.get("Uniqueid")) == (
        "Failure", "3", "PJSIP/1002", "<unknown>")
    assert rig.first("Hangup", Channel=rig.leg("PJSIP/1002"))[1].get("Cause") == "19"

    rig.action("Originate", [("Channel", "PJSIP/1003"), ("Context", "agents"), ("Exten", "13900139002"),
                             ("Async", "true")])
    rig.run(12)
    busy = rig.find("OriginateResponse")[-1][1]
    assert (busy.get("Response"), busy.get("Reason")) == ("Failure", "0")
    assert rig.first("Hangup", Channel=rig.leg("PJSIP/1003"))[1].get("Cause") == "17"

    channels_before = len(rig.find("Newchannel"))
    rig.action("Originate", [("Channel", "PJSIP/1009"), ("Context", "agents"), ("Exten", "13900139003"),
                             ("Async", "true")])
    nobody = rig.find("OriginateResponse")[-1][1]
    assert (nobody.get("Reason"), nobody.get("Channel"), nobody.get("CallerIDNum")) == ("0", "PJSIP/1009", "<unknown>")
    assert len(rig.find("Newchannel")) == channels_before


def test_hangup_of_an_unknown_channel_and_the_regex_form() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    missing = rig.action("Hangup", [("Channel", "PJSIP/1001-00000099")])
    assert (missing.get("Response"), missing.get("Message")) == ("Error", "No such channel")
    empty = rig.action("Hangup", [("Channel", r"/^PJSIP\/1001-.*$/")])
    assert (empty.get("EventList"), empty.get("Message")) == ("start", "Channels hung up will follow")
    complete = [m for m in rig.client.messages if m.event == "ChannelsHungupListComplete"][-1]
    assert (complete.get("ListItems"), complete.get("ActionID")) == ("0", empty.get("ActionID"))

    rig.sim.place_call(patience_s=30.0)
    rig.run(1)
    leg = rig.leg("PJSIP/1001")
    matched = rig.action("Hangup", [("Channel", r"/^PJSIP\/1001-.*$/")])
    hung = [m for m in rig.client.messages if m.event == "ChannelHungup" and m.action_id == matched.action_id]
    assert [m.get("Channel") for m in hung] == [leg]
    assert rig.first("Hangup", Channel=leg)
    complete = [m for m in rig.client.messages if m.event == "ChannelsHungupListComplete"][-1]
    assert complete.get("ListItems") == "1"


def test_the_response_goes_out_before_the_events_it_causes() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.place_call(patience_s=30.0)
    rig.run(1)
    leg = rig.leg("PJSIP/1001")
    answer = rig.action("Hangup", [("Channel", leg), ("Cause", "19")])
    messages = rig.client.messages
    answer_at = next(i for i, m in enumerate(messages) if m.event is None and m.action_id == answer.action_id)
    hangup_at = next(i for i, m in enumerate(messages) if m.event == "Hangup" and m.get("Channel") == leg)
    assert answer_at < hangup_at


def test_mixmonitor_answers_without_message_and_restarts_the_bridge_peers() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(2.0)
    call = rig.sim.place_call(talk_s=14.0)
    rig.run(3)
    peers_before = len(rig.find("VarSet", Variable="BRIDGEPEER"))
    started = rig.action("MixMonitor", [("Channel", call.channel), ("File", "/var/spool/asterisk/monitor/t.wav")])
    assert [k for k, _ in started.headers] == ["Response", "ActionID"]
    assert rig.first("VarSet", Variable="MIXMONITOR_FILENAME")[1].get("Value") == "/var/spool/asterisk/monitor/t.wav"
    assert rig.first("MixMonitorStart")[1].get("Channel") == call.channel
    assert len(rig.find("VarSet", Variable="BRIDGEPEER")) == peers_before + 6
    muted = rig.action("MixMonitorMute", [("Channel", call.channel), ("Direction", "both"), ("State", "1")])
    assert [k for k, _ in muted.headers] == ["Response", "ActionID"]
    mute = rig.first("MixMonitorMute")[1]
    assert [k for k, _ in mute.headers][-2:] == ["Direction", "State"] and mute.get("State") == "1"
    stopped = rig.action("StopMixMonitor", [("Channel", call.channel)])
    assert [k for k, _ in stopped.headers] == ["Response", "ActionID"] and rig.first("MixMonitorStop")
    gone = rig.action("MixMonitor", [("Channel", "PJSIP/carrier-000000ff"), ("File", "/tmp/x.wav")])
    assert (gone.get("Response"), gone.get("Message")) == ("Error", "No such channel")


def test_status_lists_carry_the_actionid_and_count_their_items() -> None:
    rig = Rig(config=PBXConfig.early())
    rig.sim.agent("1001").behaviour = Answer(1.0)
    rig.sim.place_call("13800001111", "Zhou Jie", talk_s=15.0)
    rig.run(1.2)
    rig.sim.place_call("13800002222", "Wu Fang", patience_s=10.0)
    rig.run(3.2)
    for action, item, complete, count in (("QueueStatus", None, "QueueStatusComplete", 6),
                                          ("QueueSummary", "QueueSummary", "QueueSummaryComplete", 2),
                                          ("CoreShowChannels", "CoreShowChannel", "CoreShowChannelsComplete", 4),
                                          ("Status", "Status", "StatusComplete", 4)):
        answer = rig.action(action)
        assert answer.get("EventList") == "start"
        mine = [m for m in rig.client.messages if m.event and m.action_id == answer.action_id]
        assert mine[-1].event == complete and mine[-1].get("ListItems") == str(count)
        if item is not None:
            assert sum(1 for m in mine if m.event == item) == count
    entry = [m for m in rig.client.messages if m.event == "QueueEntry"][0]
    assert (entry.get("CallerIDName"), entry.get("Wait")) == ("Wu Fang", "2")
    talking = [m for m in rig.client.messages if m.event == "QueueMember" and m.get("Name") == "Agent 1001"][0]
    assert (talking.get("InCall"), talking.get("Status")) == ("1", "2")


def test_restart_closes_sessions_refuses_then_accepts_logins_before_fullybooted() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(1.0)
    rig.sim.place_call(talk_s=60.0)
    rig.run(5)
    assert rig.sim.engine.channel_names()
    rig.sim.restart()
    shutdown = rig.client.messages[-1]
    assert (shutdown.event, shutdown.get("Shutdown"), shutdown.get("Restart")) == ("Shutdown", "Cleanly", "True")
    assert rig.client.closed and not rig.sim.engine.channel_names()
    assert rig.sim.factory.buildProtocol(None) is None  # refused while Asterisk restarts
    rig.run(5.6)
    late = LoopbackClient(rig.sim)
    late.login("telephony", "s3cret")
    assert [m.event or m.response for m in late.messages] == ["Success", "SuccessfulAuth"]
    rig.run(5.8)
    booted = late.messages[-1]
    assert booted.event == "FullyBooted" and [k for k, _ in booted.headers][2] == "Status"
    rig.run(25)
    back = [m for m in late.messages if m.event == "QueueMemberStatus"]
    assert {m.get("Interface") for m in back} == {"PJSIP/1001", "PJSIP/1002", "PJSIP/1003"}
    assert all(m.get("Status") == "1" for m in back)
    assert not [m for m in late.messages if m.event in ("Hangup", "Newchannel")]


def test_time_scale_runs_faster_but_reports_simulated_seconds() -> None:
    rig = Rig(time_scale=10.0)
    rig.sim.agent("1001").behaviour = NeverAnswer()
    rig.sim.agent("1002").behaviour = NeverAnswer()
    rig.sim.place_call(patience_s=40.0)
    advance_to(rig.clock, 1.6)  # 16 simulated seconds
    assert rig.first("AgentRingNoAnswer")[1].get("RingTime") == "15000"


def _stream(seed: int) -> list[bytes]:
    clock = Clock()
    sim = SimulatedPBX(clock, seed=seed)
    out: list[bytes] = []
    sim.tap(out.append)
    sim.run_generator(GeneratorSpec(rate_per_min=30.0, max_calls=12,
                                    agents={"1001": "quick", "1002": "slow", "1003": "quick"}))
    advance_to(clock, 300)
    return out


def test_a_seed_reproduces_the_run_and_another_seed_varies_it() -> None:
    first, again, other = _stream(5), _stream(5), _stream(6)
    assert first == again
    assert first != other
    assert sum(b.startswith(b"Event: AgentCalled") for b in first) >= 12


def test_different_seeds_vary_the_order_the_real_stream_varies() -> None:
    """Newstate Ringing of the member leg sometimes comes before AgentCalled (13, 16), sometimes after."""
    orders = set()
    for seed in range(12):
        stream = _stream(seed)
        for data in stream:
            if data.startswith(b"Event: AgentCalled"):
                orders.add(b"DestChannelState: 5" in data)
    assert orders == {True, False}


def test_redirect_errors_leave_the_call_alone() -> None:
    rig = Rig()
    rig.sim.agent("1001").behaviour = Answer(1.0)
    direct = rig.sim.place_call("13800000001", "直拨", "1001", talk_s=10.0)
    rig.run(2)
    nowhere = rig.action("Redirect", [("Channel", direct.channel), ("Context", "agents"), ("Exten", "x"),
                                      ("Priority", "1")])
    assert (nowhere.get("Response"), nowhere.get("Message")) == ("Error", "Redirect failed")
    in_dial = rig.action("Redirect", [("Channel", direct.channel), ("Context", "from-carrier"), ("Exten", "4000"),
                                      ("Priority", "1")])
    assert (in_dial.get("Response"), in_dial.get("Message")) == ("Error", "Redirect failed")
    missing = rig.action("Redirect", [("Channel", "PJSIP/carrier-000000ff"), ("Context", "from-carrier"),
                                      ("Exten", "4000")])
    assert missing.get("Message") == "Channel does not exist: PJSIP/carrier-000000ff"
    rig.run(20)
    assert direct.outcome == "answered" and direct.agent == "1001" and direct.queues == []
