"""Across a gap of the AMI link (CONTRACTS.md, "Across a gap"), on the pure model and guard with a Clock.

While the link is down the guard decides nothing and no ring is counted; after the resync each offer
is judged by the snapshot; what ended unseen ends at the last moment it was known alive; a call
first seen talking has no wait, rings or apology.
"""
from __future__ import annotations

import json

from telephony.config import RingPolicy
from telephony.live import events as ev
from telephony.live import persist
from telephony.live.model import LiveModel
from tests.amiscript import Pbx, event
from tests.unit.test_ring_guard import T0, Desk, _core_show, _show


def _blind_desk():
    """A call rings 1001 from T0; the link is lost 9 s into the ring and the PBX is quiet meanwhile."""
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(9.0)
    desk.live.on_link_lost("Connection was closed cleanly.", T0 + 9.0)
    return desk, caller, leg


def test_no_deadline_is_judged_and_no_ring_counted_while_the_link_is_down():
    desk, caller, leg = _blind_desk()
    desk.at(40.0)  # the 15 s deadline passes while the daemon is blind
    assert desk.ami.sent == []
    assert desk.of(ev.RingDeadline) == [] and desk.of(ev.AgentMissed) == [] and desk.of(ev.SupervisorAlert) == []
    assert [e.ring for e in desk.of(ev.AgentRinging)] == [1, 2], "rings 3… fell in the gap: not counted"
    (link,) = desk.of(ev.PbxLink)
    assert (link.state, link.since) == ("disconnected", T0 + 9.0)


def test_a_leg_gone_after_the_gap_is_no_miss_and_its_times_are_not_stretched():
    desk, caller, leg = _blind_desk()
    desk.at(40.0)
    desk.live.on_snapshot([], [], desk.clock.seconds())
    desk.at(60.0)
    assert desk.ami.sent == [] and desk.of(ev.AgentMissed) == [], "a leg that is gone is not a miss"
    (ended,) = desk.of(ev.CallEnded)
    call = ended.call
    assert (call.outcome, call.ended_unseen, call.ended_at) == ("incomplete", True, T0 + 9.0)
    assert call.wait_s == 9.0, "ended at the last moment known alive, not at the resync (40 s)"
    (offer,) = call.offers
    assert (offer.result, offer.ended_unseen, offer.rang_s, offer.rings) == ("unknown", True, 9.0, 2)
    (resynced,) = desk.of(ev.Resynced)
    assert (resynced.at, resynced.blind_since) == (T0 + 40.0, T0 + 9.0)


def test_a_leg_still_ringing_after_the_gap_is_cut_at_once_and_counted_then():
    desk, caller, leg = _blind_desk()
    desk.at(40.0)
    desk.live.on_snapshot(list(_core_show(caller, leg, ring_s=40)), [], desk.clock.seconds())
    desk.at(40.0)  # the guard's yield: bytes held during the resync land first
    assert [(name, fields["Channel"], t - T0) for name, fields, t in desk.ami.sent] == [("Hangup", leg.name, 40.0)]
    (missed,) = desk.of(ev.AgentMissed)
    assert (missed.agent, missed.at) == ("1001", T0 + 40.0)
    (deadline,) = desk.of(ev.RingDeadline)
    assert (deadline.action, deadline.ring_started_at) == ("hangup", T0), "the ring start seen live is kept"
    assert [e.ring for e in desk.of(ev.AgentRinging)] == [1, 2, 8], "one catch-up ring, none inside the gap"


def test_an_agent_who_answered_during_the_gap_is_not_missed_nor_credited_with_a_wait():
    desk, caller, leg = _blind_desk()
    desk.at(40.0)
    leg.state = caller.state = 6
    snapshot = [_show(caller, 6, "Queue", "support", 40, bridge="b1"), _show(leg, 6, "AppQueue", "(Outgoing Line)", 40, "b1")]
    desk.live.on_snapshot(snapshot, [], desk.clock.seconds())
    assert desk.ami.sent == [] and desk.of(ev.AgentMissed) == []
    (answered,) = desk.of(ev.CallAnswered)
    assert (answered.agent, answered.wait_s, answered.rings_to_answer, answered.apologise) == ("1001", None, None, None)
    desk.at(70.0)
    desk.feed(desk.pbx.caller_hangs_up(caller, leg))
    (ended,) = desk.of(ev.CallEnded)
    call = ended.call
    assert (call.outcome, call.answered_by, call.ended_unseen) == ("answered", "1001", False)
    assert (call.answered_at, call.wait_s, call.rings_to_answer, call.apologise, call.talk_s) == (None,) * 5
    (offer,) = call.offers
    assert (offer.result, offer.ended_unseen, offer.rang_s) == ("answered", True, 9.0), "rang at least 9 s"


