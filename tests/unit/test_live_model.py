"""The live model's domain events, fed with the real captures and with time alone."""
from __future__ import annotations

import pytest

from telephony.ami.capture import read_capture
from telephony.ami.protocol import Framer, Message
from telephony.config import RingPolicy
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.live.ringcount import count_rings
from telephony.replay import capture_start, replay_events
from tests.conftest import all_captures, capture_path


def timeline(name: str, model: LiveModel | None = None) -> tuple[list[ev.DomainEvent], float]:
    records = read_capture(capture_path(name))
    t0 = capture_start(records)
    return list(replay_events(records, model or LiveModel())), t0


def messages(name: str, connection: str = "c1") -> list[tuple[float, Message]]:
    framer, out = Framer(), []
    for record in read_capture(capture_path(name)):
        if record.kind == "RECV" and record.connection == connection:
            out.extend((record.t, m) for m in framer.feed(record.payload))
    return out


@pytest.mark.parametrize("rang, rings", [(15.001, 3), (15.0, 3), (10.0, 2), (10.2, 2), (10.201, 3), (4.0, 1),
                                         (0.2, 0), (0.0, 0), (0.21, 1), (147.0, 30)])
def test_ring_count_rule(rang, rings):
    assert count_rings(rang, 5.0) == rings


def test_ring_events_follow_time_for_an_agent_who_never_answers():
    events, t0 = timeline("03-")
    rings = [(e.agent, e.ring, round(e.at - t0, 3)) for e in events if isinstance(e, ev.AgentRinging)]
    assert rings == [("1001", 1, 0.118), ("1001", 2, 5.318), ("1001", 3, 10.318), ("1002", 1, 17.122)]
    (ended,) = [e for e in events if isinstance(e, ev.OfferEnded) and e.agent == "1001"]
    assert (ended.result, ended.rings, ended.rang_s, ended.queue) == ("no_answer", 3, 15.0, "support")
    (answered,) = [e for e in events if isinstance(e, ev.CallAnswered)]
    assert (answered.agent, answered.rings_to_answer, answered.apologise) == ("1002", 4, False)
    assert answered.channel == "PJSIP/1002-00000004"


def test_ring_start_is_the_first_sign_whatever_the_order():
    # 16: the member leg's Newstate Ringing arrives before AgentCalled
    events, t0 = timeline("16-")
    first = next(e for e in events if isinstance(e, ev.AgentRinging))
    assert (first.agent, first.ring, round(first.ring_started_at - t0, 3)) == ("1001", 1, 0.118)
    assert first.channel == "PJSIP/1001-00000003" and first.caller_name == "钱七"


def test_advance_announces_rings_between_events():
    model = LiveModel(policy=lambda queue: RingPolicy(cycle_s=4.0))
    for t, message in messages("03-"):
        model.apply(message, t)
        if message.event == "DialState":
            break
    due = model.next_due()
    assert due == pytest.approx(0.118 + 4.2, abs=1e-3)
    assert model.advance(due - 0.001) == []
    (ring2,) = model.advance(due)
    assert (ring2.ring, ring2.agent) == (2, "1001")
    assert model.next_due() == pytest.approx(0.118 + 8.2, abs=1e-3)


def test_apology_when_the_caller_heard_five_rings():
    events, _ = timeline("21-")
    answered = [e for e in events if isinstance(e, ev.CallAnswered)]
    assert len(answered) == 33
    for e in answered:
        assert e.rings_to_answer == count_rings(e.wait_s, 5.0)
        assert e.apologise == (e.rings_to_answer >= 5)
    assert any(e.apologise for e in answered)  # the busy hour kept every caller 20 s or more


def test_pause_events_with_utf8_reasons():
    events, _ = timeline("09-")
    pauses = [(e.agent, e.queue, e.paused, e.reason) for e in events if isinstance(e, ev.AgentPaused)]
    assert ("1001", "support", True, "午休 lunch") in pauses
    assert ("1001", "support", False, "") in pauses
    assert ("1002", "support", True, "training") in pauses


def test_pause_without_queue_pauses_every_queue_and_skipped_agent_gets_no_offer():
    events, _ = timeline("18-")
    paused = [(e.queue, e.reason) for e in events if isinstance(e, ev.AgentPaused) and e.paused]
    assert sorted(paused) == [("autopause", "振铃未接"), ("guard", "振铃未接"), ("support", "振铃未接")]
    assert not [e for e in events if isinstance(e, ev.AgentRinging) and e.agent == "1001"]


def test_native_autopause_pauses_one_queue():
    events, _ = timeline("20-")
    pauses = [(e.queue, e.paused, e.reason) for e in events if isinstance(e, ev.AgentPaused) and e.agent == "1001"]
    assert pauses[0] == ("autopause", True, "Auto-Pause")
    assert ("autopause", False, "") in pauses
    assert all(q == "autopause" for q, _, _ in pauses)


def test_caller_left_queue_reasons():
    events, _ = timeline("04-")
    left = [(e.queue, e.reason) for e in events if isinstance(e, ev.CallerLeftQueue)]
    assert left == [("support", "abandoned"), ("sales", "answered")], "a Redirect out of a queue reads as an abandon"
    offered = [(e.queue, e.caller) for e in events if isinstance(e, ev.CallOffered)]
    assert offered == [("support", "13700001111"), ("sales", "13700001111")]


