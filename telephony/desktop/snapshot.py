"""What the board shows, as JSON-ready data: the live board with each agent's state, finished calls
as rows, and the masking every copy of it goes through before it leaves the daemon.

Masking is one function over the data (:func:`masked`) so the HTML, ``/api/board`` and the SSE
stream cannot disagree: every ``caller`` and ``to`` number, every ``transferred_to`` entry, and a
``caller_name`` that is really a number (Asterisk often sends the number as the name) become
``138****8000``.  Extensions (6 characters or fewer) stay readable.
"""
from __future__ import annotations

import re
from collections import deque
from datetime import datetime
from typing import Any, Iterable

from telephony.live.model import LiveModel
from telephony.live.view import board
from telephony.privacy import mask_number

__all__ = ["FinishedCalls", "agent_states", "finished_row", "masked", "snapshot"]

_NUMBER_KEYS = frozenset({"caller", "to"})
_NUMBER_LIST_KEYS = frozenset({"transferred_to"})
_NAME_KEYS = frozenset({"caller_name"})
_LOOKS_LIKE_NUMBER = re.compile(r"\+?[\d\s()\-.]{7,}")


def masked(data: Any) -> Any:
    """A copy of JSON-ready ``data`` with every phone number in it masked (see the module doc)."""
    if isinstance(data, dict):
        return {key: _masked_value(key, value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [masked(v) for v in data]
    return data


def _masked_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if key in _NUMBER_KEYS:
            return mask_number(value)
        if key in _NAME_KEYS and _LOOKS_LIKE_NUMBER.fullmatch(value):
            return mask_number(value)
        return value
    if key in _NUMBER_LIST_KEYS and isinstance(value, (list, tuple)):
        return [mask_number(v) if isinstance(v, str) else v for v in value]
    return masked(value)


def snapshot(model: LiveModel, now: float, *, mask_numbers: bool) -> dict[str, Any]:
    """The live board at ``now`` (:func:`telephony.live.view.board`) plus ``agents``, masked if asked."""
    data = board(model, now)
    if mask_numbers:
        data = masked(data)
    data["agents"] = agent_states(data)
    return data


# Device states (QueueMemberStatus) that mean the phone is in a call even when the model holds no
# call for it (an internal call, a call that began before we connected).
_IN_CALL = frozenset({"in_use", "busy", "on_hold"})
_OFFLINE = frozenset({"unavailable", "invalid"})


def agent_states(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per agent (extension) across all queues, from a board's ``queues`` and ``calls``.

    ``state`` is the most urgent of: ``ringing`` (with ``ring``, the highest ring number if two calls
    ring him), ``talking``, ``offline`` (not registered), ``paused``, ``ready``, ``unknown``.  A
    paused agent who is talking stays ``talking`` with ``paused`` true: the pause matters once the
    call ends.  ``paused_in`` lists the queues he is paused in (app_queue's auto-pause pauses one);
    ``paused_since`` is when the earliest of those pauses began (None when nobody saw it begin).
    """
    ringing: dict[str, tuple[int, str]] = {}
    talking: dict[str, tuple[str, float]] = {}
    for call in data["calls"]:
        for offer in call["ringing"]:
            ring = max(offer["ring"], ringing.get(offer["agent"], (0, ""))[0])
            ringing[offer["agent"]] = (ring, call["linkedid"])
        if call["state"] == "talking" and call["agent"]:
            talking[call["agent"]] = (call["linkedid"], call["since"])
    agents: dict[str, dict[str, Any]] = {}
    for queue in data["queues"]:
        for member in queue["members"]:
            row = agents.setdefault(member["agent"], {
                "agent": member["agent"], "name": member["name"], "queues": [], "statuses": set(),
                "paused_in": [], "reason": "", "paused_since": None,
            })
            row["queues"].append(queue["name"])
            row["statuses"].add(member["status"])
            if member["paused"]:
                row["paused_in"].append(queue["name"])
                row["reason"] = row["reason"] or member["reason"]
                since = member.get("paused_since")
                if since is not None and (row["paused_since"] is None or since < row["paused_since"]):
                    row["paused_since"] = since
    for name in set(ringing) | set(talking):
        agents.setdefault(name, {"agent": name, "name": None, "queues": [], "statuses": set(), "paused_in": [],
                                 "reason": "", "paused_since": None})
    return [_agent_row(row, ringing.get(name), talking.get(name)) for name, row in sorted(agents.items())]


def _agent_row(row: dict[str, Any], ringing: tuple[int, str] | None, talking: tuple[str, float] | None) -> dict[str, Any]:
    statuses: set[str] = row.pop("statuses")
    ring, linkedid, since = None, None, None
    if ringing is not None:
        state, (ring, linkedid) = "ringing", ringing
    elif talking is not None:
        state, (linkedid, since) = "talking", talking
    elif statuses & _IN_CALL:
        state = "talking"
    elif statuses and statuses <= _OFFLINE:
        state = "offline"
    elif row["paused_in"]:
        state = "paused"
    elif "not_in_use" in statuses:
        state = "ready"
    else:
        state = "unknown"
    return {**row, "state": state, "ring": ring, "linkedid": linkedid, "since": since,
            "paused": bool(row["paused_in"])}


# -- finished calls -------------------------------------------------------------------------------

_ROW_FIELDS = ("linkedid", "caller", "caller_name", "direction", "queue", "answered_by", "rings_to_answer",
               "wait_s", "talk_s", "outcome")


def finished_row(call: Any) -> dict[str, Any]:
    """A finished call as the "last calls" table shows it, from a ``CallSummary`` (epoch seconds) or a
    stored call (aware datetimes): ``entered_at``/``ended_at`` always epoch seconds.  Unmasked."""
    row = {name: getattr(call, name) for name in _ROW_FIELDS}
    for name in ("entered_at", "ended_at"):
        value = getattr(call, name)
        row[name] = value.timestamp() if isinstance(value, datetime) else value
    return row


class FinishedCalls:
    """The last ``limit`` calls that ended since start, kept for the page.

    Bounded: the call that ended longest ago falls off.  Rows are shown newest call first (by the
    time the call came in, as the store orders them and as the table's time column shows), so a
    long call that just ended takes its place among the others, not the top.  :meth:`merged` joins
    them with rows read from the store (a call in both is shown once, from this list, which saw its
    final state).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._rows: deque[dict[str, Any]] = deque(maxlen=limit)

    def add(self, row: dict[str, Any]) -> None:
        """Keep ``row``; an earlier row of the same call (a corrected summary) is replaced."""
        for old in [r for r in self._rows if r["linkedid"] == row["linkedid"]]:
            self._rows.remove(old)
        self._rows.append(row)

    def rows(self) -> list[dict[str, Any]]:
        return self.merged(())

    def merged(self, stored: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = {row["linkedid"] for row in self._rows}
        rows = list(self._rows) + [row for row in stored if row["linkedid"] not in seen]
        rows.sort(key=lambda row: (row["entered_at"], row["linkedid"]), reverse=True)
        return rows[:self.limit]