def test_a_call_seen_answered_before_the_gap_stays_answered_by_that_agent():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, leg = desk.ringing_call()
    desk.at(3.0)
    desk.feed(desk.pbx.answer(caller, leg, "support"))
    desk.at(20.0)
    desk.live.on_link_lost("Connection was closed cleanly.", T0 + 20.0)
    desk.at(31.0)
    desk.live.on_snapshot([], [], desk.clock.seconds())  # the PBX restarted: every channel is gone
    (ended,) = desk.of(ev.CallEnded)
    call = ended.call
    assert (call.outcome, call.answered_by, call.ended_unseen, call.ended_at) == ("answered", "1001", True, T0 + 20.0)
    assert (call.wait_s, call.rings_to_answer, call.apologise, call.talk_s) == (3.0, 1, False, 17.0)
    assert (call.hangup_by, call.hangup_cause) == (None, None)


def test_a_call_talking_when_the_daemon_starts_gets_no_invented_answer():
    """Item 3: a restart during talk stored answered_at = the restart and a wait of 35–90 s."""
    model = LiveModel(policy=lambda queue: Desk().model.policy(queue))
    pbx = Pbx()
    caller, _ = pbx.caller("13800138000", "张三")
    leg, _ = pbx.offer(caller, "1001", "support")
    start = T0 + 300.0
    out = model.resync([_show(caller, 6, "Queue", "support", 62, "b1"), _show(leg, 6, "AppQueue", "(Outgoing Line)", 60, "b1")],
                       [], start)
    (answered,) = [e for e in out if isinstance(e, ev.CallAnswered)]
    assert (answered.agent, answered.wait_s, answered.rings_to_answer, answered.apologise) == ("1001", None, None, None)
    out = []
    for message in pbx.caller_hangs_up(caller, leg):
        out += model.apply(message, start + 10.0)
    (ended,) = [e.call for e in out if isinstance(e, ev.CallEnded)]
    assert (ended.outcome, ended.answered_by, ended.queue) == ("answered", "1001", "support")
    assert (ended.answered_at, ended.wait_s, ended.rings_to_answer, ended.apologise, ended.talk_s) == (None,) * 5
    assert ended.entered_at == start - 62, "when the call began is known from the snapshot's Duration"


def test_an_unpause_found_after_a_restart_is_marked_as_found_not_announced():
    desk = Desk()
    desk.agents("support", "1001", "1002")
    desk.feed([desk.pbx.pause("support", "1001", True, "振铃未接")])
    desk.live.on_link_lost("Connection was closed cleanly.", T0)
    member = event("QueueMember", ("Queue", "support"), ("Name", "Agent 1001"), ("Location", "PJSIP/1001"),
                   ("Status", 1), ("Paused", 0), ("PausedReason", ""), ("InCall", 0))
    desk.live.on_snapshot([], [member], T0 + 5.0)
    paused, unpaused = desk.of(ev.AgentPaused)
    assert (paused.paused, paused.seen) == (True, "announced")
    assert (unpaused.paused, unpaused.seen, unpaused.at) == (False, "resync", T0 + 5.0)


def test_pause_states_found_when_the_daemon_starts_are_no_news():
    model = LiveModel()
    member = event("QueueMember", ("Queue", "support"), ("Name", "Agent 1001"), ("Location", "PJSIP/1001"),
                   ("Status", 1), ("Paused", 1), ("PausedReason", "午休"), ("InCall", 0))
    out = model.resync([], [member], T0)
    assert [e for e in out if isinstance(e, ev.AgentPaused)] == []
    assert model.queues["support"].members["PJSIP/1001"].paused


