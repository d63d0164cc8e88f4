"""The three-ring guard, rule by rule, on a task.Clock: deadlines, misses, pauses, alerts, races."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from telephony.bus import EventBus
from telephony.config import Overflow, RingPolicy
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.live.service import LiveService
from telephony.replay import advance_to
from telephony.rings.guard import RingGuard
from telephony.rings.service import RingGuardService
from tests.amiscript import Pbx

T0 = 1_795_914_315.0


class RecordingAMI:
    """Stands in for AMIConnection.action: records what the guard sends, answers nothing."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, float]] = []
        self.clock: Clock | None = None

    def action(self, name, fields=None, *, timeout=None) -> Deferred:
        self.sent.append((name, dict(fields or ()), self.clock.seconds()))
        return Deferred()


class Desk:
    """A live model, the guard and a recording AMI, all on one Clock."""

    def __init__(self, policy: RingPolicy = RingPolicy(), *, ami: RecordingAMI | None = None, shifts=()) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.model = LiveModel(policy=lambda queue: policy)
        self.bus = EventBus()
        self.events: list[ev.DomainEvent] = []
        self.bus.subscribe(self.events.append)
        self.live = LiveService(self.model, self.bus, self.clock)
        self.ami = ami if ami is not None else RecordingAMI()
        self.ami.clock = self.clock
        self.guard = RingGuardService(RingGuard(self.model, self.model.policy, ZoneInfo("Asia/Shanghai"), shifts),
                                      self.bus, self.ami, self.clock)
        self.live.startService()
        self.guard.startService()
        self.pbx = Pbx()

    def feed(self, messages) -> None:
        for message in messages:
            self.live.on_ami_event(message, self.clock.seconds())

    def at(self, seconds_after_t0: float) -> None:
        advance_to(self.clock, T0 + seconds_after_t0)

    def of(self, kind) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def agents(self, queue: str, *agents: str) -> None:
        self.feed(self.pbx.member_status(queue, a) for a in agents)

    def ringing_call(self, agent: str = "1001", queue: str | None = "support", number: str = "13800138000"):
        caller, msgs = self.pbx.caller(number)
        self.feed(msgs)
        if queue:
            self.feed(self.pbx.join(caller, queue))
        leg, msgs = self.pbx.offer(caller, agent, queue)
        self.feed(msgs)
        return caller, leg


def test_third_ring_passes_the_guard_hangs_up_the_ringing_leg_on_time():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    desk.at(1.0)
    caller, leg = desk.ringing_call()
    desk.at(15.999)
    assert desk.ami.sent == []
    desk.at(16.0)
    assert desk.ami.sent == [("Hangup", {"Channel": leg.name, "Cause": 19}, T0 + 16.0)]
    (deadline,) = desk.of(ev.RingDeadline)
    assert (deadline.action, deadline.agent, deadline.at) == ("hangup", "1001", T0 + 16.0)
    (missed,) = desk.of(ev.AgentMissed)
    assert (missed.misses_today, missed.consecutive) == (1, 1)
    (alert,) = desk.of(ev.SupervisorAlert)
    assert (alert.kind, alert.agent, alert.queue, alert.caller, alert.since) == ("miss", "1001", "support", "138****8000", T0 + 1.0)


def test_rings_are_counted_from_the_ring_start_with_the_queue_cycle():
    desk = Desk(RingPolicy(cycle_s=4.0, allowed=2))
    desk.agents("support", "1001", "1002")
    desk.ringing_call()
    desk.at(7.99)
    assert desk.ami.sent == []
    desk.at(8.0)
    assert [name for name, _, _ in desk.ami.sent] == ["Hangup"]
    assert [e.ring for e in desk.of(ev.AgentRinging)] == [1, 2]


def test_observe_mode_counts_and_alerts_but_never_acts():
    desk = Desk(RingPolicy(mode="observe"))
    desk.agents("support", "1001", "1002")
    for n in range(2):
        caller, leg = desk.ringing_call(number=f"1380013800{n}")
        desk.at(15.0 + 20 * n)
        desk.feed(desk.pbx.ring_no_answer(caller, leg, "support"))
        desk.feed(desk.pbx.caller_hangs_up(caller, queue="support"))
        desk.at(20.0 + 20 * n)
    assert desk.ami.sent == []
    assert [e.action for e in desk.of(ev.RingDeadline)] == ["observe", "observe"]
    assert [e.consecutive for e in desk.of(ev.AgentMissed)] == [1, 2]
    withheld = [a for a in desk.of(ev.SupervisorAlert) if a.kind == "pause_withheld"]
    assert len(withheld) == 1 and "observe" in withheld[0].detail