def test_transfer_events():
    events, _ = timeline("23-")
    assert [(e.to, e.how) for e in events if isinstance(e, ev.CallTransferred)] == [
        ("1003", "redirect"), ("1003", "attended"), ("1003", "blind")]


@pytest.mark.parametrize("path", all_captures(), ids=lambda p: p.name)
def test_every_capture_leaves_no_state_behind(path):
    model = LiveModel()
    records = read_capture(path)
    list(replay_events(records, model))
    assert model.calls == {} and model.offers == {} and model.channels == {}
    assert model.next_due() is None


def test_domain_events_survive_a_round_trip_through_dicts():
    events, _ = timeline("23-")
    for event in events:
        assert ev.from_dict(event.to_dict()) == event


# -- resync ---------------------------------------------------------------------------------------


def snapshot_of_08() -> tuple[list[Message], list[Message], float, list[tuple[float, Message]]]:
    stream = messages("08-")
    channels = [m for _, m in stream if m.action_id == "coreshowchannels-4" and m.event == "CoreShowChannel"]
    status = [m for _, m in stream if m.action_id == "queuestatus-2" and m.event]
    at = max(t for t, m in stream if m.action_id == "coreshowchannels-4")
    after = [(t, m) for t, m in stream if t > at and m.action_id is None]
    return channels, status, at, after


def test_resync_from_scratch_restores_ringing_offer_and_talking_call():
    channels, status, at, after = snapshot_of_08()
    model = LiveModel()
    out = model.resync(channels, status, at)
    resynced = out[-1]
    assert isinstance(resynced, ev.Resynced)
    assert (resynced.channels, resynced.calls, resynced.ringing_offers) == (4, 2, 1)
    ringing = [e for e in out if isinstance(e, ev.AgentRinging)]
    assert ringing and ringing[0].agent == "1002" and ringing[0].queue == "support"
    # Duration 00:00:02, rounded down: the ring start is never earlier than the truth (1.2 s)
    assert ringing[0].ring_started_at == pytest.approx(at - 2)
    assert ringing[0].interface == "PJSIP/1002" and ringing[0].caller == "13800002222"
    assert {m.agent: m.status for m in model.queues["support"].members.values()} == {"1001": "in_use", "1002": "ringing"}
    # only B waits: A's channel is still in Queue() by its application, but A is talking
    assert [(e.linkedid, e.position) for e in model.queues["support"].entries.values()] == [("1795367102.18", 1)]
    offered = [e for e in out if isinstance(e, ev.CallOffered)]
    assert [(e.caller, e.queue) for e in offered] == [("13800002222", "support")]
    ended = []
    for t, m in after:
        ended += [e.call for e in model.apply(m, t) if isinstance(e, ev.CallEnded)]
    by_caller = {c.caller: c for c in ended}
    b = by_caller["13800002222"]
    assert (b.outcome, [o.agent for o in b.offers], b.offers[0].result) == ("abandoned", ["1002"], "cancelled")
    assert b.wait_s == pytest.approx(11.2 - 1.2, abs=1.1)
    a = by_caller["13800001111"]
    assert (a.outcome, a.answered_by, a.queue) == ("answered", "1001", "support")
    assert model.calls == {} and model.offers == {}


def test_resync_keeps_what_the_model_already_knew():
    channels, status, at, _ = snapshot_of_08()
    model = LiveModel()
    first_ring = None
    for t, m in messages("08-"):
        if t >= at - 0.01:
            break
        for e in model.apply(m, t):
            if isinstance(e, ev.AgentRinging) and e.agent == "1002":
                first_ring = first_ring or e.ring_started_at
    out = model.resync(channels, status, at)
    assert not [e for e in out if isinstance(e, ev.CallEnded)]
    offer = next(o for o in model.offers.values() if o.agent == "1002")
    assert offer.ring_started_at == first_ring, "the ring start seen live beats the snapshot's estimate"


def test_resync_closes_calls_that_died_while_away_at_the_last_moment_they_were_known_alive():
    model = LiveModel()
    for t, m in messages("02-"):
        model.apply(m, t)
        last = t
        if m.event == "BridgeEnter":
            break
    model.link_lost(last + 3.0, "connection refused", last_heard_at=last + 1.0)
    out = model.resync([], [], last + 30.0)
    (ended,) = [e.call for e in out if isinstance(e, ev.CallEnded)]
    # seen answered by 1001 before the gap: still answered, ended unseen when last heard of
    assert (ended.outcome, ended.answered_by, ended.caller_name) == ("answered", "1001", "张三")
    assert ended.ended_unseen and ended.ended_at == last + 1.0
    assert ended.talk_s == round(last + 1.0 - ended.answered_at, 1), "a lower bound, not stretched to the resync"
    assert (ended.hangup_by, ended.hangup_cause) == (None, None), "who hung up was not seen"
    assert model.calls == {} and model.channels == {}


def test_listing_the_agents_keeps_a_trunk_with_a_numeric_name_a_trunk():
    from tests.amiscript import Pbx

    def direction(model: LiveModel) -> str:
        _, messages = Pbx().caller("13800138000")
        for message in messages:  # the carrier's endpoint is called 5000
            model.apply(Message(message.raw.replace(b"PJSIP/carrier-", b"PJSIP/5000-")), 1.0)
        return next(iter(model.calls.values())).direction

    assert direction(LiveModel()) == "outbound", "an all-digit endpoint looks like an agent by default"
    assert direction(LiveModel(agent_endpoints=["1001", "1002"])) == "inbound"