def test_the_board_shows_a_call_first_seen_talking_as_talking_with_its_agent():
    from telephony.live.view import calls_in_progress

    model = LiveModel()
    pbx = Pbx()
    caller, _ = pbx.caller("13800138000", "张三")
    leg, _ = pbx.offer(caller, "1001", "support")
    model.resync([_show(caller, 6, "Queue", "support", 62, "b1"), _show(leg, 6, "AppQueue", "(Outgoing Line)", 60, "b1")],
                 [], T0)
    (row,) = calls_in_progress(model, T0 + 5)
    assert (row["state"], row["agent"], row["since"], row["waited_s"]) == ("talking", "1001", T0, None)


def _resync_holding(desk, snapshot: list, held: list, held_at: float) -> None:
    """What AMIConnection does once its snapshot is complete: the snapshot, then the events that
    arrived (at ``held_at``) while it was being taken."""
    from telephony.ami.connection import AMIConnection, Snapshot

    class Live:
        peer = "127.0.0.1:5038"

        def start_keepalive(self, interval, timeout):
            pass

    connection = AMIConnection(object(), clock=desk.clock, username="telephony", secret=lambda: "s",
                               on_event=desk.live.on_ami_event,
                               on_resync=lambda s: desk.live.on_snapshot(list(s.channels), list(s.queue_status), s.at))
    connection._held = [(m, held_at) for m in held]
    connection._go_live(Live(), Snapshot(tuple(snapshot), (), desk.clock.seconds()))


def test_an_answer_held_back_during_the_resync_wins_over_the_overdue_deadline():
    """Found in review: deadlines that fell in the gap were judged inside the resync, before the events
    held back during it were applied; an answer among them was hung up, which ends the whole call."""
    desk, caller, leg = _blind_desk()
    desk.at(40.0)
    _resync_holding(desk, list(_core_show(caller, leg, ring_s=40)), desk.pbx.answer(caller, leg, "support"), T0 + 40.0)
    desk.at(41.0)
    assert desk.ami.sent == [] and desk.of(ev.AgentMissed) == []
    (answered,) = desk.of(ev.CallAnswered)
    assert answered.agent == "1001"


def test_an_answer_among_the_held_events_gives_a_call_first_seen_talking_its_wait_after_all():
    desk, caller, leg = _blind_desk()
    desk.at(40.0)
    answer = desk.pbx.answer(caller, leg, "support")  # its bytes arrived at 39.9 s, during the resync
    snapshot = [_show(caller, 6, "Queue", "support", 40, "b1"), _show(leg, 6, "AppQueue", "(Outgoing Line)", 40, "b1")]
    _resync_holding(desk, snapshot, answer, T0 + 39.9)
    desk.at(50.0)
    desk.feed(desk.pbx.caller_hangs_up(caller, leg))
    (ended,) = desk.of(ev.CallEnded)
    call = ended.call
    assert (call.answered_by, call.answered_at, call.wait_s, call.apologise) == ("1001", T0 + 39.9, 39.9, True)
    (offer,) = call.offers
    assert (offer.result, offer.ended_unseen, offer.rang_s) == ("answered", False, 39.9)
    assert [a.wait_s for a in desk.of(ev.CallAnswered)] == [None, 39.9], "unknown at the resync, known a moment later"


def test_a_restarted_daemon_takes_back_a_ringing_phone_and_its_new_guard_keeps_the_deadline():
    old, caller, leg = _blind_desk()  # the old daemon stops 9 s into the ring
    saved = json.loads(json.dumps(persist.dump(old.model)))
    new = Desk()
    assert persist.load(new.model, saved) == 1
    assert set(new.model.queues["support"].members) == {"PJSIP/1001", "PJSIP/1002"}
    new.at(40.0)
    assert new.ami.sent == [] and new.of(ev.AgentRinging) == [], "nothing judged, no ring counted, before the snapshot"
    new.live.on_snapshot(list(_core_show(caller, leg, ring_s=40)), [], new.clock.seconds())
    new.at(40.0)
    assert [(name, fields["Channel"], t - T0) for name, fields, t in new.ami.sent] == [("Hangup", leg.name, 40.0)]
    (deadline,) = new.of(ev.RingDeadline)
    assert deadline.ring_started_at == T0, "the ring start the old daemon saw, not the snapshot's estimate"


