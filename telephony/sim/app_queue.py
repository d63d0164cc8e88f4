"""app_queue as the captures show it: who is offered a call, when, and what the stream says.

Rules (each from a capture, see ``tests/fixtures/ami-real/README.md``):

* ``rrmemory``: one member rings at a time; the next offer goes to the member after the last one
  offered, skipping members that are paused (18: without any event), unregistered or busy
  (``ringinuse=no``).  After a reload 1001 is offered first.
* A *round* starts when a caller's turn comes; it ends at ``round start + timeout``.  A member
  still ringing then gets ``AgentRingNoAnswer RingTime: 15000``, ``DialEnd NOANSWER``,
  ``DialEnd CANCEL`` and a leg ``Hangup Cause: 0``; app_queue waits ``retry`` before the next
  round (03).  A member who stops ringing on his own (486 at once, 603 after n s, an AMI
  ``Hangup`` of his leg) gets ``DialEnd NOANSWER`` + ``AgentRingNoAnswer`` and the next member of
  the same round is offered 2 ms later, without the retry wait (16, 21).
* ``RingTime``, ``HoldTime``, ``TalkTime`` are differences of whole epoch seconds, as
  app_queue's ``time(NULL)`` arithmetic gives them; ``AgentConnect RingTime`` counts from the
  start of the round (16: 18 = HoldTime after an AMI hangup at 15 s; 03: 3 after a retry).
* ``autopause=yes``: a member's ring-no-answer pauses him in that queue only, with
  ``QueueMemberPause PausedReason: Auto-Pause Status: 6`` right after ``AgentRingNoAnswer`` (20).
* Waiting callers look for a free member about once a second (21: offers follow an agent's
  hang-up by 0.1–1 s); with ``autofill`` several callers ring several members at once.  One
  timer per queue does that looking for all its callers, so 500 waiting callers cost one
  timer, not 500.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from . import render
from .behaviour import Decision
from .calls import Call, CdrLeg
from .config import QueueConfig
from .state import Channel, Member

if TYPE_CHECKING:
    from .pbx import PBX, Endpoint

__all__ = ["QueueApp", "QueueCall", "QueueRuntime"]

OFFER_DELAY = 0.002  #: app_queue calls the next member this long after the last one gave up (16: 2 ms)
POLL = 1.0  #: waiting callers check for a free member this often
#: where app_queue's AgentComplete lands among the caller's hang-up events (33 answered calls of 21)
COMPLETE_SLOTS = (0.7, 0.03, 0.1, 0.05, 0.05, 0.07)
SIP_CAUSE = {16: None, 17: 486, 19: 480, 21: 603}
#: share of answers where the queue of the call reports its member's ``Status: 2`` only after
#: ``AgentConnect`` (with ``InCall: 1``): 18, 20, 22, 23 do, 16 does not
LATE_MEMBER_STATUS = 0.7


class QueueRuntime:
    """One queue while the PBX runs: the callers waiting, rrmemory's position, statistics."""

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.waiting: list[QueueCall] = []
        self.rr_last = -1
        self.completed = 0
        self.abandoned = 0
        self.holdtime = 0
        self.talktime = 0
        self.tick_timer = None
        self.members: list[Member] | None = None  #: filled on first use, after the PBX has booted

    @property
    def name(self) -> str:
        return self.config.name

    def record_hold(self, seconds: int) -> None:
        self.holdtime = seconds if not self.holdtime else (self.holdtime * 3 + seconds) // 4

    def record_talk(self, seconds: int) -> None:
        self.talktime = seconds if not self.talktime else (self.talktime * 3 + seconds) // 4


class Offer:
    """One member leg rung for one caller."""

    def __init__(self, member: Member, agent: "Endpoint", leg: Channel, decision: Decision, at: float,
                 cdr: CdrLeg | None) -> None:
        self.member = member
        self.agent = agent
        self.leg = leg
        self.decision = decision
        self.offered_at = at
        self.cdr = cdr
        self.timer = None