def test_answer_in_the_same_instant_as_the_deadline_wins():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    # The deadline falls due and, in the same instant, the answer arrives.  On the real reactor the
    # guard's yield lets the bytes land first; on the Clock, a call queued at the same time after the
    # guard's timer (and before its yield) is exactly that ordering.
    desk.clock.callLater(15.0, desk.feed, desk.pbx.answer(caller, leg, "support"))
    desk.clock.advance(15.0)
    assert desk.ami.sent == []
    assert desk.of(ev.RingDeadline) == [] and desk.of(ev.AgentMissed) == []
    assert desk.of(ev.CallAnswered)[0].agent == "1001"


def test_caller_hanging_up_in_the_same_instant_gets_no_hangup_sent():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.clock.callLater(15.0, desk.feed, desk.pbx.caller_hangs_up(caller, leg, queue="support"))
    desk.clock.advance(15.0)
    assert desk.ami.sent == []
    assert desk.of(ev.CallEnded)[0].call.outcome == "abandoned"


def test_an_answer_just_after_the_hangup_left_is_reported_as_a_lost_race():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(15.0)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup"]
    desk.at(15.001)
    desk.feed(desk.pbx.answer(caller, leg, "support"))
    (race,) = [a for a in desk.of(ev.SupervisorAlert) if a.kind == "race_lost"]
    assert race.agent == "1001" and "ended the call" in race.detail


def test_answer_a_moment_before_the_deadline_cancels_it():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(14.9)
    desk.feed(desk.pbx.answer(caller, leg, "support"))
    desk.at(60)
    assert desk.ami.sent == [] and desk.clock.getDelayedCalls() == []


def test_two_misses_in_a_row_pause_the_agent_in_every_queue():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    for n in range(2):
        caller, leg = desk.ringing_call(number=f"1390000000{n}")
        desk.at(15.0 + 30 * n)
        desk.feed(desk.pbx.ring_no_answer(caller, leg, "support", cause=19))
        desk.feed(desk.pbx.caller_hangs_up(caller, queue="support"))
        desk.at(30.0 + 30 * n)
    names = [(name, fields) for name, fields, _ in desk.ami.sent]
    assert names[0][0] == names[1][0] == "Hangup"
    assert names[2] == ("QueuePause", {"Interface": "PJSIP/1001", "Paused": True, "Reason": "振铃未接"})
    pause_alert = [a for a in desk.of(ev.SupervisorAlert) if a.kind == "pause"]
    assert len(pause_alert) == 1 and pause_alert[0].agent == "1001"


def test_an_answer_between_misses_breaks_the_streak():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call(number="13900000001")
    desk.at(15.0)
    desk.feed(desk.pbx.ring_no_answer(caller, leg, "support", cause=19) + desk.pbx.caller_hangs_up(caller, queue="support"))
    caller, leg = desk.ringing_call(number="13900000002")
    desk.at(20.0)
    desk.feed(desk.pbx.answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, leg))
    caller, leg = desk.ringing_call(number="13900000003")
    desk.at(36.0)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup", "Hangup"]
    assert [e.consecutive for e in desk.of(ev.AgentMissed)] == [1, 1]
    assert [e.misses_today for e in desk.of(ev.AgentMissed)] == [1, 2]


def test_an_unpause_starts_the_count_again():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call(number="13900000001")
    desk.at(15.0)
    desk.feed(desk.pbx.ring_no_answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, queue="support"))
    desk.feed([desk.pbx.pause("support", "1001", True, "午休"), desk.pbx.pause("support", "1001", False)])
    desk.ringing_call(number="13900000002")
    desk.at(31.0)
    assert [e.consecutive for e in desk.of(ev.AgentMissed)] == [1, 1]
    assert "QueuePause" not in [n for n, _, _ in desk.ami.sent]


