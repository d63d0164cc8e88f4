"""Rebuilding the live state from a snapshot after a (re)connect.

The daemon cannot trust live events until it knows what exists: after each login it asks
``CoreShowChannels`` and ``QueueStatus`` and hands the answers here.  What the snapshot says wins,
and what nobody saw stays unknown (CONTRACTS.md, "Across a gap"):

* channels not in it are gone; they ended in the gap, at ``since`` (the last moment the daemon heard
  from Asterisk) at the latest known.  An offer whose leg is gone ended unseen (``unknown``, never a
  miss); a call with no channel left ends ``ended_unseen`` at ``since``: ``answered`` by its agent if
  the answer was seen, else ``incomplete``; no time is stretched to the resync;
* a ringing offer whose leg is listed ``Up`` was answered in the gap: ``answered`` and ended unseen;
  its call is answered by that agent, when is unknown (no wait, rings or apology);
* channels it lists that the model did not know are created; a call first seen here gets
  ``entered_at`` from its oldest channel's ``Duration``; a caller first seen talking to an agent was
  answered unseen, as above;
* an agent leg of a call nobody answered is an open offer: ringing (``ChannelState: 5``) from
  ``at - Duration``, or, still ``Down``, from its first ring to come.  ``Duration`` counts whole
  seconds from the channel's creation, rounded down, so the estimate is never earlier than the
  creation; a phone's 180 Ringing follows that by milliseconds on a LAN.  Offers the model already
  followed keep the ring start it saw (a leg that still rings rang all along);
* queue members and their pause state come from ``QueueMember``; a caller in ``Queue()`` whom no
  agent leg is talking to waits (``QueueEntry`` gives its ``Wait`` and position); one an agent
  talks to is still in ``Queue()`` by its application, but waits no longer.  A waiting caller the
  model did not know is announced with ``CallOffered``.
"""
from __future__ import annotations

from typing import Protocol

from telephony.ami.protocol import Message

from . import events as ev
from .state import DEVICE_STATUS, Call, Channel, Member, Offer, Queue, QueueEntry, as_int, caller_id, endpoint_of


class Rebuildable(Protocol):
    """What a resync needs of the live model (:class:`telephony.live.model.LiveModel` provides it)."""

    pbx: str
    channels: dict[str, Channel]
    calls: dict[str, Call]
    offers: dict[str, Offer]
    queues: dict[str, Queue]

    def is_agent(self, endpoint: str) -> bool: ...
    def queue(self, name: str) -> Queue: ...
    def member(self, queue: str, interface: str, name: str | None = None) -> Member: ...
    def set_paused(self, member: Member, paused: bool, reason: str, at: float, *, seen: str) -> None: ...
    def open_offer(self, call: Call, leg: Channel, *, interface: str, queue: str | None, at: float,
                   caller_channel: str | None, agent: str | None = None) -> Offer: ...
    def offer_ringing(self, offer: Offer, first_ring_at: float) -> None: ...
    def end_offer_unseen(self, offer: Offer, last_seen_at: float, result: str) -> None: ...
    def report_offer(self, offer: Offer, at: float) -> None: ...
    def answered_unseen(self, call: Call, leg: Channel, queue: str | None, at: float) -> None: ...
    def end_call(self, call: Call, at: float, *, complete: bool) -> None: ...
    def emit(self, event: ev.DomainEvent) -> None: ...


def _seconds(duration: str | None) -> int:
    """``HH:MM:SS`` → seconds (CoreShowChannel ``Duration``)."""
    try:
        hours, minutes, seconds = (int(p) for p in (duration or "").split(":"))
    except ValueError:
        return 0
    return hours * 3600 + minutes * 60 + seconds


def apply_snapshot(model: Rebuildable, channels: list[Message], queue_status: list[Message], at: float, *,
                   since: float | None, first: bool) -> None:
    """``since``: the last moment the PBX was heard before the snapshot (None: never).  ``first``:
    the model had never heard from it, so pause states found now are its starting picture."""
    _apply_queue_status(model, queue_status, at, first=first)
    listed = {m.get("Uniqueid"): m for m in channels if m.event == "CoreShowChannel" and m.get("Uniqueid")}
    _drop_vanished(model, set(listed), at if since is None else since)
    for uid, m in listed.items():
        _upsert_channel(model, uid, m, at)
    entries = {m.get("Uniqueid"): m for m in queue_status if m.event == "QueueEntry"}
    queue_of: dict[str, str] = {}  #: linkedid -> the queue its caller is in (waiting or talking)
    for uid, m in listed.items():
        call = model.calls[model.channels[uid].linkedid]
        if uid == call.caller_uid and m.get("Application") == "Queue":
            queue_of[call.linkedid] = (m.get("ApplicationData") or "").split(",")[0]
    for uid in listed:
        _restore_leg(model, model.channels[uid], queue_of, at, since)
    for linkedid, queue in queue_of.items():
        call = model.calls[linkedid]
        if queue and not call.answered:
            _rejoin_queue(model, call, queue, entries.get(call.caller_uid), at)


def _apply_queue_status(model: Rebuildable, queue_status: list[Message], at: float, *, first: bool) -> None:
    listed: dict[str, set[str]] = {}
    for m in queue_status:
        queue = m.get("Queue")
        if not queue:
            continue
        if m.event == "QueueParams":
            model.queue(queue)
            listed.setdefault(queue, set())
        elif m.event == "QueueMember":
            interface = m.get("Location") or m.get("StateInterface") or ""
            if not interface:
                continue
            member = model.member(queue, interface, m.get("Name"))
            member.status = DEVICE_STATUS.get(m.get("Status") or "", "unknown")
            member.in_call = m.get("InCall") == "1"
            paused, reason = m.get("Paused") == "1", m.get("PausedReason") or ""
            if first:
                # how things stood when the daemon started: a state, not something that happened now
                member.paused, member.reason = paused, reason if paused else ""
            else:
                model.set_paused(member, paused, reason, at, seen="resync")
            listed.setdefault(queue, set()).add(interface)
    for queue, interfaces in listed.items():
        members = model.queues[queue].members
        for interface in [i for i in members if i not in interfaces]:
            del members[interface]


