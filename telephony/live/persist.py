"""The live state kept across a restart of the daemon: a gap like any other (CONTRACTS.md, "Across a gap").

A daemon that stops forgets the calls under way, and the next one, starting from a snapshot, would
never store a call that ended in between.  So at stop the shell writes what the model knows (calls,
channels, offers, queue members, the last moment it heard from Asterisk) with :func:`dump`, and at
the next start the model takes it back with :func:`load`, before its first snapshot.  The resync
then judges the restart as it judges a lost link: what vanished ended unseen at the last moment
heard; a call still talking keeps the answer and the wait that were seen; a phone still ringing
keeps its ring start, and so its deadline.

Plain JSON-ready data, versioned; a state from another PBX or another version is refused (the
resync then starts from nothing, as before).  Pure: no files here (see ``LiveService``).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .state import Call, Channel, Offer

if TYPE_CHECKING:
    from .model import LiveModel

__all__ = ["StateRefused", "VERSION", "dump", "load"]

VERSION = 1


class StateRefused(ValueError):
    """The saved state is not for this PBX or this version; nothing was taken."""


def _plain(record: Any, **replace: Any) -> dict[str, Any]:
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    data.update(replace)
    return data


def dump(model: "LiveModel") -> dict[str, Any]:
    """What the model knows now, JSON-ready."""
    return {
        "v": VERSION,
        "pbx": model.pbx,
        "last_heard_at": model.gap_since if model.gap_since is not None else model.last_heard_at,
        "channels": [_plain(c) for c in model.channels.values()],
        "calls": [_plain(c, channels=sorted(c.channels), offers=[_plain(o) for o in c.offers]) for c in model.calls.values()],
        "open_offers": sorted(model.offers),
        # queue entries are not kept: the resync finds who still waits (QueueStatus)
        "queues": [{"name": q.name, "members": [_plain(m) for m in q.members.values()]} for q in model.queues.values()],
    }


def load(model: "LiveModel", data: dict[str, Any]) -> int:
    """Take back a state written by :func:`dump` into a model that has heard nothing yet; the
    time since its ``last_heard_at`` is a gap.  Returns the number of calls taken back.

    Raises :class:`StateRefused` for another PBX or version, and ValueError for a model that
    already knows something."""
    if data.get("v") != VERSION:
        raise StateRefused(f"saved live state version {data.get('v')!r} is not {VERSION}")
    if data.get("pbx") != model.pbx:
        raise StateRefused(f"saved live state is for PBX {data.get('pbx')!r}, not {model.pbx!r}")
    if model.last_heard_at is not None or model.calls:
        raise ValueError("the live state is taken back only into a model that has heard nothing yet")
    model.channels = {c["uniqueid"]: Channel(**c) for c in data["channels"]}
    offers: dict[str, Offer] = {}
    for saved in data["calls"]:
        call_offers = [Offer(**o) for o in saved["offers"]]
        offers.update((o.id, o) for o in call_offers)
        call = Call(**{**saved, "channels": set(saved["channels"]), "offers": call_offers})
        # Waiting callers are announced again by the resync, so the guard times their wait anew.
        call.current_queue = None
        model.calls[call.linkedid] = call
    model.offers = {i: offers[i] for i in data["open_offers"] if i in offers}
    for saved in data["queues"]:
        for fields in saved["members"]:
            member = model.member(saved["name"], fields["interface"])
            for name, value in fields.items():
                setattr(member, name, value)
    for offer in model.offers.values():
        if offer.ringing:
            model.ring_again(offer)  # a fresh guard hears of every phone still ringing
    model.last_heard_at = data["last_heard_at"]
    model.gap_since = data["last_heard_at"]
    return len(model.calls)