def test_the_last_ready_member_is_never_paused():
    desk = Desk()
    desk.agents("sales", "1003")
    for n in range(2):
        caller, leg = desk.ringing_call(agent="1003", queue="sales", number=f"1370000000{n}")
        desk.at(15.0 + 30 * n)
        desk.feed(desk.pbx.ring_no_answer(caller, leg, "sales") + desk.pbx.caller_hangs_up(caller, queue="sales"))
        desk.at(30.0 + 30 * n)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup", "Hangup"]
    (withheld,) = [a for a in desk.of(ev.SupervisorAlert) if a.kind == "pause_withheld"]
    assert "last ready member of sales" in withheld.detail


def test_a_direct_call_rings_out_to_the_overflow():
    policy = RingPolicy(overflow=Overflow(context="from-carrier", exten="4009"))
    desk = Desk(policy)
    caller, leg = desk.ringing_call(agent="1002", queue=None)
    desk.at(15.0)
    assert desk.ami.sent == [("Redirect", {"Channel": caller.name, "Context": "from-carrier", "Exten": "4009",
                                           "Priority": 1}, T0 + 15.0)]
    assert desk.of(ev.RingDeadline)[0].action == "redirect"


def test_a_direct_call_without_overflow_has_its_leg_hung_up():
    desk = Desk()
    caller, leg = desk.ringing_call(agent="1002", queue=None)
    desk.at(15.0)
    assert desk.ami.sent[0][:2] == ("Hangup", {"Channel": leg.name, "Cause": 19})


def test_a_callback_ringing_the_agent_first_is_not_guarded():
    from tests.amiscript import Leg, event

    desk = Desk()
    # An Originate (capture 06): the agent's leg is the call's first channel, dialled from no channel
    agent = Leg("1795367052.10", "1795367052.10", "PJSIP/1002-0000000a", "1002", "Agent 1002")
    desk.feed([event("Newchannel", *agent.headers(), ("Context", "agents"), ("Exten", "s")),
               event("DialBegin", *agent.headers("Dest"), ("DialString", "1002"))])
    agent.state = 5
    desk.feed([event("Newstate", *agent.headers())])
    desk.at(60.0)
    (ringing, *_) = desk.of(ev.AgentRinging)
    assert (ringing.agent, ringing.queue, ringing.caller_channel) == ("1002", None, None)
    assert desk.model.calls["1795367052.10"].direction == "outbound"
    assert desk.ami.sent == [] and desk.of(ev.RingDeadline) == [] and desk.of(ev.AgentMissed) == []


def test_long_wait_with_no_free_agent_alerts_the_supervisor_once():
    desk = Desk()
    desk.agents("support", "1001")
    desk.feed([desk.pbx.member_status("support", "1001", status=2)])  # talking to someone else
    caller, msgs = desk.pbx.caller("13600002222")
    desk.feed(msgs + desk.pbx.join(caller, "support"))
    desk.at(24.9)
    assert desk.of(ev.SupervisorAlert) == []
    desk.at(25.0)
    (alert,) = desk.of(ev.SupervisorAlert)
    assert (alert.kind, alert.queue, alert.caller, alert.since) == ("long_wait", "support", "136****2222", T0)
    desk.at(100.0)
    assert len(desk.of(ev.SupervisorAlert)) == 1


def test_long_wait_is_not_raised_while_an_agent_is_free():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, msgs = desk.pbx.caller("13600002222")
    desk.feed(msgs + desk.pbx.join(caller, "support"))
    desk.at(40.0)
    assert desk.of(ev.SupervisorAlert) == []


def test_after_a_reconnect_a_ringing_call_is_timed_from_the_snapshot():
    desk = Desk()
    pbx = Pbx()
    caller, _ = pbx.caller("13800002222")
    leg, _ = pbx.offer(caller, "1002", "support")
    # the daemon (re)connects 10 s into the ring: CoreShowChannels says Duration 00:00:10
    snapshot = [pbx_event for pbx_event in _core_show(caller, leg, ring_s=10)]
    status = [desk.pbx.member_status("support", "1002", status=6)]
    status = [_as_queue_member(m) for m in status]
    desk.clock.advance(100.0)
    desk.live.on_snapshot(snapshot, status, desk.clock.seconds())
    desk.clock.advance(4.999)
    assert desk.ami.sent == []
    desk.clock.advance(0.001)
    desk.clock.advance(0)
    assert desk.ami.sent[0][:2] == ("Hangup", {"Channel": leg.name, "Cause": 19})


