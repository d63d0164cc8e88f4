"""Offers and their rings, as the live model keeps them (CONTRACTS.md, "Rings").

An offer is a queue's ``AgentCalled``, or a ``DialBegin`` that rings an agent outside a queue (from
the caller's channel, or from an Originate).  Its ring starts at the first ``Newstate``
``ChannelState: 5``, ``DialState RINGING`` or ``AgentCalled DestChannelState: 5`` — these come in
either order.  It ends at the first of: answer, ``AgentRingNoAnswer``, a non-answer ``DialEnd``, a
``HangupRequest``/``Hangup`` of its leg; its result is settled by the leg's ``Hangup``.  Asterisk
says once that a phone rings, so ring 2, 3… are announced from time (:meth:`announce_rings`), never
inside a gap of the AMI link.  Pure.

:class:`OfferRules` is a part of :class:`telephony.live.model.LiveModel`, written apart because it
needs only the attributes declared on it, which the model provides, and the model's ``is_agent``,
``member`` and ``transfer``.
"""
from __future__ import annotations

import heapq
from typing import Callable

from telephony.ami.protocol import Message

from . import events as ev
from .ringcount import count_rings, ring_counted_at
from .state import Call, Channel, Member, Offer, PolicyLookup, caller_id, endpoint_of

__all__ = ["OfferRules"]

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


class OfferRules:
    pbx: str
    policy: PolicyLookup
    channels: dict[str, Channel]
    calls: dict[str, Call]
    offers: dict[str, Offer]  #: open and just-ended offers, by member-leg Uniqueid
    gap_since: float | None  #: set while the AMI link is down
    _ring_due: list[tuple[float, str, int]]  #: heap of (ring counts from, offer id, ring)
    emit: Callable[[ev.DomainEvent], None]
    is_agent: Callable[[str], bool]
    member: Callable[..., Member]
    transfer: Callable[[Call, str, str, float], None]

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

    def _leg_ringing(self, channel: Channel, at: float) -> None:
        if channel.ringing_at is None:
            channel.ringing_at = at
        offer = self.offers.get(channel.uniqueid)
        if offer is not None:
            self.offer_ringing(offer, channel.ringing_at)

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
            self.transfer(call, offer.agent, "redirect", at)
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
        # An offer that began while we were not looking is opened now: the answer still happened,
        # but how long the phone rang is unknown (its figures are lower bounds, kept out of reports).
        known = (m.get("DestUniqueid") or "") in self.offers
        offer = self._queue_offer(m, at)
        if offer is not None:
            if not known and offer.ring_started_at is None:
                offer.ended_unseen = True
            self._offer_answered(offer, at)

    def _agentringnoanswer(self, m: Message, at: float) -> None:
        offer = self.offers.get(m.get("DestUniqueid") or "")
        if offer is not None:
            self._offer_stopped(offer, at, "no_answer")

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

    def ring_again(self, offer: Offer) -> None:
        """Announce the ring ``offer`` has reached anew at the next :meth:`announce_rings` (a new
        guard taking over a phone that already rings must hear of it)."""
        offer.rings_announced = 0
        heapq.heappush(self._ring_due, (offer.ring_started_at, offer.id, 1))

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
            if offer.ended_unseen and offer.result == "answered":
                # the answer itself reached us after all, among the events held back during a resync
                offer.ended_at, offer.ended_unseen = at, False
                self._answer_seen(offer, at)
            return
        offer.ended_at, offer.result = at, "answered"
        call = self.calls.get(offer.linkedid)
        self.report_offer(offer, at)
        if call is None:
            return
        call.talking_with = offer.agent
        if not call.answered:
            call.answered_by = offer.agent
            call.answered_queue, call.answer_channel = offer.queue, offer.channel
        self._answer_seen(offer, at)

    def _answer_seen(self, offer: Offer, at: float) -> None:
        """``offer`` was answered at ``at``: the call's answer, when it is the leg that answered it
        (not the same agent answering a later offer of a call first seen talking)."""
        call = self.calls.get(offer.linkedid)
        if call is None or call.answered_at is not None or call.answer_channel != offer.channel:
            return
        call.answered_at = at
        call.talking_seen_at = min(call.talking_seen_at or at, at)
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
