"""The live model: AMI events in, state and domain events out.  Pure: no reactor, no clock reads.

``LiveModel.apply(message, at)`` takes one AMI event and the time it arrived and returns the domain
events it caused; ``advance(now)`` returns the ring events that time alone produces (Asterisk says
once that a phone rings, never again); ``link_lost(…)`` says the AMI link is down and
``resync(snapshot)`` rebuilds the state after a (re)connect.

Across a gap of the AMI link nothing is invented (CONTRACTS.md, "Across a gap"): no ring is counted
while the link is down; what ended unseen ends at the last moment it was known to be alive and is
marked ``ended_unseen``; a call first seen talking has no wait, rings or apology.

How real streams are read (tests/fixtures/ami-real/README.md has the evidence):

* A call is everything sharing a ``Linkedid``; its first channel is the caller (inbound) or, for an
  ``Originate``, the agent's leg (outbound).  A call ends with the ``Hangup`` of its last channel.
* An offer is a queue's ``AgentCalled``, or a ``DialBegin`` that rings an agent outside a queue
  (from the caller's channel, or from an Originate).  Its ring starts at the first ``Newstate``
  ``ChannelState: 5``, ``DialState RINGING`` or ``AgentCalled DestChannelState: 5`` — these come in
  either order.  It ends at the first of: answer, ``AgentRingNoAnswer``, a non-answer ``DialEnd``,
  a ``HangupRequest``/``Hangup`` of its leg.  Its result is settled by the leg's ``Hangup`` (a phone
  that declines shows Cause 17/21 only there or in the ``HangupRequest`` before it), so
  :class:`OfferEnded` is emitted then.
* Agents are named by extension.  An endpoint is an agent if it is a known queue member, one of
  ``agent_endpoints``, or (when neither says) a short all-digit name: trunks are named, extensions
  are numbers.  ``Local/`` channels are plumbing, never offers or agents.
* A ``Redirect`` of an answered caller leaves no transfer event: the caller's channel simply dials
  another agent, which is how it is recognised.
"""
from __future__ import annotations

import heapq
import logging
from typing import Callable, Iterable

from telephony.ami.protocol import Message
from telephony.config import RingPolicy

from . import events as ev
from .ringcount import count_rings, ring_counted_at
from .resync import apply_snapshot
from .summary import summarise
from .state import DEVICE_STATUS, REJECT_CAUSES, Call, Channel, Member, Offer, Queue, QueueEntry, caller_id, endpoint_of

log = logging.getLogger(__name__)

DEFAULT_POLICY = RingPolicy()
PolicyLookup = Callable[[str | None], RingPolicy]

_DIAL_END_RESULT = {
    "NOANSWER": "no_answer",
    "BUSY": "rejected",
    "CANCEL": "cancelled",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
    "DONTCALL": "rejected",
    "TORTURE": "rejected",
    "INVALIDARGS": "failed",
}


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