def test_after_a_long_disconnection_an_overdue_ring_is_acted_on_at_once():
    desk = Desk()
    pbx = Pbx()
    caller, _ = pbx.caller("13800002222")
    leg, _ = pbx.offer(caller, "1002", "support")
    desk.clock.advance(100.0)
    desk.live.on_snapshot(list(_core_show(caller, leg, ring_s=40)), [], desk.clock.seconds())
    desk.clock.advance(0)
    desk.clock.advance(0)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup"]


def test_a_failed_action_is_logged_not_raised(caplog):
    class Refusing(RecordingAMI):
        def action(self, name, fields=None, *, timeout=None):
            super().action(name, fields)
            raise ConnectionError("not connected to Asterisk")

    desk = Desk(ami=Refusing())
    desk.agents("support", "1001", "1002")
    desk.ringing_call()
    desk.at(15.0)
    assert "not connected to Asterisk" in caplog.text
    assert desk.of(ev.RingDeadline)[0].action == "hangup", "the miss is still counted and alerted"


def test_a_no_such_channel_answer_is_only_logged(caplog):
    class LosingTheRace(RecordingAMI):
        def action(self, name, fields=None, *, timeout=None):
            super().action(name, fields)
            return fail(RuntimeError("No such channel"))

    desk = Desk(ami=LosingTheRace())
    desk.agents("support", "1001", "1002")
    desk.ringing_call()
    desk.at(15.0)
    assert "No such channel" in caplog.text


# -- snapshot helpers --------------------------------------------------------------------------


def _show(channel, state: int, app: str, data: str, seconds: int, bridge: str = ""):
    """The CoreShowChannel line of ``channel``, now in ``state``, ``seconds`` after it was created."""
    from tests.amiscript import event

    channel.state = state
    return event("CoreShowChannel", ("ActionID", "resync-1"), *channel.headers(), ("Application", app),
                 ("ApplicationData", data), ("Duration", f"00:{seconds // 60:02d}:{seconds % 60:02d}"),
                 ("BridgeId", bridge))


def _core_show(caller, leg, *, ring_s: int):
    yield _show(caller, 4, "Queue", "support", ring_s)
    yield _show(leg, 5, "AppQueue", "(Outgoing Line)", ring_s)


def _as_queue_member(status_message):
    from tests.amiscript import event

    return event("QueueMember", ("Queue", status_message["Queue"]), ("Name", status_message["MemberName"]),
                 ("Location", status_message["Interface"]), ("Status", status_message["Status"]),
                 ("Paused", status_message["Paused"]), ("PausedReason", ""), ("InCall", 0))


def test_todays_misses_are_read_back_after_a_restart():
    from twisted.internet.defer import succeed
    from types import SimpleNamespace

    class StoredFacts:
        def agent_events(self, pbx, *, agent=None, since=None, until=None):
            self.asked = (pbx, since, until)
            from datetime import datetime, timezone
            at = datetime.fromtimestamp(T0 - 60, timezone.utc)
            return succeed([SimpleNamespace(agent="1001", kind="miss", at=at),
                            SimpleNamespace(agent="1001", kind="pause", at=at)])

    desk = Desk()
    desk.guard.stopService()
    facts = StoredFacts()
    desk.guard.store = facts
    desk.guard.startService()
    assert facts.asked[1] == desk.guard.guard.day_start(T0) and facts.asked[2] == T0
    desk.agents("support", "1001", "1002")
    desk.ringing_call()
    desk.at(15.0)
    (missed,) = desk.of(ev.AgentMissed)
    assert (missed.misses_today, missed.consecutive) == (2, 1)