class QueueApp:
    def __init__(self, pbx: "PBX") -> None:
        self.pbx = pbx
        self.reset()

    def reset(self) -> None:
        self.queues = {q.name: QueueRuntime(q) for q in self.pbx.config.queues}

    def enter(self, call: Call, queue: str) -> "QueueCall":
        """The caller's dialplan reached ``Queue(<queue>)`` (its ``Newexten`` is out)."""
        run = QueueCall(self, self.queues[queue], call)
        run.join()
        return run

    # -- who may be offered what -------------------------------------------------------------

    def members(self, queue: QueueRuntime) -> list[Member]:
        if queue.members is None:
            found = {m.extension: m for a in self.pbx.endpoints.values() for m in a.members if m.queue == queue.name}
            queue.members = [found[m.extension] for m in queue.config.members if m.extension in found]
        return queue.members

    def offerable(self, member: Member) -> bool:
        if not self.pbx.member_available(member):
            return False
        return self.queues[member.queue].config.ringinuse or not self.pbx.endpoints[member.extension].busy

    def is_turn(self, run: "QueueCall") -> bool:
        """autofill: a caller may ring when fewer idle callers wait ahead of it than members are free."""
        queue = run.queue
        ahead = 0
        for other in queue.waiting:
            if other is run:
                break
            if other.current is None:
                ahead += 1
        return ahead < self.free(queue)

    def free(self, queue: QueueRuntime) -> int:
        return sum(1 for m in self.members(queue) if self.offerable(m))

    def wake(self, queue: QueueRuntime) -> None:
        """Make sure the queue looks for free members again within a second."""
        if queue.tick_timer is None and queue.waiting:
            queue.tick_timer = self.pbx.later(POLL, self.tick, queue)

    def tick(self, queue: QueueRuntime) -> None:
        """Idle callers, first in line first, take the free members."""
        queue.tick_timer = None
        free = self.free(queue)
        for run in list(queue.waiting):
            if free <= 0:
                break
            if run.idle and run.start_round():
                free = self.free(queue)
        self.wake(queue)


