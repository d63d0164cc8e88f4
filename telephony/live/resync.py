"""Rebuilding the live state from a snapshot after a (re)connect.

The daemon cannot trust live events until it knows what exists: after each login it asks
``CoreShowChannels`` and ``QueueStatus`` and hands the answers here.  What the snapshot says wins:

* channels not in it are gone; an offer whose leg is gone ended (``cancelled``: its end was not
  seen), and a call with no channel left ends ``incomplete`` with what was known;
* channels it lists that the model did not know are created; a call first seen here gets
  ``entered_at`` from its oldest channel's ``Duration``;
* a ringing agent leg (``ChannelState: 5``) of a call nobody answered is an open offer.  Its ring
  start is ``at - Duration``; ``Duration`` is whole seconds rounded down, so this is never earlier
  than the truth and a deadline computed from it never fires early.  Offers the model already
  followed keep the ring start it saw;
* queue members and their pause state come from ``QueueMember``; callers waiting from ``QueueEntry``
  (``Wait`` seconds).
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
    for uid, m in listed.items():
        channel = model.channels[uid]
        call = model.calls[channel.linkedid]
        if uid == call.caller_uid and m.get("Application") == "Queue":
            _rejoin_queue(model, call, (m.get("ApplicationData") or "").split(",")[0], entries.get(uid), at)
    for uid, m in listed.items():
        _restore_leg(model, model.channels[uid], m, at)
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
    if not queue or call.answered_at is not None:
        return
    if call.current_queue != queue:
        call.queues.append(queue)
        call.current_queue = queue
    wait = _int(entry.get("Wait")) if entry is not None else 0
    if call.queue_joined_at is None:
        call.queue_joined_at = at - wait
    position = _int(entry.get("Position")) if entry is not None else len(model.queue(queue).entries) + 1
    model.queue(queue).entries[call.linkedid] = QueueEntry(call.linkedid, position or 1, call.queue_joined_at)


def _restore_leg(model: "LiveModel", channel: Channel, m: Message, at: float) -> None:
    """Re-open the offer of a ringing agent leg; mark a call answered when an agent leg talks."""
    call = model.calls[channel.linkedid]
    if channel.uniqueid == call.caller_uid or channel.local or not model.is_agent(channel.endpoint):
        return
    if channel.state == 6 and call.answered_at is None:
        call.answered_at, call.answered_by = channel.up_at, channel.endpoint
        call.talking_with = channel.endpoint
        call.answered_queue, call.answer_channel = call.current_queue, channel.name
        call.current_queue = None
        return
    if channel.state != 5 or call.answered_at is not None or channel.uniqueid in model.offers:
        return
    queue = call.current_queue
    interface = next((i for i, member in model.queue(queue).members.items() if member.agent == channel.endpoint),
                     None) if queue else None
    caller = model.channels.get(call.caller_uid)
    offer = model.open_offer(call, channel, interface=interface or f"{channel.name.partition('/')[0]}/{channel.endpoint}",
                             queue=queue, at=channel.created_at, caller_channel=caller.name if caller else None)
    model.offer_ringing(offer, channel.ringing_at if channel.ringing_at is not None else channel.created_at)