def test_misses_are_counted_per_shift_also_across_midnight():
    from datetime import time

    from telephony.config import Shift

    # T0 is 09:05 in Shanghai; the late shift runs 17:00 to 01:00
    desk = Desk(shifts=[Shift(name="早班", start=time(9), end=time(17)), Shift(name="晚班", start=time(17), end=time(1))])
    desk.agents("support", "1001", "1002", "1003")

    def miss_at(t: float, number: str) -> None:
        desk.at(t)
        caller, leg = desk.ringing_call(number=number)
        desk.at(t + 15.0)
        desk.feed(desk.pbx.ring_no_answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, queue="support"))
        desk.feed([desk.pbx.pause("support", "1001", False)])  # keep the streak from pausing him

    miss_at(60.0, "13900000001")                   # 09:06, 早班
    miss_at(8 * 3600.0, "13900000002")             # 17:05, 晚班
    miss_at(15.5 * 3600.0, "13900000003")          # 00:35 the next day, still 晚班
    counts = [(m.shift, m.misses_this_shift, m.misses_today) for m in desk.of(ev.AgentMissed)]
    assert counts == [("早班", 1, 1), ("晚班", 1, 2), ("晚班", 2, 1)]


# -- reconnects: what a resync learns and the events held back during it -------------------------


def test_events_held_during_a_resync_do_not_open_a_second_offer():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    pbx = Pbx()
    caller, arrival = pbx.caller("13800002222")
    joined = pbx.join(caller, "support")
    leg, offered = pbx.offer(caller, "1001", "support")
    # the call began while the snapshot was taken: listed by it, and then its events arrive too
    desk.live.on_snapshot(list(_core_show(caller, leg, ring_s=0)), [], desk.clock.seconds())
    desk.feed(arrival + joined + offered)
    desk.at(5.0)
    desk.feed(desk.pbx.answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, leg))
    (ended,) = desk.of(ev.CallEnded)
    assert ended.call.queues == ("support",)
    assert [(o.agent, o.result) for o in ended.call.offers] == [("1001", "answered")]
    assert [e.ring for e in desk.of(ev.AgentRinging)].count(1) == 1


def test_a_leg_not_yet_ringing_in_the_snapshot_is_guarded_once_it_rings_and_its_answer_counts():
    from tests.amiscript import event

    desk = Desk()
    desk.agents("support", "1001")
    pbx = Pbx()
    caller, _ = pbx.caller("13800002222")
    leg, offered = pbx.offer(caller, "1001", "support")

    def show(channel, state, app, data):
        channel.state = state
        return event("CoreShowChannel", ("ActionID", "r"), *channel.headers(), ("Application", app),
                     ("ApplicationData", data), ("Duration", "00:00:00"), ("BridgeId", ""))

    desk.live.on_snapshot([show(caller, 4, "Queue", "support"), show(leg, 0, "AppQueue", "(Outgoing Line)")], [],
                          desk.clock.seconds())
    leg.state = 5
    desk.feed(offered[3:])  # Newstate Ringing, DialState RINGING, after the resync
    desk.at(15.0)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup"]
    desk.at(20.0)
    desk.feed(pbx.answer(caller, leg, "support") + pbx.caller_hangs_up(caller, leg))
    (ended,) = desk.of(ev.CallEnded)
    assert (ended.call.outcome, ended.call.answered_by) == ("answered", "1001")


def test_a_deadline_while_the_link_is_down_is_acted_on_once_it_is_back():
    from twisted.internet.defer import fail as failed

    from telephony.ami.connection import NotConnected

    class LinkThatDrops(RecordingAMI):
        up = True

        def action(self, name, fields=None, *, timeout=None):
            if not self.up:
                return failed(NotConnected("AMI is not connected and synced"))
            return super().action(name, fields, timeout=timeout)

    ami = LinkThatDrops()
    desk = Desk(ami=ami)
    desk.agents("support", "1001", "1002")
    desk.at(1.0)
    caller, leg = desk.ringing_call()
    desk.at(14.0)
    ami.up = False
    desk.at(16.0)  # the deadline passes while the link is down
    assert ami.sent == []
    (alert,) = [a for a in desk.of(ev.SupervisorAlert) if a.kind == "not_sent"]
    assert "hang-up not sent" in alert.detail
    desk.at(17.0)
    ami.up = True
    desk.live.on_snapshot(list(_core_show(caller, leg, ring_s=16)), [], desk.clock.seconds())
    desk.at(17.0)  # the guard's yield after the resync
    assert [(name, fields["Channel"], t - T0) for name, fields, t in ami.sent] == [("Hangup", leg.name, 17.0)]
    assert len(desk.of(ev.AgentMissed)) == 1, "the miss counts once"