def _drop_vanished(model: Rebuildable, listed: set[str], last_seen: float) -> None:
    for uid in [u for u in model.channels if u not in listed]:
        channel = model.channels.pop(uid)
        offer = model.offers.pop(uid, None)
        if offer is not None:
            model.end_offer_unseen(offer, max(last_seen, offer.started_at), "unknown")
            model.report_offer(offer, last_seen)
        call = model.calls.get(channel.linkedid)
        if call is not None:
            call.channels.discard(uid)
            if uid == call.caller_uid and call.caller_ended_at is None:
                call.caller_ended_at, call.ended_unseen = max(last_seen, call.entered_at), True
    for call in [c for c in model.calls.values() if not c.channels]:
        for offer in call.offers:
            model.end_offer_unseen(offer, max(last_seen, offer.started_at), "unknown")
        call.ended_unseen = True
        model.end_call(call, max(last_seen, call.entered_at), complete=True)


def _upsert_channel(model: Rebuildable, uid: str, m: Message, at: float) -> None:
    state = as_int(m.get("ChannelState"))
    channel = model.channels.get(uid)
    if channel is None:
        name = m.get("Channel") or ""
        endpoint, local = endpoint_of(name)
        created = at - _seconds(m.get("Duration"))
        channel = model.channels[uid] = Channel(
            uniqueid=uid, linkedid=m.get("Linkedid") or uid, name=name, endpoint=endpoint, local=local,
            state=state, caller_num=caller_id(m.get("CallerIDNum")), caller_name=caller_id(m.get("CallerIDName")),
            created_at=created)
        if state == 5:
            channel.ringing_at = created
        # Up: when it was answered is not in the snapshot, so up_at stays unknown
    channel.state = state
    channel.bridge = m.get("BridgeId") or None
    call = model.calls.get(channel.linkedid)
    if call is None:
        call = model.calls[channel.linkedid] = Call(model.pbx, channel.linkedid, entered_at=channel.created_at,
                                                    caller_uid=channel.linkedid)
    call.channels.add(uid)
    call.entered_at = min(call.entered_at, channel.created_at)
    if uid == call.caller_uid:
        if not channel.local and model.is_agent(channel.endpoint):
            call.direction = "outbound"
        elif call.caller is None:
            call.caller, call.caller_name = channel.caller_num, channel.caller_name


def _rejoin_queue(model: Rebuildable, call: Call, queue: str, entry: Message | None, at: float) -> None:
    """A caller still waiting in ``queue``; announced if the model did not know it waits there."""
    new = call.current_queue != queue
    wait = as_int(entry.get("Wait")) if entry is not None else round(at - call.entered_at)
    if new:
        if not call.queues or call.queues[-1] != queue:
            call.queues.append(queue)
        call.current_queue = queue
        call.queue_joined_at = at - wait
    elif call.queue_joined_at is None:
        call.queue_joined_at = at - wait
    position = (as_int(entry.get("Position")) if entry is not None else 0) or len(model.queue(queue).entries) + 1
    model.queue(queue).entries[call.linkedid] = QueueEntry(call.linkedid, position, call.queue_joined_at)
    if new:
        model.emit(ev.CallOffered(model.pbx, at, linkedid=call.linkedid, queue=queue, caller=call.caller,
                                  caller_name=call.caller_name, position=position, entered_at=call.entered_at))


def _restore_leg(model: Rebuildable, channel: Channel, queue_of: dict[str, str], at: float,
                 since: float | None) -> None:
    """Mark a call answered when an agent leg talks; re-open the offer of an agent leg that rings
    or is about to (``Down``: created, its phone not yet ringing)."""
    call = model.calls[channel.linkedid]
    if channel.uniqueid == call.caller_uid or channel.local or not model.is_agent(channel.endpoint):
        return
    queue = call.current_queue or queue_of.get(call.linkedid)
    offer = model.offers.get(channel.uniqueid)
    if channel.state == 6 and offer is not None and offer.ended_at is None:
        # it rang before the gap and talks now: answered while the daemon could not see it
        model.end_offer_unseen(offer, since if since is not None else at, "answered")
        model.report_offer(offer, at)
    if channel.state == 6 and not call.answered:
        queue = queue or (offer.queue if offer is not None else None)
        if queue and (not call.queues or call.queues[-1] != queue):
            call.queues.append(queue)
        call.current_queue = None
        if queue:
            model.queue(queue).entries.pop(call.linkedid, None)
        model.answered_unseen(call, channel, queue, at)
        return
    if offer is not None and channel.state == 5 and offer.ended_at is None and offer.ring_started_at is None:
        # it began to ring while nobody heard: from now, the first moment it is known to ring
        model.offer_ringing(offer, at)
        return
    if channel.state not in (0, 5) or call.answered or offer is not None:
        return
    interface = next((i for i, member in model.queue(queue).members.items() if member.agent == channel.endpoint),
                     None) if queue else None
    caller = model.channels.get(call.caller_uid)
    offer = model.open_offer(call, channel, interface=interface or f"{channel.name.partition('/')[0]}/{channel.endpoint}",
                             queue=queue, at=channel.created_at, caller_channel=caller.name if caller else None)
    if channel.state == 5:
        model.offer_ringing(offer, channel.ringing_at if channel.ringing_at is not None else channel.created_at)