def test_a_saved_state_of_another_pbx_is_refused():
    import pytest

    old, _, _ = _blind_desk()
    saved = persist.dump(old.model)
    with pytest.raises(persist.StateRefused, match="for PBX 'default', not 'south'"):
        persist.load(LiveModel("south"), saved)


def test_a_phone_that_began_to_ring_in_the_gap_is_guarded_from_when_it_was_first_seen_ringing():
    """Found in review: a member leg still Down when the link was lost and ringing in the snapshot
    was never announced nor guarded: it rang on until app_queue's own timeout."""
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, msgs = desk.pbx.caller("13800138000")
    desk.feed(msgs + desk.pbx.join(caller, "support"))
    leg, msgs = desk.pbx.offer(caller, "1001", "support")
    desk.feed(msgs[:2])  # the leg is created and offered (still Down); its 180 Ringing comes in the gap
    desk.at(1.0)
    desk.live.on_link_lost("Connection was closed cleanly.", T0 + 1.0)
    desk.at(3.0)
    desk.live.on_snapshot(list(_core_show(caller, leg, ring_s=3)), [], desk.clock.seconds())
    (ringing,) = desk.of(ev.AgentRinging)
    assert (ringing.ring, ringing.ring_started_at) == (1, T0 + 3.0), "rings from when it was first known to"
    desk.at(17.9)
    assert desk.ami.sent == []
    desk.at(18.0)
    assert [n for n, _, _ in desk.ami.sent] == ["Hangup"]


def test_an_offer_judged_before_a_restart_is_not_judged_again_by_the_new_guard():
    """Found in review: in observe mode a phone still ringing past its deadline when the daemon
    restarted was missed a second time: the new guard did not know the old one had judged it."""
    old = Desk(RingPolicy(mode="observe"))
    old.agents("support", "1001", "1002")
    caller, leg = old.ringing_call()
    old.at(15.5)
    assert len(old.of(ev.AgentMissed)) == 1
    old.live.on_link_lost("stopping", T0 + 15.5)
    saved = json.loads(json.dumps({"live": persist.dump(old.model), "guard": old.guard.guard.kept()}))
    new = Desk(RingPolicy(mode="observe"))
    persist.load(new.model, saved["live"])
    new.guard.guard.take_back(saved["guard"])
    new.live.on_snapshot(list(_core_show(caller, leg, ring_s=18)), [], T0 + 18.0)
    new.at(40.0)
    assert new.of(ev.AgentMissed) == []


def test_the_agent_of_a_call_first_seen_talking_answering_it_again_later_invents_no_first_answer():
    """Found in review: a call first seen talking with 1001, sent back to the queue and answered by
    1001 again, was stored with a wait of 95 s from the start of the call, 19 rings and an apology."""
    desk = Desk()
    desk.agents("support", "1001", "1002")
    caller, _ = desk.pbx.caller("13800138000", "张三")
    leg, _ = desk.pbx.offer(caller, "1001", "support")
    desk.live.on_snapshot([_show(caller, 6, "Queue", "support", 62, "b1"),
                           _show(leg, 6, "AppQueue", "(Outgoing Line)", 60, "b1")], [], desk.clock.seconds())
    desk.at(30.0)
    desk.feed([event("Hangup", *leg.headers(), ("Cause", 16), ("Cause-txt", "Normal Clearing"))])
    desk.feed(desk.pbx.join(caller, "support"))
    again, msgs = desk.pbx.offer(caller, "1001", "support")
    desk.feed(msgs)
    desk.at(33.0)
    desk.feed(desk.pbx.answer(caller, again, "support"))
    desk.at(40.0)
    desk.feed(desk.pbx.caller_hangs_up(caller, again))
    assert [a.wait_s for a in desk.of(ev.CallAnswered)] == [None]
    (ended,) = desk.of(ev.CallEnded)
    assert (ended.call.answered_by, ended.call.wait_s, ended.call.rings_to_answer, ended.call.apologise) == \
        ("1001", None, None, None)