def test_an_answer_while_the_link_is_down_is_no_lost_race_and_nothing_is_sent_later():
    from twisted.internet.defer import fail as failed

    from telephony.ami.connection import NotConnected

    class LinkDown(RecordingAMI):
        def action(self, name, fields=None, *, timeout=None):
            return failed(NotConnected("AMI is not connected and synced"))

    desk = Desk(ami=LinkDown())
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(15.0)
    desk.feed(desk.pbx.answer(caller, leg, "support"))  # answered before the link came back
    # (the guard sends before it publishes, so a refusal on the spot is told first)
    assert sorted(a.kind for a in desk.of(ev.SupervisorAlert)) == ["miss", "not_sent"]
    desk.ami.__class__ = RecordingAMI
    desk.live.on_snapshot([], [], desk.clock.seconds())
    assert desk.ami.sent == [], "the leg is no longer ringing: nothing to send"


def test_one_long_wait_alert_per_call_also_across_queues():
    desk = Desk()
    desk.agents("support", "1001")
    desk.agents("sales", "1003")
    desk.feed([desk.pbx.member_status("support", "1001", status=2), desk.pbx.member_status("sales", "1003", status=2)])
    caller, msgs = desk.pbx.caller("13600002222")
    desk.feed(msgs + desk.pbx.join(caller, "support"))
    desk.at(26.0)
    # moved to another queue (a Redirect, as in capture 04): still the same caller, still one alert
    desk.feed(desk.pbx.join(caller, "sales"))
    desk.at(120.0)
    assert [(a.kind, a.queue) for a in desk.of(ev.SupervisorAlert)] == [("long_wait", "support")]


def test_a_parallel_dial_ringing_out_redirects_the_caller_once():
    desk = Desk(RingPolicy(overflow=Overflow(context="from-carrier", exten="4000")))
    caller, msgs = desk.pbx.caller("13800138000")
    desk.feed(msgs)
    first, ringing_first = desk.pbx.offer(caller, "1001", None)
    second, ringing_second = desk.pbx.offer(caller, "1002", None)
    desk.feed(ringing_first + ringing_second)
    desk.at(16.0)
    assert [(name, fields["Channel"]) for name, fields, _ in desk.ami.sent] == [("Redirect", caller.name)]
    assert sorted(e.agent for e in desk.of(ev.AgentMissed)) == ["1001", "1002"], "both agents missed it"


def test_miss_counts_of_past_days_are_let_go():
    guard = RingGuard(LiveModel(), lambda queue: RingPolicy(), ZoneInfo("Asia/Shanghai"))
    for days_ago in (5, 4, 3, 2, 1, 0):
        guard.restore_misses([("1001", T0 - days_ago * 86400)])
    guard._count_miss("1001", T0)
    assert sorted(d.day for d, _ in guard.misses_today) == sorted({guard.day(T0 - 86400).day, guard.day(T0).day})
    assert guard.misses_today[(guard.day(T0), "1001")] == 2


def test_long_waits_of_one_queue_fold_into_one_alert_until_the_queue_catches_up():
    desk = Desk()
    desk.agents("support", "1001")
    desk.feed([desk.pbx.member_status("support", "1001", status=2)])  # busy with another caller
    callers = []
    for n in range(4):
        caller, msgs = desk.pbx.caller(f"1360000222{n}")
        desk.feed(msgs + desk.pbx.join(caller, "support", position=n + 1))
        callers.append(caller)
        desk.at(2.0 * (n + 1))
    desk.at(40.0)
    (alert,) = desk.of(ev.SupervisorAlert)
    assert (alert.kind, alert.queue) == ("long_wait", "support"), "four callers waiting too long: one alert"
    for caller in callers:
        desk.feed(desk.pbx.caller_hangs_up(caller, queue="support"))
    caller, msgs = desk.pbx.caller("13600003333")
    desk.feed(msgs + desk.pbx.join(caller, "support"))
    desk.at(70.0)
    assert [a.kind for a in desk.of(ev.SupervisorAlert)] == ["long_wait", "long_wait"], "a new episode, a new alert"