class LiveModel:
    def __init__(
        self,
        pbx: str = "default",
        *,
        policy: PolicyLookup | None = None,
        agent_endpoints: Iterable[str] = (),
    ) -> None:
        self.pbx = pbx
        self.policy: PolicyLookup = policy or (lambda queue: DEFAULT_POLICY)
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.queues: dict[str, Queue] = {}
        self.offers: dict[str, Offer] = {}  #: open and just-ended offers, by member-leg Uniqueid
        self._configured_agents = frozenset(agent_endpoints)
        self._member_agents: set[str] = set()
        self._ring_due: list[tuple[float, str, int]] = []  #: heap of (ring counts from, offer id, ring)
        self.last_heard_at: float | None = None  #: arrival time of the latest event
        #: while the AMI link is down: the last moment anything was heard (what ends now ends unseen)
        self.gap_since: float | None = None
        self._out: list[ev.DomainEvent] = []
        self._handlers: dict[str, Callable[[Message, float], None]] = {
            "Newchannel": self._newchannel,
            "Newstate": self._newstate,
            "NewCallerid": self._newcallerid,
            "DialBegin": self._dialbegin,
            "DialState": self._dialstate,
            "DialEnd": self._dialend,
            "AgentCalled": self._agentcalled,
            "AgentConnect": self._agentconnect,
            "AgentRingNoAnswer": self._agentringnoanswer,
            "QueueCallerJoin": self._queuecallerjoin,
            "QueueCallerLeave": self._queuecallerleave,
            "QueueCallerAbandon": self._queuecallerabandon,
            "BridgeEnter": self._bridgeenter,
            "BridgeLeave": self._bridgeleave,
            "BlindTransfer": self._blindtransfer,
            "AttendedTransfer": self._attendedtransfer,
            "HangupRequest": self._hanguprequest,
            "Hangup": self._hangup,
            "Newexten": self._newexten,
            "MessageWaiting": self._messagewaiting,
            "QueueMemberStatus": self._queuememberstatus,
            "QueueMemberPause": self._queuememberpause,
            "QueueMemberAdded": self._queuememberadded,
            "QueueMemberRemoved": self._queuememberremoved,
            "OriginateResponse": self._originateresponse,
            "ChanSpyStart": self._chanspystart,
        }

    # -- entry points -------------------------------------------------------------------------

    def apply(self, message: Message, at: float) -> list[ev.DomainEvent]:
        """Apply one AMI event received at ``at``; responses and unknown events change nothing."""
        out = self._out = []
        self.last_heard_at = at
        if self._ring_due and self._ring_due[0][0] <= at:
            self.announce_rings(at)
        name = message.event
        handler = self._handlers.get(name) if name is not None else None
        if handler is not None:
            handler(message, at)
        return out

    def advance(self, now: float) -> list[ev.DomainEvent]:
        """Ring events for every ring that has started to count by ``now`` (see ringcount)."""
        out = self._out = []
        self.announce_rings(now)
        return out

    def next_due(self) -> float | None:
        """When :meth:`advance` will next have something to say (the next ring's start); None
        while the link is down: rings are never counted across a gap."""
        if self.gap_since is not None:
            return None
        while self._ring_due:
            due, offer_id, ring = self._ring_due[0]
            offer = self.offers.get(offer_id)
            if offer is not None and offer.ringing and offer.rings_announced < ring:
                return due
            heapq.heappop(self._ring_due)
        return None

    def link_lost(self, at: float, detail: str, *, last_heard_at: float | None = None) -> list[ev.DomainEvent]:
        """The AMI link went down at ``at``.  ``last_heard_at`` (the connection's last received
        bytes) is the last moment the PBX was known alive; without it, the latest event's arrival.
        A model that never heard from the PBX has no gap: it knows nothing yet."""
        out = self._out = []
        if self.gap_since is None and self.last_heard_at is not None:
            self.gap_since = max(self.last_heard_at, last_heard_at or self.last_heard_at)
        self.emit(ev.PbxLink(self.pbx, at, state="disconnected", detail=detail, since=self.gap_since))
        return out

    def resync(self, channels: Iterable[Message], queue_status: Iterable[Message], at: float) -> list[ev.DomainEvent]:
        """Rebuild the state from a snapshot taken at ``at`` (see :mod:`telephony.live.resync`)."""
        out = self._out = []
        since = self.gap_since if self.gap_since is not None else self.last_heard_at
        apply_snapshot(self, list(channels), list(queue_status), at, since=since, first=self.last_heard_at is None)
        self.gap_since = None
        self.last_heard_at = at
        self.announce_rings(at)
        ringing = sum(1 for offer in self.offers.values() if offer.ringing)
        self.emit(ev.Resynced(self.pbx, at, channels=len(self.channels), calls=len(self.calls),
                              ringing_offers=ringing, blind_since=since))
        return out

    def finish(self, at: float) -> list[ev.DomainEvent]:
        """End every call still open (a capture that stops first): each is ``incomplete``."""
        out = self._out = []
        for call in list(self.calls.values()):
            self.end_call(call, at, complete=False)
        return out

    # -- queries for features -------------------------------------------------------------------

    def is_agent(self, endpoint: str) -> bool:
        if endpoint in self._configured_agents or endpoint in self._member_agents:
            return True
        return not self._configured_agents and endpoint.isdigit() and len(endpoint) <= 6

    def offer(self, offer_id: str) -> Offer | None:
        return self.offers.get(offer_id)

    def ready_members(self, queue: str) -> list[Member]:
        """Members of ``queue`` that could take a call: not paused, registered."""
        q = self.queues.get(queue)
        if q is None:
            return []
        return [m for m in q.members.values() if not m.paused and m.status not in ("unavailable", "invalid")]

    def member_queues(self, interface: str) -> list[str]:
        return [name for name, q in self.queues.items() if interface in q.members]

    # -- channels ---------------------------------------------------------------------------

    def _newchannel(self, m: Message, at: float) -> None:
        uid = m.get("Uniqueid")
        if not uid:
            return
        known = self.channels.get(uid)
        if known is not None:
            # Held back during a resync, the snapshot already has it: keep what was learnt
            # (when it was created, when it began ringing), take the newer caller ID.
            known.caller_num = caller_id(m.get("CallerIDNum")) or known.caller_num
            known.caller_name = caller_id(m.get("CallerIDName")) or known.caller_name
            return
        name = m.get("Channel") or ""
        endpoint, local = endpoint_of(name)
        channel = Channel(
            uniqueid=uid, linkedid=m.get("Linkedid") or uid, name=name, endpoint=endpoint, local=local,
            state=_int(m.get("ChannelState")), caller_num=caller_id(m.get("CallerIDNum")),
            caller_name=caller_id(m.get("CallerIDName")), created_at=at,
        )
        if channel.state == 5:
            channel.ringing_at = at
        self.channels[uid] = channel
        call = self.calls.get(channel.linkedid)
        if call is None:
            call = self.calls[channel.linkedid] = Call(self.pbx, channel.linkedid, entered_at=at, caller_uid=uid)
            if not local and self.is_agent(endpoint):
                call.direction = "outbound"
            else:
                call.caller, call.caller_name = channel.caller_num, channel.caller_name
        call.channels.add(uid)

    def _newstate(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is None:
            return
        channel.state = _int(m.get("ChannelState"))
        if channel.state == 5:
            self._leg_ringing(channel, at)
        elif channel.state == 6 and channel.up_at is None:
            channel.up_at = at
            offer = self.offers.get(channel.uniqueid)
            if offer is not None:
                self._offer_answered(offer, at)

    def _newcallerid(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is None:
            return
        channel.caller_num = caller_id(m.get("CallerIDNum"))
        channel.caller_name = caller_id(m.get("CallerIDName"))
        call = self.calls.get(channel.linkedid)
        if call is not None and call.caller_uid == channel.uniqueid and call.direction == "inbound":
            call.caller, call.caller_name = channel.caller_num, channel.caller_name

    def _leg_ringing(self, channel: Channel, at: float) -> None:
        if channel.ringing_at is None:
            channel.ringing_at = at
        offer = self.offers.get(channel.uniqueid)
        if offer is not None:
            self.offer_ringing(offer, channel.ringing_at)

    def _bridgeenter(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is not None:
            channel.bridge = m.get("BridgeUniqueid")

    def _bridgeleave(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is not None and channel.bridge == m.get("BridgeUniqueid"):
            channel.bridge = None

    def _newexten(self, m: Message, at: float) -> None:
        # Newexten is a fifth of the stream and only VoiceMail matters here: test the bytes first.
        if b"Application: VoiceMail\r\n" not in m.raw:
            return
        self._mark_voicemail(m)

    def _messagewaiting(self, m: Message, at: float) -> None:
        self._mark_voicemail(m)

    def _mark_voicemail(self, m: Message) -> None:
        call = self.calls.get(m.get("Linkedid") or "")
        if call is not None:
            call.voicemail = True

    # -- dialling -------------------------------------------------------------------------------

    def _dialbegin(self, m: Message, at: float) -> None:
        dest = self.channels.get(m.get("DestUniqueid") or "")
        if dest is None:
            return
        if dest.uniqueid in self.offers:
            if m.get("DestChannelState") == "5":
                self._leg_ringing(dest, at)
            return
        call = self.calls.get(dest.linkedid)
        if call is None:
            return
        source = self.channels.get(m.get("Uniqueid") or "")
        if dest.local or not self.is_agent(dest.endpoint):
            if call.direction == "outbound" and source is not None and source.uniqueid == call.caller_uid:
                # an agent-first callback now dials the customer
                exten = m.get("DestExten")
                call.caller = exten if exten and exten != "s" else caller_id(m.get("DestCallerIDNum"))
            return
        if source is None:
            # Originate: Asterisk dials the agent's phone first, from no channel
            if dest.uniqueid != call.caller_uid:
                return
        elif source.uniqueid != call.caller_uid or call.current_queue is not None:
            # a consult call from an agent or a Local half, or app_queue dialling (AgentCalled covers it)
            return
        offer = self.open_offer(call, dest, interface=f"{dest.name.partition('/')[0]}/{dest.endpoint}",
                                 queue=None, at=at, caller_channel=source.name if source else None)
        if call.answered:
            self._transfer(call, offer.agent, "redirect", at)
        if m.get("DestChannelState") == "5" or dest.ringing_at is not None:
            self._leg_ringing(dest, at)

    def _dialstate(self, m: Message, at: float) -> None:
        if m.get("DialStatus") != "RINGING":
            return
        dest = self.channels.get(m.get("DestUniqueid") or "")
        if dest is not None:
            self._leg_ringing(dest, at)

    def _dialend(self, m: Message, at: float) -> None:
        offer = self.offers.get(m.get("DestUniqueid") or "")
        if offer is None or offer.ended_at is not None:
            return
        status = m.get("DialStatus") or ""
        if status == "ANSWER":
            self._offer_answered(offer, at)
        else:
            self._offer_stopped(offer, at, _DIAL_END_RESULT.get(status, "no_answer"))

    # -- queues ---------------------------------------------------------------------------------

    def queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(name)
        return queue

    def _queue_offer(self, m: Message, at: float) -> Offer | None:
        """The offer an app_queue event (AgentCalled, AgentConnect) is about, opened if new."""
        dest = self.channels.get(m.get("DestUniqueid") or "")
        offer = self.offers.get(dest.uniqueid) if dest is not None else None
        if offer is not None or dest is None:
            return offer
        call = self.calls.get(m.get("Linkedid") or "")
        interface = m.get("Interface") or ""
        if call is None or not interface:
            return None
        queue = m.get("Queue") or None
        member = self.member(queue, interface, m.get("MemberName")) if queue else None
        return self.open_offer(call, dest, interface=interface, queue=queue, at=at,
                               caller_channel=m.get("Channel"), agent=member.agent if member else None)

    def _agentcalled(self, m: Message, at: float) -> None:
        # (a resync may have restored the offer already: then this only confirms it rings)
        if self._queue_offer(m, at) is None:
            return
        dest = self.channels[m["DestUniqueid"]]
        if m.get("DestChannelState") == "5" or dest.ringing_at is not None:
            self._leg_ringing(dest, at)

    def _agentconnect(self, m: Message, at: float) -> None:
        # An offer that began while we were not looking is opened now: the answer still happened.
        offer = self._queue_offer(m, at)
        if offer is not None:
            self._offer_answered(offer, at)

    def _agentringnoanswer(self, m: Message, at: float) -> None:
        offer = self.offers.get(m.get("DestUniqueid") or "")
        if offer is not None:
            self._offer_stopped(offer, at, "no_answer")

    def _queuecallerjoin(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("Linkedid") or "")
        name = m.get("Queue")
        if call is None or not name:
            return
        position = _int(m.get("Position"), 1)
        entries = self.queue(name).entries
        if call.current_queue == name and call.linkedid in entries:
            entries[call.linkedid].position = position  # held back during a resync that saw it
            return
        call.queues.append(name)
        call.current_queue, call.queue_joined_at, call.abandoned_queue = name, at, False
        entries[call.linkedid] = QueueEntry(call.linkedid, position, at)
        self.emit(ev.CallOffered(self.pbx, at, linkedid=call.linkedid, queue=name, caller=call.caller,
                                  caller_name=call.caller_name, position=position, entered_at=call.entered_at))

    def _queuecallerabandon(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("Linkedid") or "")
        if call is not None and call.current_queue == m.get("Queue"):
            call.abandoned_queue = True

    def _queuecallerleave(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("Linkedid") or "")
        name = m.get("Queue") or ""
        if call is None:
            return
        entries = self.queue(name).entries
        left = entries.pop(call.linkedid, None)
        if left is not None:
            # everyone behind the caller who left moves up one place, as app_queue does
            for entry in entries.values():
                if entry.position > left.position:
                    entry.position -= 1
        if call.current_queue != name:
            return
        if call.answered:
            reason = "answered"
        elif call.abandoned_queue:
            reason = "abandoned"
        else:
            reason = "other"
        joined = call.queue_joined_at if call.queue_joined_at is not None else call.entered_at
        call.current_queue = None
        self.emit(ev.CallerLeftQueue(self.pbx, at, linkedid=call.linkedid, queue=name, reason=reason,
                                      wait_s=round(at - joined, 3)))

    def member(self, queue: str, interface: str, name: str | None = None) -> Member:
        q = self.queue(queue)
        member = q.members.get(interface)
        if member is None:
            agent, _ = endpoint_of(interface)
            member = q.members[interface] = Member(queue=queue, interface=interface, agent=agent)
            self._member_agents.add(agent)
        if name:
            member.name = name
        return member

    def _queuememberstatus(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if not queue or not interface:
            return
        member = self.member(queue, interface, m.get("MemberName"))
        status = DEVICE_STATUS.get(m.get("Status") or "", "unknown")
        in_call = m.get("InCall") == "1"
        changed = status != member.status or in_call != member.in_call
        member.status, member.in_call = status, in_call
        self.set_paused(member, m.get("Paused") == "1", m.get("PausedReason") or "", at, seen="status")
        if changed:
            self.emit(ev.AgentStatus(self.pbx, at, agent=member.agent, interface=interface, queue=queue,
                                      status=status, paused=member.paused, in_call=in_call))

    def _queuememberpause(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if queue and interface:
            member = self.member(queue, interface, m.get("MemberName"))
            status = m.get("Status")
            if status is not None:
                member.status = DEVICE_STATUS.get(status, "unknown")
            self.set_paused(member, m.get("Paused") == "1", m.get("PausedReason") or "", at, seen="announced")

    def set_paused(self, member: Member, paused: bool, reason: str, at: float, *, seen: str) -> None:
        """``seen`` says how the daemon learnt it (see ``AgentPaused``): ``announced``, ``status``
        or ``resync``."""
        # QueueMemberStatus repeats the pause state on every device change: only a change is news;
        # an announcement or a snapshot may also change just the reason.
        if paused == member.paused and (seen == "status" or reason == member.reason):
            return
        member.paused, member.reason = paused, reason if paused else ""
        self.emit(ev.AgentPaused(self.pbx, at, agent=member.agent, interface=member.interface,
                                  queue=member.queue, paused=paused, reason=reason, seen=seen))

    def _queuememberadded(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if queue and interface:
            member = self.member(queue, interface, m.get("MemberName"))
            member.status = DEVICE_STATUS.get(m.get("Status") or "", "unknown")
            member.paused, member.reason = m.get("Paused") == "1", m.get("PausedReason") or ""

    def _queuememberremoved(self, m: Message, at: float) -> None:
        queue = self.queues.get(m.get("Queue") or "")
        if queue is not None:
            queue.members.pop(m.get("Interface") or "", None)

    # -- offers ---------------------------------------------------------------------------------

    def open_offer(self, call: Call, leg: Channel, *, interface: str, queue: str | None, at: float,
                    caller_channel: str | None, agent: str | None = None) -> Offer:
        offer = Offer(id=leg.uniqueid, linkedid=call.linkedid, agent=agent or endpoint_of(interface)[0],
                      interface=interface, queue=queue, channel=leg.name, caller_channel=caller_channel,
                      started_at=at)
        self.offers[offer.id] = offer
        call.offers.append(offer)
        return offer

    def offer_ringing(self, offer: Offer, first_ring_at: float) -> None:
        if offer.ring_started_at is not None or offer.ended_at is not None:
            return
        offer.ring_started_at = first_ring_at
        self._announce_ring(offer, 1, first_ring_at)
        cycle = self.policy(offer.queue).cycle_s
        heapq.heappush(self._ring_due, (ring_counted_at(first_ring_at, 2, cycle), offer.id, 2))

    def announce_rings(self, now: float) -> None:
        """Announce the ring each ringing offer has reached by ``now``: one event per offer, also
        when several rings passed at once (after a resync the phone is at ring 4, not at 2, 3, 4)."""
        if self.gap_since is not None:
            return
        due = self._ring_due
        while due and due[0][0] <= now:
            at, offer_id, ring = heapq.heappop(due)
            offer = self.offers.get(offer_id)
            if offer is None or not offer.ringing or offer.rings_announced >= ring:
                continue
            cycle = self.policy(offer.queue).cycle_s
            reached = count_rings(now - offer.ring_started_at, cycle)
            if reached > ring:
                ring, at = reached, ring_counted_at(offer.ring_started_at, reached, cycle)
            self._announce_ring(offer, ring, at)
            heapq.heappush(due, (ring_counted_at(offer.ring_started_at, ring + 1, cycle), offer.id, ring + 1))

    def _announce_ring(self, offer: Offer, ring: int, at: float) -> None:
        offer.rings_announced = ring
        call = self.calls.get(offer.linkedid)
        self.emit(ev.AgentRinging(
            self.pbx, at, linkedid=offer.linkedid, offer_id=offer.id, agent=offer.agent,
            interface=offer.interface, queue=offer.queue, channel=offer.channel,
            caller_channel=offer.caller_channel, caller=call.caller if call else None,
            caller_name=call.caller_name if call else None, ring=ring,
            ring_started_at=offer.ring_started_at, call_entered_at=call.entered_at if call else at))

    def _offer_answered(self, offer: Offer, at: float) -> None:
        if offer.ended_at is not None:
            return
        offer.ended_at, offer.result = at, "answered"
        call = self.calls.get(offer.linkedid)
        self.report_offer(offer, at)
        if call is not None:
            call.talking_with = offer.agent
        if call is None or call.answered:
            return
        call.answered_at, call.answered_by, call.talking_seen_at = at, offer.agent, at
        call.answered_queue, call.answer_channel = offer.queue, offer.channel
        policy = self.policy(offer.queue or call.current_queue)
        wait = at - call.entered_at
        rings = count_rings(wait, policy.cycle_s)
        self.emit(ev.CallAnswered(
            self.pbx, at, linkedid=call.linkedid, agent=offer.agent, interface=offer.interface,
            queue=offer.queue, channel=offer.channel, caller=call.caller, caller_name=call.caller_name,
            wait_s=round(wait, 3), rings_to_answer=rings, apologise=rings >= policy.apologise_at))

    def _offer_stopped(self, offer: Offer, at: float, result: str) -> None:
        """The phone stopped ringing; the result may still be refined by the leg's hang-up cause."""
        if offer.ended_at is None:
            offer.ended_at, offer.result = at, result

    def report_offer(self, offer: Offer, at: float) -> None:
        if offer.reported:
            return
        offer.reported = True
        policy = self.policy(offer.queue)
        self.emit(ev.OfferEnded(self.pbx, at, linkedid=offer.linkedid, offer_id=offer.id, agent=offer.agent,
                                 interface=offer.interface, queue=offer.queue, channel=offer.channel,
                                 result=offer.result or "cancelled", ring_started_at=offer.ring_started_at,
                                 ended_at=offer.ended_at if offer.ended_at is not None else at,
                                 rang_s=round(offer.rang_s, 3), rings=count_rings(offer.rang_s, policy.cycle_s),
                                 ended_unseen=offer.ended_unseen))

    def end_offer_unseen(self, offer: Offer, last_seen_at: float, result: str) -> None:
        """An open offer whose end fell in a gap: it ended at ``last_seen_at`` at the latest known."""
        if offer.ended_at is None:
            offer.ended_at, offer.result, offer.ended_unseen = last_seen_at, result, True

    def answered_unseen(self, call: Call, leg: Channel, queue: str | None, at: float) -> None:
        """``leg`` was found talking to the caller at ``at``; when it answered was not seen."""
        call.answered_by, call.talking_seen_at = leg.endpoint, at
        call.talking_with, call.answered_queue, call.answer_channel = leg.endpoint, queue, leg.name
        self.emit(ev.CallAnswered(
            self.pbx, at, linkedid=call.linkedid, agent=leg.endpoint,
            interface=f"{leg.name.partition('/')[0]}/{leg.endpoint}", queue=queue, channel=leg.name,
            caller=call.caller, caller_name=call.caller_name, wait_s=None, rings_to_answer=None, apologise=None))

    # -- transfers ------------------------------------------------------------------------------

    def _transfer(self, call: Call, to: str, how: str, at: float) -> None:
        if call.transferred_to and call.transferred_to[-1] == to:
            return  # a blind transfer announces itself, then dials: one transfer, not two
        call.transferred_to.append(to)
        self.emit(ev.CallTransferred(self.pbx, at, linkedid=call.linkedid, to=to, how=how))

    def _blindtransfer(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("TransfereeLinkedid") or "")
        exten = m.get("Extension")
        if call is not None and exten and m.get("Result") == "Success":
            call.talking_with = None  # until the new agent answers
            self._transfer(call, exten, "blind", at)

    def _attendedtransfer(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("TransfereeLinkedid") or m.get("OrigTransfererLinkedid") or "")
        target = m.get("TransferTargetChannel")
        if call is None or not target or m.get("Result") != "Success":
            return
        endpoint, _ = endpoint_of(target)
        if self.is_agent(endpoint):
            call.talking_with = endpoint
            self._transfer(call, endpoint, "attended", at)

    # -- hang-ups -------------------------------------------------------------------------------

    def _hanguprequest(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is None:
            return
        channel.hangup_requested = True
        cause = m.get("Cause")
        if cause is not None:
            channel.request_cause = _int(cause)
        offer = self.offers.get(channel.uniqueid)
        if offer is not None and offer.ended_at is None and channel.request_cause in REJECT_CAUSES:
            self._offer_stopped(offer, at, "rejected")
        call = self.calls.get(channel.linkedid)
        # Who ended the call: the caller's own request always counts; another channel's only once it
        # was talking (a phone declining while it rings ends its offer, not the call).
        if call is not None and (channel.uniqueid == call.caller_uid or channel.state == 6):
            call.last_hangup_request = "agent" if (not channel.local and self.is_agent(channel.endpoint)) else "caller"

    def _hangup(self, m: Message, at: float) -> None:
        channel = self.channels.pop(m.get("Uniqueid") or "", None)
        if channel is None:
            return
        cause = _int(m.get("Cause"))
        offer = self.offers.pop(channel.uniqueid, None)
        if offer is not None:
            if cause in REJECT_CAUSES and offer.result != "answered":
                offer.result = "rejected"
            if offer.ended_at is None:
                self._offer_stopped(offer, at, "no_answer" if cause == 19 else "cancelled")
            self.report_offer(offer, at)
        call = self.calls.get(channel.linkedid)
        if call is None:
            return
        call.channels.discard(channel.uniqueid)
        if channel.uniqueid == call.caller_uid:
            call.caller_ended_at, call.hangup_cause = at, cause
            # the caller left a ringing queue: every offer still ringing was cancelled by that
            for open_offer in call.offers:
                if open_offer.ended_at is None:
                    self._offer_stopped(open_offer, at, "cancelled")
        if not call.channels:
            self.end_call(call, at, complete=True)

    def _chanspystart(self, m: Message, at: float) -> None:
        # A supervisor listening in is not a customer call: keep it out of the call statistics.
        call = self.calls.get(m.get("SpyerLinkedid") or "")
        if call is not None and call.direction == "outbound":
            call.direction = "supervision"

    def _originateresponse(self, m: Message, at: float) -> None:
        uid = m.get("Uniqueid")
        call = self.calls.get(self.channels[uid].linkedid) if uid in self.channels else None
        if call is None:
            if m.get("Response") == "Failure" and uid in (None, "", "<unknown>"):
                call = self._pending_originate(m.get("Channel") or "")
            if call is None:
                log.info("Originate %s made no call (Reason %s)", m.get("ActionID"), m.get("Reason"))
                return
        exten = m.get("Exten")
        if call.direction == "outbound" and exten and exten != "s" and call.caller is None:
            call.caller = exten

    def _pending_originate(self, interface: str) -> Call | None:
        """The outbound call still ringing the agent named by a failed Originate's dial string."""
        endpoint, _ = endpoint_of(interface)
        for call in self.calls.values():
            first = self.channels.get(call.caller_uid)
            if call.direction == "outbound" and not call.answered and first and first.endpoint == endpoint:
                return call
        return None

    def end_call(self, call: Call, at: float, *, complete: bool) -> None:
        for offer in call.offers:
            if offer.ended_at is None:
                self._offer_stopped(offer, at, "cancelled")
            self.offers.pop(offer.id, None)
            self.report_offer(offer, at)
        for uid in call.channels:
            self.channels.pop(uid, None)
        for queue in self.queues.values():
            queue.entries.pop(call.linkedid, None)
        call.ended_at = at
        del self.calls[call.linkedid]
        self.emit(ev.CallEnded(self.pbx, at, call=summarise(call, self.policy, complete=complete)))

    def emit(self, event: ev.DomainEvent) -> None:
        self._out.append(event)
