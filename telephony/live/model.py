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
* Offers and their rings are :mod:`telephony.live.offers`; queue members and their pauses are
  :mod:`telephony.live.members`.  An offer's result is settled by its leg's ``Hangup`` (a phone that
  declines shows Cause 17/21 only there or in the ``HangupRequest`` before it), so
  :class:`OfferEnded` is emitted then.
* Agents are named by extension.  An endpoint is an agent if it is a known queue member, one of
  ``agent_endpoints``, or (when neither says) a short all-digit name: trunks are named, extensions
  are numbers.  ``Local/`` channels are plumbing, never offers or agents.
* A ``Redirect`` of an answered caller leaves no transfer event: the caller's channel simply dials
  another agent, which is how it is recognised.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

from telephony.ami.protocol import Message
from telephony.config import RingPolicy

from . import events as ev
from .members import MemberRules
from .offers import OfferRules
from .resync import apply_snapshot
from .summary import summarise
from .state import REJECT_CAUSES, Call, Channel, Offer, PolicyLookup, Queue, QueueEntry, as_int, caller_id, endpoint_of

__all__ = ["DEFAULT_POLICY", "LiveModel", "PolicyLookup"]

log = logging.getLogger(__name__)

DEFAULT_POLICY = RingPolicy()


class LiveModel(MemberRules, OfferRules):
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
            state=as_int(m.get("ChannelState")), caller_num=caller_id(m.get("CallerIDNum")),
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
        channel.state = as_int(m.get("ChannelState"))
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

    # -- queues ---------------------------------------------------------------------------------

    def _queuecallerjoin(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("Linkedid") or "")
        name = m.get("Queue")
        if call is None or not name:
            return
        position = as_int(m.get("Position"), 1)
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

    # -- transfers ------------------------------------------------------------------------------

    def transfer(self, call: Call, to: str, how: str, at: float) -> None:
        if call.transferred_to and call.transferred_to[-1] == to:
            return  # a blind transfer announces itself, then dials: one transfer, not two
        call.transferred_to.append(to)
        self.emit(ev.CallTransferred(self.pbx, at, linkedid=call.linkedid, to=to, how=how))

    def _blindtransfer(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("TransfereeLinkedid") or "")
        exten = m.get("Extension")
        if call is not None and exten and m.get("Result") == "Success":
            call.talking_with = None  # until the new agent answers
            self.transfer(call, exten, "blind", at)

    def _attendedtransfer(self, m: Message, at: float) -> None:
        call = self.calls.get(m.get("TransfereeLinkedid") or m.get("OrigTransfererLinkedid") or "")
        target = m.get("TransferTargetChannel")
        if call is None or not target or m.get("Result") != "Success":
            return
        endpoint, _ = endpoint_of(target)
        if self.is_agent(endpoint):
            call.talking_with = endpoint
            self.transfer(call, endpoint, "attended", at)

    # -- hang-ups -------------------------------------------------------------------------------

    def _hanguprequest(self, m: Message, at: float) -> None:
        channel = self.channels.get(m.get("Uniqueid") or "")
        if channel is None:
            return
        channel.hangup_requested = True
        cause = m.get("Cause")
        if cause is not None:
            channel.request_cause = as_int(cause)
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
        cause = as_int(m.get("Cause"))
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
