"""The three-ring guard's rules (三声之内必有应答).  Pure: domain events and timer expiries in,
decisions out; no reactor, no clock reads, no I/O.

* **Per offer.**  When an inbound call has rung an agent ``allowed × cycle`` seconds (15 s by default)
  from the ring start without an answer, the guard takes it away: it hangs up the agent's ringing leg
  so the queue offers the call to the next free agent at once (capture 16); a call that rang an agent
  directly is redirected to the queue's overflow (or, with none configured, the leg is hung up and
  the dialplan goes on).  In ``observe`` mode it only counts and alerts.  Outbound legs (a callback
  ringing the agent first) are not guarded: no customer is waiting on them.
* **Per agent.**  Every miss is counted today and this shift (the call centre's time zone and its
  configured shifts), and consecutively;
  an answer or an unpause starts the consecutive count again.  At ``pause_after_misses`` in a row the
  agent is paused in every queue with the policy's reason, unless that would leave a queue with no
  ready member: then the supervisor is alerted instead (CONTRACTS.md).
* **Per queue.**  A caller still queued after ``apologise_at`` rings with no free agent raises a
  ``long_wait`` alert (the apology itself rides on ``CallAnswered.apologise``); while callers of that
  queue keep waiting that long, the next ones fold into the same alert instead of burying the misses.
* **Ownership.**  A deadline acts only on an offer that is still ringing in the live model at that
  moment; the shell re-checks after letting already-received bytes land, so an answer or a hang-up
  that arrives in the same instant wins.
* **Blind, it decides nothing.**  While the AMI link is down (``PbxLink`` until ``Resynced``) no
  deadline is judged: a phone may have been answered unseen.  After the resync each deadline that
  fell meanwhile is judged by the snapshot: a leg still ringing is acted on at once and is a miss; a
  leg that is gone ended unseen and is no miss (CONTRACTS.md, "Across a gap").
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Sequence, Union

from telephony.config import RingPolicy, Shift
from telephony.live import events as ev
from telephony.live.model import LiveModel, PolicyLookup
from telephony.live.ringcount import RING_GRACE_S
from telephony.live.state import Offer
from telephony.privacy import mask_number

#: ("offer", offer id) for a ring deadline, ("wait", linkedid) for a caller's apology threshold,
#: ("resend", "") for the actions the AMI link could not carry, once it is back
TimerKey = tuple[str, str]
RESEND: TimerKey = ("resend", "")


@dataclass(frozen=True, slots=True)
class HangupLeg:
    channel: str
    offer_id: str
    linkedid: str
    cause: int = 19  #: "User alerting, no answer": the phone sees CANCEL, the queue moves on


@dataclass(frozen=True, slots=True)
class RedirectCaller:
    channel: str
    context: str
    exten: str
    priority: int
    offer_id: str
    linkedid: str


@dataclass(frozen=True, slots=True)
class PauseAgent:
    interface: str
    agent: str
    reason: str


Command = Union[HangupLeg, RedirectCaller, PauseAgent]


@dataclass
class Decision:
    commands: list[Command] = field(default_factory=list)
    events: list[ev.DomainEvent] = field(default_factory=list)
    timers: list[tuple[float, TimerKey]] = field(default_factory=list)  #: (absolute time, key) to set
    cancels: list[TimerKey] = field(default_factory=list)


class RingGuard:
    def __init__(self, model: LiveModel, policy: PolicyLookup, tz: tzinfo, shifts: Sequence[Shift] = ()) -> None:
        self.model = model
        self.policy = policy
        self.tz = tz
        self.shifts = tuple(shifts)
        self.misses_today: Counter[tuple[date, str]] = Counter()
        self.misses_by_shift: Counter[tuple[date, str, str]] = Counter()  #: (day the shift began, shift, agent)
        self._counted_day: date | None = None
        self.consecutive: Counter[str] = Counter()
        self._guarded: set[str] = set()  #: offers with a deadline set
        self._decided: dict[str, bool] = {}  #: offers past their deadline: did the guard send a hang-up?
        self._waiting: set[str] = set()  #: calls whose wait is (or was) timed: one long_wait alert a call
        self._long_waits: dict[str, set[str]] = {}  #: queue -> callers waiting too long (one alert for all)
        self.link_up = True
        self._blind_timers: set[TimerKey] = set()  #: timers that fell due while the link was down
        self._redirected: set[str] = set()  #: calls whose caller the guard sent to the overflow
        self._unsent: list[Command] = []  #: what the AMI link could not carry; sent again once it is back

    @property
    def pbx(self) -> str:
        return self.model.pbx

    def day(self, at: float) -> date:
        return datetime.fromtimestamp(at, self.tz).date()

    def day_start(self, at: float) -> float:
        """Epoch seconds of the local midnight that began ``at``'s day, or of the day before when
        a shift that crosses midnight is under way (so its misses can be read back too)."""
        day, _ = self.shift(at)
        return datetime.combine(day, datetime.min.time(), self.tz).timestamp()

    def shift(self, at: float) -> tuple[date, str]:
        """(the local day the shift began, its name) for ``at``; (that day, "") outside every shift."""
        local = datetime.fromtimestamp(at, self.tz)
        for shift in self.shifts:
            if shift.contains(local.time()):
                began_yesterday = shift.start > shift.end and local.time() < shift.end
                return (local.date() - timedelta(days=1) if began_yesterday else local.date()), shift.name
        return local.date(), ""

    def _count_miss(self, agent: str, at: float) -> None:
        today = self.day(at)
        if self._counted_day != today:
            # Counts older than yesterday can no longer change (a shift lasts a day at most).
            self._counted_day = today
            for counts in (self.misses_today, self.misses_by_shift):
                for key in [k for k in counts if (today - k[0]).days > 1]:
                    del counts[key]
        self.misses_today[(today, agent)] += 1
        self.misses_by_shift[(*self.shift(at), agent)] += 1

    def kept(self) -> dict[str, list[str]]:
        """What the guard has decided about the calls under way, for the next start (see
        ``LiveService``): offers already judged are not judged again, callers already alerted on are
        not alerted on again."""
        return {"judged": sorted(self._decided), "waiting": sorted(self._waiting),
                "long_waits": sorted(f"{q}\n{c}" for q, calls in self._long_waits.items() for c in calls),
                "redirected": sorted(self._redirected)}

    def take_back(self, kept: dict[str, list[str]]) -> None:
        """The inverse of :meth:`kept`, at start; ids of calls and offers that ended meanwhile are let
        go when the resync reports them ended."""
        self._decided.update((offer_id, False) for offer_id in kept.get("judged", []))
        self._waiting.update(kept.get("waiting", []))
        for entry in kept.get("long_waits", []):
            queue, _, linkedid = entry.partition("\n")
            self._long_waits.setdefault(queue, set()).add(linkedid)
        self._redirected.update(kept.get("redirected", []))

    def restore_misses(self, misses: list[tuple[str, float]]) -> None:
        """Count misses stored before a restart: (agent, epoch seconds).  The consecutive count
        starts afresh: a restart is not a miss, and answers in between are not in that list."""
        for agent, at in misses:
            self._count_miss(agent, at)

    # -- events -----------------------------------------------------------------------------------

    def on_event(self, event: ev.DomainEvent) -> Decision:
        decision = Decision()
        if isinstance(event, ev.AgentRinging):
            self._guard_offer(event, decision)
        elif isinstance(event, ev.OfferEnded):
            self._blind_timers.discard(("offer", event.offer_id))
            guarded = event.offer_id in self._guarded
            acted = self._decided.pop(event.offer_id, False)
            self._forget_offer(event.offer_id, decision)
            if event.result == "answered":
                self.consecutive[event.agent] = 0
                if acted:
                    self._race_lost(event, decision)
            elif guarded and event.result in ("no_answer", "rejected") and event.ring_started_at is not None:
                self._rang_out_before_deadline(event, decision)
        elif isinstance(event, ev.CallOffered):
            if event.linkedid not in self._waiting:
                self._waiting.add(event.linkedid)
                policy = self.policy(event.queue)
                decision.timers.append((event.entered_at + policy.apologise_at * policy.cycle_s, ("wait", event.linkedid)))
        elif isinstance(event, ev.CallAnswered):
            decision.cancels.append(("wait", event.linkedid))
            self._waits_no_longer(event.linkedid)
        elif isinstance(event, ev.CallerLeftQueue):
            self._waits_no_longer(event.linkedid)
        elif isinstance(event, ev.CallEnded):
            linkedid = event.call.linkedid
            if linkedid in self._waiting:
                self._waiting.discard(linkedid)
                decision.cancels.append(("wait", linkedid))
            self._blind_timers.discard(("wait", linkedid))
            self._waits_no_longer(linkedid)
            self._redirected.discard(linkedid)
        elif isinstance(event, ev.PbxLink):
            self.link_up = event.state != "disconnected"
        elif isinstance(event, ev.Resynced):
            # Judged as timers falling due now, not here: the shell lets the events held back during
            # the resync land first, so an answer among them wins as it would on time.
            self.link_up = True
            blind, self._blind_timers = sorted(self._blind_timers), set()
            decision.timers += [(event.at, key) for key in blind]
            if self._unsent:
                decision.timers.append((event.at, RESEND))
        elif isinstance(event, ev.AgentPaused) and not event.paused:
            self.consecutive[event.agent] = 0
        return decision

    def _guard_offer(self, ringing: ev.AgentRinging, decision: Decision) -> None:
        if ringing.offer_id in self._guarded or ringing.offer_id in self._decided or ringing.caller_channel is None:
            return
        call = self.model.calls.get(ringing.linkedid)
        if call is None or call.direction != "inbound":
            return
        self._guarded.add(ringing.offer_id)
        deadline = ringing.ring_started_at + self.policy(ringing.queue).deadline_s
        decision.timers.append((deadline, ("offer", ringing.offer_id)))

    def _forget_offer(self, offer_id: str, decision: Decision) -> None:
        if offer_id in self._guarded:
            self._guarded.discard(offer_id)
            decision.cancels.append(("offer", offer_id))

    # -- timers -----------------------------------------------------------------------------------

    def on_timer(self, key: TimerKey, now: float) -> Decision:
        decision = Decision()
        if self.link_up:
            self._judge(key, now, decision)
        else:
            self.judge_after_resync(key)
        return decision

    def judge_after_resync(self, key: TimerKey) -> None:
        """The link turned out dead when ``key`` fell due: judge it by the next snapshot."""
        self._blind_timers.add(key)

    def _judge(self, key: TimerKey, now: float, decision: Decision) -> None:
        kind, ident = key
        if kind == "offer":
            self._deadline(ident, now, decision)
        elif kind == "wait":
            self._long_wait(ident, now, decision)
        elif kind == "resend":
            self._send_again(decision, now)

    def still_owned(self, command: Command) -> bool:
        """True while acting on ``command`` cannot hit an answered or vanished call."""
        if isinstance(command, PauseAgent):
            return True
        offer = self.model.offer(command.offer_id)
        return offer is not None and offer.ringing

    def _deadline(self, offer_id: str, now: float, decision: Decision) -> None:
        offer = self.model.offer(offer_id)
        if offer is None or not offer.ringing:
            # Answered, rejected or abandoned in the meantime: not ours to touch.  If it only just
            # stopped ringing, its OfferEnded (still to come) decides whether it rang out.
            if offer is None:
                self._guarded.discard(offer_id)
            return
        self._guarded.discard(offer_id)
        policy = self.policy(offer.queue)
        if policy.mode != "act":
            command, action = None, "observe"
        elif self._overflows(offer, policy):
            # One Redirect per caller: a parallel Dial rings several phones out at once.
            first = offer.linkedid not in self._redirected
            self._redirected.add(offer.linkedid)
            o = policy.overflow
            command = RedirectCaller(offer.caller_channel, o.context, o.exten, o.priority, offer.id,
                                     offer.linkedid) if first else None
            action = "redirect"
        else:
            command, action = HangupLeg(offer.channel, offer.id, offer.linkedid), "hangup"
        self._decided[offer_id] = isinstance(command, HangupLeg)
        if command is not None:
            decision.commands.append(command)
        self._miss(offer.linkedid, offer.id, offer.agent, offer.interface, offer.queue, offer.channel,
                   offer.ring_started_at, action, now, decision)

    def _race_lost(self, answered: ev.OfferEnded, decision: Decision) -> None:
        """The agent answered just as the guard's hang-up left: Asterisk ends the whole call then
        (capture 17b).  Rare and unavoidable on the wire; the supervisor must know it happened."""
        decision.events.append(ev.SupervisorAlert(
            self.pbx, answered.at, kind="race_lost", agent=answered.agent, queue=answered.queue,
            linkedid=answered.linkedid, caller=None, since=answered.ring_started_at,
            detail="answered at the deadline; the guard's hang-up may have ended the call"))

    def _rang_out_before_deadline(self, ended: ev.OfferEnded, decision: Decision) -> None:
        """app_queue's own timeout (or the phone giving up) ended the offer a hair before the deadline:
        the rings still passed unanswered, so it is a miss all the same, at the deadline."""
        policy = self.policy(ended.queue)
        if ended.ended_at - ended.ring_started_at < policy.deadline_s - RING_GRACE_S:
            return
        action = "observe" if policy.mode == "observe" else "already_ended"
        self._miss(ended.linkedid, ended.offer_id, ended.agent, ended.interface, ended.queue, ended.channel,
                   ended.ring_started_at, action, ended.ring_started_at + policy.deadline_s, decision)

    def _miss(self, linkedid: str, offer_id: str, agent: str, interface: str, queue: str | None, channel: str,
              ring_started_at: float, action: str, at: float, decision: Decision) -> None:
        policy = self.policy(queue)
        call = self.model.calls.get(linkedid)
        caller = mask_number(call.caller) if call else None
        self._count_miss(agent, at)
        self.consecutive[agent] += 1
        shift_day, shift = self.shift(at)
        decision.events += [
            ev.RingDeadline(self.pbx, at, linkedid=linkedid, offer_id=offer_id, agent=agent, interface=interface,
                            queue=queue, channel=channel, ring_started_at=ring_started_at, action=action),
            ev.AgentMissed(self.pbx, at, linkedid=linkedid, offer_id=offer_id, agent=agent, interface=interface,
                           queue=queue, misses_today=self.misses_today[(self.day(at), agent)],
                           consecutive=self.consecutive[agent], shift=shift,
                           misses_this_shift=self.misses_by_shift[(shift_day, shift, agent)]),
            ev.SupervisorAlert(self.pbx, at, kind="miss", agent=agent, queue=queue, linkedid=linkedid, caller=caller,
                               since=ring_started_at, detail=f"{policy.allowed} rings unanswered ({action})"),
        ]
        if self.consecutive[agent] >= policy.pause_after_misses:
            self._pause(agent, interface, policy, at, caller, linkedid, decision)

    @staticmethod
    def _overflows(offer: Offer, policy: RingPolicy) -> bool:
        """A direct call goes to the overflow; a queue call just moves to the next agent."""
        return offer.queue is None and policy.overflow is not None and bool(offer.caller_channel)

    # -- when the AMI link cannot carry an action -----------------------------------------------------

    def not_sent(self, command: Command, now: float) -> Decision:
        """The link to Asterisk was down: keep the action for when it is back, and say so."""
        decision = Decision()
        if isinstance(command, (HangupLeg, RedirectCaller)):
            self._decided[command.offer_id] = False  # an answer now is no lost race
        self._unsent.append(command)
        what = {HangupLeg: "hang-up", RedirectCaller: "redirect", PauseAgent: "pause"}[type(command)]
        agent = command.agent if isinstance(command, PauseAgent) else None
        decision.events.append(ev.SupervisorAlert(
            self.pbx, now, kind="not_sent", agent=agent, queue=None,
            linkedid=getattr(command, "linkedid", None), caller=None, since=None,
            detail=f"the link to Asterisk is down: {what} not sent; sent once the link is back"))
        return decision

    def _send_again(self, decision: Decision, now: float) -> None:
        unsent, self._unsent = self._unsent, []
        for command in unsent:
            if isinstance(command, PauseAgent):
                # the queues may have changed meanwhile: the last ready member is still never paused
                emptied = self._emptied_by_pausing(command.interface)
                if emptied:
                    decision.events.append(ev.SupervisorAlert(
                        self.pbx, now, kind="pause_withheld", agent=command.agent, queue=None,
                        linkedid=None, caller=None, since=None,
                        detail=f"not paused after all: last ready member of {', '.join(sorted(emptied))}"))
                    continue
            elif not self.still_owned(command):
                continue
            if isinstance(command, HangupLeg):
                self._decided[command.offer_id] = True
            decision.commands.append(command)

    def _pause(self, agent: str, interface: str, policy: RingPolicy, now: float, caller: str | None,
               linkedid: str, decision: Decision) -> None:
        streak = self.consecutive[agent]
        emptied = self._emptied_by_pausing(interface)
        if policy.mode != "act" or emptied:
            why = (f"last ready member of {', '.join(sorted(emptied))}" if emptied else "observe mode")
            decision.events.append(ev.SupervisorAlert(
                self.pbx, now, kind="pause_withheld", agent=agent, queue=None, linkedid=linkedid, caller=caller,
                since=None, detail=f"{streak} misses in a row; not paused: {why}"))
            return
        self.consecutive[agent] = 0
        decision.commands.append(PauseAgent(interface, agent, policy.pause_reason))
        decision.events.append(ev.SupervisorAlert(
            self.pbx, now, kind="pause", agent=agent, queue=None, linkedid=linkedid, caller=caller, since=None,
            detail=f"{streak} misses in a row: paused in every queue ({policy.pause_reason})"))

    def _waits_no_longer(self, linkedid: str) -> None:
        for queue, waiting in list(self._long_waits.items()):
            waiting.discard(linkedid)
            if not waiting:
                del self._long_waits[queue]

    def _emptied_by_pausing(self, interface: str) -> list[str]:
        """The queues pausing ``interface`` would leave with no ready member."""
        return [q for q in self.model.member_queues(interface)
                if [m.interface for m in self.model.ready_members(q)] == [interface]]

    def _long_wait(self, linkedid: str, now: float, decision: Decision) -> None:
        call = self.model.calls.get(linkedid)
        if call is None or call.answered or call.current_queue is None:
            return
        queue = self.model.queues.get(call.current_queue)
        free = [m for m in queue.members.values() if not m.paused and m.status == "not_in_use"] if queue else []
        if free:
            return
        waiting = self._long_waits.setdefault(call.current_queue, set())
        waiting.add(linkedid)
        if len(waiting) > 1:
            return  # the queue's alert is still open: this caller is one more of the same trouble
        policy = self.policy(call.current_queue)
        decision.events.append(ev.SupervisorAlert(
            self.pbx, now, kind="long_wait", agent=None, queue=call.current_queue, linkedid=linkedid,
            caller=mask_number(call.caller), since=call.entered_at,
            detail=f"waiting {now - call.entered_at:.0f} s ({policy.apologise_at}+ rings), no agent free"))