def test_every_action_the_guard_sends_is_one_info_line_naming_agent_queue_masked_caller_and_call(caplog):
    import logging

    desk = Desk()
    desk.agents("support", "1001", "1002")
    with caplog.at_level(logging.INFO, logger="telephony.rings"):
        for n in range(2):
            caller, leg = desk.ringing_call(number=f"1390000000{n}")
            desk.at(15.0 + 30 * n)
            desk.feed(desk.pbx.ring_no_answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, queue="support"))
            desk.at(30.0 + 30 * n)
    lines = [r.getMessage() for r in caplog.records if r.name == "telephony.rings.service"]
    assert lines[0] == (f"ring guard: Hangup {desk.ami.sent[0][1]['Channel']} (agent 1001, queue support, "
                        f"caller 139****0000, call {desk.of(ev.RingDeadline)[0].linkedid})")
    assert lines[2] == "ring guard: QueuePause PJSIP/1001 (agent 1001, every queue, reason 振铃未接)"
    assert len(lines) == len(desk.ami.sent) == 3
    assert not any("13900000000" in line for line in caplog.messages)


class ConfirmingAMI(RecordingAMI):
    """An AMIConnection's confirm_alive, answering as the link is: alive or found dead."""

    def __init__(self, alive: bool) -> None:
        super().__init__()
        self.alive = alive

    def confirm_alive(self):
        from twisted.internet.defer import succeed

        return succeed(self.alive)


def test_a_deadline_on_a_link_found_dead_waits_for_the_resync_and_a_leg_answered_meanwhile_is_no_miss():
    """A PBX host that dies does not close the socket: before acting the guard makes sure the link is
    alive, and a dead one makes the deadline wait for the snapshot, like any gap."""
    desk = Desk(ami=ConfirmingAMI(alive=False))
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(16.0)
    assert desk.ami.sent == [] and desk.of(ev.AgentMissed) == []
    desk.live.on_link_lost("no answer to a Ping within 2 s", T0 + 14.0)
    snapshot = [_show(caller, 6, "Queue", "support", 20, "b1"), _show(leg, 6, "AppQueue", "(Outgoing Line)", 20, "b1")]
    desk.live.on_snapshot(snapshot, [], T0 + 20.0)  # answered while the daemon could not hear
    desk.at(21.0)
    assert desk.ami.sent == [] and desk.of(ev.AgentMissed) == []


def test_a_deadline_on_a_link_confirmed_alive_is_acted_on():
    desk = Desk(ami=ConfirmingAMI(alive=True))
    desk.agents("support", "1001", "1002")
    desk.ringing_call()
    desk.at(15.0)
    assert [name for name, _, _ in desk.ami.sent] == ["Hangup"]


def test_a_pause_the_link_could_not_carry_is_withheld_if_he_is_now_the_last_ready_member():
    from twisted.internet.defer import fail as failed

    from telephony.ami.connection import NotConnected

    class LinkDown(RecordingAMI):
        def action(self, name, fields=None, *, timeout=None):
            if name == "QueuePause":
                return failed(NotConnected("AMI is not connected and synced"))
            return super().action(name, fields, timeout=timeout)

    desk = Desk(ami=LinkDown())
    desk.agents("support", "1001", "1002")
    for n in range(2):
        caller, leg = desk.ringing_call(number=f"1390000000{n}")
        desk.at(15.0 + 30 * n)
        desk.feed(desk.pbx.ring_no_answer(caller, leg, "support") + desk.pbx.caller_hangs_up(caller, queue="support"))
        desk.at(30.0 + 30 * n)
    assert [a.kind for a in desk.of(ev.SupervisorAlert)].count("not_sent") == 1
    desk.feed([desk.pbx.pause("support", "1002", True, "午休")])  # meanwhile 1002 went to lunch
    desk.ami.__class__ = RecordingAMI
    desk.live.on_snapshot([], [_as_queue_member(desk.pbx.member_status("support", "1001")),
                               _as_queue_member(desk.pbx.member_status("support", "1002", paused=True))], T0 + 70.0)
    desk.at(71.0)
    assert "QueuePause" not in [name for name, _, _ in desk.ami.sent]
    assert "not paused after all: last ready member of support" in desk.of(ev.SupervisorAlert)[-1].detail