class QueueCall:
    """One caller inside ``Queue()``: waiting, being offered, then bridged to a member."""

    def __init__(self, app: QueueApp, queue: QueueRuntime, call: Call) -> None:
        self.app = app
        self.pbx = app.pbx
        self.queue = queue
        self.call = call
        self.caller = call.caller
        self.state = "waiting"
        self.joined_at = 0.0
        self.original_position = 0
        self.current: Offer | None = None
        self.round_start = 0.0
        self.round_timer = None
        self.poll_timer = None
        self.tried: set[str] = set()
        self.connected: Offer | None = None
        self.connected_at = 0.0

    @property
    def v22_10(self) -> bool:
        return self.pbx.config.is_22_10

    @property
    def position(self) -> int:
        return self.queue.waiting.index(self) + 1

    @property
    def idle(self) -> bool:
        """Waiting, not ringing anybody, not waiting out a retry."""
        return (self.state == "waiting" and self.current is None and self.round_timer is None
                and self.poll_timer is None)

    # -- joining and waiting ------------------------------------------------------------------

    def join(self) -> None:
        pbx, caller, queue = self.pbx, self.caller, self.queue
        caller.owner = self
        if self.call.handle is not None:
            self.call.handle.queues.append(queue.name)
        if self.v22_10:
            for name in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT",
                         "QUEUEWAIT_MS"):
                pbx.varset(caller, name, "")
        if caller.abandoned:
            caller.abandoned = False
            pbx.varset(caller, "ABANDONED", "")
        queue.waiting.append(self)
        self.joined_at = pbx.now()
        self.original_position = len(queue.waiting)
        pbx.queue_device(queue.name, len(queue.waiting))
        pbx.emit(render.queue_caller("QueueCallerJoin", caller.snap(), queue.name,
                                     ("Position", str(self.original_position)), ("Count", str(len(queue.waiting)))))
        pbx.emit(render.moh_start(caller.snap()))
        self._poll(OFFER_DELAY)

    def _poll(self, delay: float) -> None:
        self.pbx.cancel(self.poll_timer)
        self.poll_timer = self.pbx.later(delay, self.attempt)

    def attempt(self) -> None:
        """Just joined, or the retry wait is over: ring if it is our turn, else wait for the tick."""
        self.poll_timer = None
        if not self.idle:
            return
        if not (self.app.is_turn(self) and self.start_round()):
            self.app.wake(self.queue)

    def start_round(self) -> bool:
        """Start ringing members; False (and no round) when nobody could be rung."""
        self.round_start = self.pbx.now()
        self.tried = set()
        self.round_timer = self.pbx.later(self.queue.config.timeout, self.round_timeout)
        if self.ring_next():
            return True
        self.pbx.cancel(self.round_timer)
        self.round_timer = None
        return False

    def _end_round(self, wait: float) -> None:
        """The round is over without an answer: try again after ``wait`` (the queue's retry)."""
        self.pbx.cancel(self.round_timer)
        self.round_timer = None
        if self.state == "waiting":
            self._poll(wait)

    def ring_next(self) -> bool:
        members = self.app.members(self.queue)
        if not members:
            return False
        count = len(members)
        for step in range(1, count + 1):
            index = (self.queue.rr_last + step) % count
            member = members[index]
            if member.extension in self.tried or not self.app.offerable(member):
                continue
            self.queue.rr_last = index
            self.tried.add(member.extension)
            self.offer(member)
            return True
        return False

    def continue_round(self) -> None:
        if self.state != "waiting" or self.current is not None or self.round_timer is None:
            return
        if not self.ring_next():
            self._end_round(self.queue.config.retry)

    # -- one offer ----------------------------------------------------------------------------

    def offer(self, member: Member) -> None:
        pbx, caller = self.pbx, self.caller
        agent = pbx.endpoints[member.extension]
        decision = agent.behaviour.decide(pbx.rng)
        leg = pbx.new_channel(agent.extension, linkedid=caller.linkedid, state=0, cid_num=agent.extension,
                              cid_name=agent.config.name, context="agents", exten="s")
        leg.owner = self
        pbx.stats.offers += 1
        pbx.ev("Newchannel", leg)
        pbx.varset(leg, "DIALEDPEERNUMBER", agent.extension)
        dial_snap = leg.snap()
        # app_queue points the leg at the caller's extension and line before AgentCalled
        leg.exten, leg.cl_num, leg.cl_name = caller.exten, caller.cid_num, caller.cid_name
        leg.app, leg.app_data = "AppQueue", "(Outgoing Line)"
        rejected = decision.kind == "reject"
        cdr = None if rejected else self.call.add_leg(leg, "Queue", caller.app_data, first=not self.call.cdrs)
        offer = Offer(member, agent, leg, decision, pbx.now(), cdr)
        self.current = offer
        dial_string = (("DialString", member.interface),)

        def called() -> render.Pairs:
            # the Dest* headers show the leg as it is when the event goes out (Down, or Ringing)
            return render.agent_event("AgentCalled", caller.snap(), leg.snap(), self.queue.name, member.interface,
                                      member.name)

        if rejected:
            pbx.emit(called())
            pbx.emit(render.dial_event("DialBegin", caller.snap(), dial_snap, *dial_string))
            self.stop_ringing(offer, cause=17, request=True)
            return
        if decision.ring_first:
            self._ring(leg)
            pbx.emit(called())
            pbx.emit(render.dial_event("DialBegin", caller.snap(), leg.snap(), *dial_string))
            pbx.connected_line(caller, agent.extension, agent.config.name)
        else:
            pbx.emit(called())
            pbx.emit(render.dial_event("DialBegin", caller.snap(), dial_snap, *dial_string))
            pbx.connected_line(caller, agent.extension, agent.config.name)
            self._ring(leg)
        pbx.emit(render.dial_event("DialState", caller.snap(), leg.snap(), ("DialStatus", "RINGING")))
        if decision.kind == "answer":
            offer.timer = pbx.later(decision.after_s, self.answered, offer)
        elif decision.kind == "decline":
            offer.timer = pbx.later(decision.after_s, self.stop_ringing, offer, 21, True)

    def _ring(self, leg: Channel) -> None:
        pbx = self.pbx
        pbx.set_state(leg, 5)
        pbx.newexten(leg, 1, "AppQueue", "(Outgoing Line)")
        pbx.ev("NewConnectedLine", leg)
        pbx.device_changed(leg.endpoint)

    def _finish_leg(self, offer: Offer, cause: int, tech_cause: int | None = None) -> None:
        self.pbx.cancel(offer.timer)
        self.call.leg_ended(offer.cdr)
        self.pbx.destroy(offer.leg, cause, tech_cause)
        self.pbx.device_changed(offer.agent.extension)
        if self.current is offer:
            self.current = None

    def _ring_no_answer(self, offer: Offer) -> None:
        ring_ms = (int(self.pbx.now()) - int(offer.offered_at)) * 1000
        self.pbx.emit(render.agent_event("AgentRingNoAnswer", self.caller.snap(), offer.leg.snap(), self.queue.name,
                                         offer.member.interface, offer.member.name, ("RingTime", str(ring_ms))))
        self.pbx.stats.ring_no_answer += 1
        if self.queue.config.autopause and not offer.member.paused:
            self.pbx.pause_member(offer.member, True, "Auto-Pause")

    def round_timeout(self) -> None:
        """The queue's member timeout: the ringing member gives up, retry after ``retry``."""
        self.round_timer = None
        offer = self.current
        if offer is not None:
            self._ring_no_answer(offer)
            for status in ("NOANSWER", "CANCEL"):
                self.pbx.emit(render.dial_event("DialEnd", self.caller.snap(), offer.leg.snap(),
                                                ("DialStatus", status)))
            self._finish_leg(offer, 0)
        self._end_round(self.queue.config.retry)

    def stop_ringing(self, offer: Offer, cause: int, request: bool) -> None:
        """The member's leg ends before the timeout: his phone said 486/603, or an AMI Hangup."""
        if self.current is not offer or not offer.leg.alive:
            return
        tech = SIP_CAUSE.get(cause)
        if request:
            self.pbx.hangup_request(offer.leg, cause, tech)
        self.pbx.emit(render.dial_event("DialEnd", self.caller.snap(), offer.leg.snap(), ("DialStatus", "NOANSWER")))
        self._ring_no_answer(offer)
        self._finish_leg(offer, cause, tech if cause else None)
        self.pbx.later(OFFER_DELAY, self.continue_round)

    # -- answered -----------------------------------------------------------------------------

    def answered(self, offer: Offer) -> None:
        pbx, caller, leg, queue = self.pbx, self.caller, offer.leg, self.queue
        if self.current is not offer or not leg.alive or self.state != "waiting":
            return
        self.pbx.cancel(self.round_timer)
        self.round_timer = None
        self.current = None
        reports_first = pbx.rng.random() < 0.5
        if reports_first:
            pbx.phone_receiver_reports(leg)
        pbx.set_state(leg, 6)
        self.call.leg_answered(offer.cdr)
        pbx.emit(render.dial_event("DialEnd", caller.snap(), leg.snap(), ("DialStatus", "ANSWER")))
        pbx.ev("MusicOnHoldStop", caller)
        late = offer.member.queue if pbx.rng.random() < LATE_MEMBER_STATUS else None
        publish_late = pbx.device_changed(offer.agent.extension, hold_back=late)
        position = self.position
        queue.waiting.remove(self)
        pbx.queue_device(queue.name, len(queue.waiting))
        pbx.emit(render.queue_caller("QueueCallerLeave", caller.snap(), queue.name, ("Position", str(position)),
                                     ("Count", str(len(queue.waiting)))))
        pbx.varset(caller, "QUEUEPOSITION", position)
        now = pbx.now()
        if self.v22_10:
            pbx.varset(caller, "QUEUEWAIT", int(now - self.joined_at))
            pbx.varset(caller, "QUEUEWAIT_MS", int((now - self.joined_at) * 1000))
        hold = int(now) - int(self.joined_at)
        pbx.emit(render.agent_event("AgentConnect", caller.snap(), leg.snap(), queue.name, offer.member.interface,
                                    offer.member.name, ("HoldTime", str(hold)),
                                    ("RingTime", str(int(now) - int(self.round_start)))))
        queue.record_hold(hold)
        offer.member.in_call = True
        if publish_late is not None:
            publish_late()
        pbx.set_state(caller, 6)
        pbx.device_changed(caller.endpoint)
        bridge = pbx.bridge_create()
        pbx.bridge_enter(bridge, leg)
        if not reports_first:
            pbx.phone_receiver_reports(leg)
        pbx.bridge_enter(bridge, caller)
        pbx.bridge_peers(caller, leg)
        bridge.technology = "native_rtp"
        pbx.start_media(caller, phone=False)
        self.state = "connected"
        self.connected = offer
        self.connected_at = now
        handle = self.call.handle
        if handle is not None:
            handle.answered_at = now
            handle.agent = offer.agent.extension
        if self.call.ua is not None:
            self.call.ua.answered()
        if offer.decision.hangup_after_s is not None:
            offer.timer = pbx.later(offer.decision.hangup_after_s, self.agent_bye, offer)

    # -- the end of a call ----------------------------------------------------------------------

    def _member_done(self, offer: Offer) -> None:
        """The member's part of the call is over: app_queue counts it (23a: CallsTaken goes up
        when 1001's leg is hung up by the Redirect, long before AgentComplete)."""
        offer.member.in_call = False
        offer.agent.calls_taken += 1
        offer.agent.last_call = int(self.pbx.now())

    def _complete(self, reason: str, with_dest: bool) -> render.Pairs:
        offer = self.connected
        assert offer is not None
        now = self.pbx.now()
        talk = int(now) - int(self.connected_at)
        self.queue.completed += 1
        self.queue.record_talk(talk)
        if offer.member.in_call:
            self._member_done(offer)
        return render.agent_event(
            "AgentComplete", self.caller.snap(), offer.leg.snap() if with_dest else None, self.queue.name,
            offer.member.interface, offer.member.name, ("HoldTime", str(int(self.connected_at) - int(self.joined_at))),
            ("TalkTime", str(talk)), ("Reason", reason))

    def _caller_times(self) -> None:
        if self.v22_10:
            now = self.pbx.now()
            talk = now - self.connected_at
            self.pbx.varset(self.caller, "ANSWEREDTIME", int(talk))
            self.pbx.varset(self.caller, "ANSWEREDTIME_MS", int(talk * 1000))
            self.pbx.varset(self.caller, "DIALEDTIME", int(now - self.caller.created))
            self.pbx.varset(self.caller, "DIALEDTIME_MS", int((now - self.caller.created) * 1000))

    def caller_bye(self, channel: Channel, *, request: bool = True, cause: int = 16) -> None:
        """The caller hangs up (BYE) while talking: 16, 18, 20, 22 (02–08 on 22.8)."""
        if self.state == "waiting":
            self.caller_cancel(channel)
            return
        if self.state != "connected":
            return
        pbx, caller = self.pbx, self.caller
        offer = self.connected
        assert offer is not None
        leg = offer.leg
        self.state = "done"
        pbx.qos(caller, leg)
        steps: list[Callable[[], None]] = []
        if request:
            steps.append(lambda: pbx.hangup_request(caller, None if self.v22_10 else 16))
        steps += [
            lambda: pbx.varset(caller, "BRIDGEPEER", ""),
            lambda: pbx.varset(caller, "BRIDGEPVTCALLID", ""),
            lambda: (pbx.bridge_peer_reset(leg), pbx.bridge_leave(caller)),
            self._caller_times,
            lambda: pbx.hangup_request(caller, cause, soft=True),
        ]
        slot = pbx.rng.choices(range(len(COMPLETE_SLOTS)), weights=COMPLETE_SLOTS)[0]
        complete = self._complete("caller", with_dest=True)
        steps.insert(min(slot + (1 if request else 0), len(steps)), lambda: pbx.emit(complete))
        for step in steps:
            step()
        bridge = leg.bridge
        pbx.bridge_leave(leg)
        pbx.qos(leg, None)
        self.call.leg_ended(offer.cdr)
        pbx.destroy(leg, 16)
        self.call.emit_cdrs()
        if bridge is not None:
            pbx.bridge_destroy(bridge)
        if not self.v22_10:
            pbx.qos(caller, None)
        pbx.destroy(caller, cause)
        pbx.device_changed(caller.endpoint)
        pbx.device_changed(offer.agent.extension)
        self.call.end("answered", "caller")

    def member_hangup_answered(self, offer: Offer, *, by_phone: bool) -> None:
        """The member's leg ends while talking: an AMI Hangup (17b: ``Reason: caller``, no Dest*)
        or the agent's own BYE (``Reason: agent``).  Either way the caller is hung up too."""
        pbx, caller, leg = self.pbx, self.caller, offer.leg
        if self.state != "connected":
            return
        self.state = "done"
        pbx.cancel(offer.timer)
        if by_phone:
            pbx.phone_bye_reports(leg)
            pbx.hangup_request(leg, 16)
        pbx.bridge_peer_reset(leg)
        pbx.bridge_peer_reset(caller)
        bridge = leg.bridge
        pbx.bridge_leave(leg)
        pbx.qos(leg, None)
        pbx.bridge_leave(caller)
        self.call.leg_ended(offer.cdr)
        pbx.destroy(leg, 16)
        if bridge is not None:
            pbx.bridge_destroy(bridge)
        self._caller_times()
        pbx.hangup_request(caller, 16, soft=True)
        pbx.emit(self._complete("agent" if by_phone else "caller", with_dest=False))
        pbx.device_changed(offer.agent.extension)
        self.call.emit_cdrs()
        pbx.qos(caller, None)
        pbx.destroy(caller, 16)
        pbx.device_changed(caller.endpoint)
        self.call.end("answered", "agent" if by_phone else "system")

    def agent_bye(self, offer: Offer) -> None:
        self.member_hangup_answered(offer, by_phone=True)

    def _leave_waiting(self, *, abandon_vars: bool, moved_to: tuple[str, str] | None = None) -> None:
        """The caller leaves the queue unanswered (CANCEL, Redirect): the part both share.

        After a Redirect to ``moved_to`` (context, exten) the DialEnds already show the new
        location while app_queue's own events still show the old one (04)."""
        pbx, caller, queue = self.pbx, self.caller, self.queue
        self.state = "done"
        pbx.cancel(self.poll_timer)
        pbx.cancel(self.round_timer)
        self.round_timer = None
        pbx.ev("MusicOnHoldStop", caller)
        offer = self.current
        if offer is not None:
            snap = caller.snap()
            if moved_to is not None:
                snap = replace(snap, context=moved_to[0], exten=moved_to[1], priority=1)
            for _ in range(2):
                pbx.emit(render.dial_event("DialEnd", snap, offer.leg.snap(), ("DialStatus", "CANCEL")))
        now = pbx.now()
        if abandon_vars and self.v22_10:
            wait = now - self.joined_at
            for name, value in (("QUEUEWAIT", int(wait)), ("QUEUEWAIT_MS", int(wait * 1000)),
                                ("DIALEDTIME", int(now - caller.created)),
                                ("DIALEDTIME_MS", int((now - caller.created) * 1000)),
                                ("ANSWEREDTIME", 0), ("ANSWEREDTIME_MS", 0)):
                pbx.varset(caller, name, value)
        pbx.varset(caller, "ABANDONED", "TRUE")
        caller.abandoned = True
        position = self.position
        pbx.emit(render.queue_caller("QueueCallerAbandon", caller.snap(), queue.name, ("Position", str(position)),
                                     ("OriginalPosition", str(self.original_position)),
                                     ("HoldTime", str(int(now) - int(self.joined_at)))))
        queue.abandoned += 1
        queue.waiting.remove(self)
        pbx.queue_device(queue.name, len(queue.waiting))
        pbx.emit(render.queue_caller("QueueCallerLeave", caller.snap(), queue.name, ("Position", str(position)),
                                     ("Count", str(len(queue.waiting)))))
        pbx.varset(caller, "QUEUEPOSITION", position)
        if offer is not None:
            self._finish_leg(offer, 0)

    def caller_cancel(self, channel: Channel, *, cause: int = 127, tech_cause: int | None = 487,
                      request: bool = True) -> None:
        """The caller gives up before an answer (05, 17a, 21) or an AMI Hangup removes it."""
        if self.state == "connected":
            self.caller_bye(channel, request=False, cause=cause)
            return
        if self.state != "waiting":
            return
        pbx, caller = self.pbx, self.caller
        if request:
            pbx.hangup_request(caller, cause, tech_cause)
        self._leave_waiting(abandon_vars=True)
        pbx.hangup_request(caller, 16, tech_cause, soft=True)
        self.call.emit_cdrs()
        pbx.destroy(caller, cause, tech_cause)
        pbx.device_changed(caller.endpoint)
        self.call.end("abandoned", "caller" if request else "system")

    # -- AMI --------------------------------------------------------------------------------

    def ami_hangup(self, channel: Channel, cause: int | None) -> None:
        """``Hangup`` of one of this call's channels (16, 17b)."""
        offer = self.current
        if channel is self.caller:
            self.caller_cancel(channel, cause=cause or 16, tech_cause=None, request=False)
        elif offer is not None and channel is offer.leg:
            self.stop_ringing(offer, cause or 0, request=False)
        elif self.connected is not None and channel is self.connected.leg:
            self.member_hangup_answered(self.connected, by_phone=False)

    def redirectable(self, channel: Channel) -> bool:
        return channel is self.caller and self.state in ("waiting", "connected")

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> bool:
        """``Redirect`` of the caller: out of the queue (04: reported as an abandon) or out of the
        member's bridge (23a: no transfer event; AgentComplete waits for the caller's hang-up)."""
        from .dialplan import goto

        if channel is not self.caller:
            return False
        if self.state == "waiting":
            self._leave_waiting(abandon_vars=True, moved_to=(context, exten))
            goto(self.pbx, self.call, context, exten, priority)
            return True
        if self.state != "connected":
            return False
        pbx, caller = self.pbx, self.caller
        offer = self.connected
        assert offer is not None
        leg = offer.leg
        self.state = "done"
        pbx.cancel(offer.timer)
        pbx.bridge_peer_reset(caller)
        caller.context, caller.exten, caller.priority = context, exten, priority
        # the new location is published with the application still being Queue (23a)
        pbx.emit(render.newexten(caller.snap(), caller.app, caller.app_data))
        pbx.bridge_peer_reset(leg)
        bridge = leg.bridge
        pbx.bridge_leave(caller)
        if self.v22_10:
            now = pbx.now()
            for name, value in (("DIALEDTIME", int(now - caller.created)),
                                ("DIALEDTIME_MS", int((now - caller.created) * 1000)),
                                ("ANSWEREDTIME", 0), ("ANSWEREDTIME_MS", 0)):
                pbx.varset(caller, name, value)
        pbx.bridge_leave(leg)
        if bridge is not None:
            pbx.bridge_destroy(bridge)
        pbx.qos(leg, None)
        self.call.leg_ended(offer.cdr)
        self.call.pending_complete = lambda: self._complete("caller", with_dest=False)
        goto(self.pbx, self.call, context, exten, priority + 1)
        self._member_done(offer)
        pbx.destroy(leg, 16)
        pbx.device_changed(offer.agent.extension)
        return True
