"""Rebuilding the live state from a snapshot after a (re)connect.

The daemon cannot trust live events until it knows what exists: after each login it asks
``CoreShowChannels`` and ``QueueStatus`` and hands the answers here.  What the snapshot says wins:

* channels not in it are gone; an offer whose leg is gone ended (``cancelled``: its end was not
  seen), and a call with no channel left ends ``incomplete`` with what was known;
* channels it lists that the model did not know are created; a call first seen here gets
  ``entered_at`` from its oldest channel's ``Duration``;
* an agent leg of a call nobody answered is an open offer: ringing (``ChannelState: 5``) from
  ``at - Duration``, or, still ``Down``, from its first ring to come.  ``Duration`` counts whole
  seconds from the channel's creation, rounded down, so the estimate is never earlier than the
  creation; a phone's 180 Ringing follows that by milliseconds on a LAN.  Offers the model already
  followed keep the ring start it saw;
* queue members and their pause state come from ``QueueMember``; a caller in ``Queue()`` whom no
  agent leg is talking to waits (``QueueEntry`` gives its ``Wait`` and position); one an agent
  talks to is still in ``Queue()`` by its application, but waits no longer.  A waiting caller the
  model did not know is announced with ``CallOffered``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.ami.protocol import Message

from . import events as ev
from .state import DEVICE_STATUS, Call, Channel, QueueEntry, caller_id, endpoint_of

if TYPE_CHECKING:
    from .model import LiveModel


def _seconds(duration: str | None) -> int:
    """``HH:MM:SS`` → seconds (CoreShowChannel ``Duration``)."""
    try:
        hours, minutes, seconds = (int(p) for p in (duration or "").split(":"))
    except ValueError:
        return 0
    return hours * 3600 + minutes * 60 + seconds


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def apply_snapshot(model: "LiveModel", channels: list[Message], queue_status: list[Message], at: float) -> None:
    _apply_queue_status(model, queue_status, at)
    listed = {m.get("Uniqueid"): m for m in channels if m.event == "CoreShowChannel" and m.get("Uniqueid")}
    _drop_vanished(model, set(listed), at)
    for uid, m in listed.items():
        _upsert_channel(model, uid, m, at)
    entries = {m.get("Uniqueid"): m for m in queue_status if m.event == "QueueEntry"}
    queue_of: dict[str, str] = {}  #: linkedid -> the queue its caller is in (waiting or talking)
    for uid, m in listed.items():
        call = model.calls[model.channels[uid].linkedid]
        if uid == call.caller_uid and m.get("Application") == "Queue":
            queue_of[call.linkedid] = (m.get("ApplicationData") or "").split(",")[0]
    for uid in listed:
        _restore_leg(model, model.channels[uid], queue_of, at)
    for linkedid, queue in queue_of.items():
        call = model.calls[linkedid]
        if queue and call.answered_at is None:
            _rejoin_queue(model, call, queue, entries.get(call.caller_uid), at)
    model.announce_rings(at)
    ringing = sum(1 for offer in model.offers.values() if offer.ringing)
    model.emit(ev.Resynced(model.pbx, at, channels=len(model.channels), calls=len(model.calls), ringing_offers=ringing))


def _apply_queue_status(model: "LiveModel", queue_status: list[Message], at: float) -> None:
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
            model.set_paused(member, m.get("Paused") == "1", m.get("PausedReason") or "", at, explicit=True)
            listed.setdefault(queue, set()).add(interface)
    for queue, interfaces in listed.items():
        members = model.queues[queue].members
        for interface in [i for i in members if i not in interfaces]:
            del members[interface]


def _drop_vanished(model: "LiveModel", listed: set[str], at: float) -> None:
    for uid in [u for u in model.channels if u not in listed]:
        channel = model.channels.pop(uid)
        offer = model.offers.pop(uid, None)
        if offer is not None:
            if offer.ended_at is None:
                offer.ended_at, offer.result = at, "cancelled"
            model.report_offer(offer, at)
        call = model.calls.get(channel.linkedid)
        if call is not None:
            call.channels.discard(uid)
    for call in [c for c in model.calls.values() if not c.channels]:
        model.end_call(call, at, complete=False)


def _upsert_channel(model: "LiveModel", uid: str, m: Message, at: float) -> None:
    state = _int(m.get("ChannelState"))
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
        elif state == 6:
            channel.up_at = at  # when it was answered is not in the snapshot; "now" at the latest
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


def _rejoin_queue(model: "LiveModel", call: Call, queue: str, entry: Message | None, at: float) -> None:
    """A caller still waiting in ``queue``; announced if the model did not know it waits there."""
    new = call.current_queue != queue
    wait = _int(entry.get("Wait")) if entry is not None else round(at - call.entered_at)
    if new:
        if not call.queues or call.queues[-1] != queue:
            call.queues.append(queue)
        call.current_queue = queue
        call.queue_joined_at = at - wait
    elif call.queue_joined_at is None:
        call.queue_joined_at = at - wait
    position = (_int(entry.get("Position")) if entry is not None else 0) or len(model.queue(queue).entries) + 1
    model.queue(queue).entries[call.linkedid] = QueueEntry(call.linkedid, position, call.queue_joined_at)
    if new:
        model.emit(ev.CallOffered(model.pbx, at, linkedid=call.linkedid, queue=queue, caller=call.caller,
                                  caller_name=call.caller_name, position=position, entered_at=call.entered_at))


def _restore_leg(model: "LiveModel", channel: Channel, queue_of: dict[str, str], at: float) -> None:
    """Mark a call answered when an agent leg talks; re-open the offer of an agent leg that rings
    or is about to (``Down``: created, its phone not yet ringing)."""
    call = model.calls[channel.linkedid]
    if channel.uniqueid == call.caller_uid or channel.local or not model.is_agent(channel.endpoint):
        return
    queue = call.current_queue or queue_of.get(call.linkedid)
    if channel.state == 6 and call.answered_at is None:
        if queue and (not call.queues or call.queues[-1] != queue):
            call.queues.append(queue)
        call.answered_at, call.answered_by = channel.up_at, channel.endpoint
        call.talking_with = channel.endpoint
        call.answered_queue, call.answer_channel = queue, channel.name
        call.current_queue = None
        if queue:
            model.queue(queue).entries.pop(call.linkedid, None)
        return
    if channel.state not in (0, 5) or call.answered_at is not None or channel.uniqueid in model.offers:
        return
    interface = next((i for i, member in model.queue(queue).members.items() if member.agent == channel.endpoint),
                     None) if queue else None
    caller = model.channels.get(call.caller_uid)
    offer = model.open_offer(call, channel, interface=interface or f"{channel.name.partition('/')[0]}/{channel.endpoint}",
                             queue=queue, at=channel.created_at, caller_channel=caller.name if caller else None)
    if channel.state == 5:
        model.offer_ringing(offer, channel.ringing_at if channel.ringing_at is not None else channel.created_at)
