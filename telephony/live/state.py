"""The live model's records: channels, calls, offers, queues and their members.

Mutable and private to :mod:`telephony.live`; features see them only through the domain events and
the read-only views the model returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from telephony.config import RingPolicy

UNKNOWN = "<unknown>"

#: the ring rules of a queue (None: a direct dial)
PolicyLookup = Callable[[str | None], RingPolicy]

#: QueueMemberStatus ``Status`` (Asterisk's AST_DEVICE_* values)
DEVICE_STATUS = {
    "0": "unknown",
    "1": "not_in_use",
    "2": "in_use",
    "3": "busy",
    "4": "invalid",
    "5": "unavailable",
    "6": "ringing",
    "7": "ringing",  # ringing while in use
    "8": "on_hold",
}

#: Hangup causes that mean the phone said no (486 Busy → 17, 603 Decline → 21).
REJECT_CAUSES = frozenset({17, 21})


def as_int(value: str | None, default: int = 0) -> int:
    """A header's whole number; ``default`` when it is missing or not a number."""
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def caller_id(value: str | None) -> str | None:
    """Asterisk writes a missing caller ID as the literal ``<unknown>``; empty means missing too."""
    if not value or value == UNKNOWN:
        return None
    return value


def endpoint_of(name: str) -> tuple[str, bool]:
    """The endpoint of a channel or interface name, and whether it is a Local (plumbing) channel.

    ``PJSIP/1001-0000000f`` → ("1001", False); ``PJSIP/1001`` → ("1001", False);
    ``Local/1003@agents-00000001;1`` → ("1003", True); ``Local/1001@agents/n`` → ("1001", True).
    """
    tech, _, rest = name.partition("/")
    if tech.lower() == "local":
        return rest.partition("@")[0], True
    base, sep, suffix = rest.rpartition("-")
    # Asterisk appends "-%08x" to the endpoint to name a channel; an interface has no suffix.
    if sep and len(suffix) == 8 and all(c in "0123456789abcdef" for c in suffix):
        return base, False
    return rest, False


@dataclass(slots=True)
class Channel:
    uniqueid: str
    linkedid: str
    name: str
    endpoint: str
    local: bool
    state: int
    caller_num: str | None
    caller_name: str | None
    created_at: float
    ringing_at: float | None = None
    up_at: float | None = None
    bridge: str | None = None
    hangup_requested: bool = False
    request_cause: int | None = None


@dataclass(slots=True)
class Offer:
    """One attempt to ring one agent's phone for one call; keyed by the member leg's Uniqueid."""

    id: str
    linkedid: str
    agent: str
    interface: str
    queue: str | None
    channel: str
    caller_channel: str | None
    started_at: float
    ring_started_at: float | None = None
    ended_at: float | None = None
    result: str | None = None
    rings_announced: int = 0
    reported: bool = False
    #: its end fell in a gap of the AMI link: ``ended_at`` is the last moment it was known to ring
    #: (a lower bound) and ``result`` is ``unknown``, or ``answered`` when the snapshot showed the leg up
    ended_unseen: bool = False

    @property
    def ringing(self) -> bool:
        return self.ended_at is None and self.ring_started_at is not None

    @property
    def rang_s(self) -> float:
        if self.ring_started_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.ring_started_at)


@dataclass(slots=True)
class Call:
    pbx: str
    linkedid: str
    entered_at: float
    caller_uid: str
    direction: str = "inbound"
    caller: str | None = None
    caller_name: str | None = None
    channels: set[str] = field(default_factory=set)
    queues: list[str] = field(default_factory=list)
    current_queue: str | None = None
    queue_joined_at: float | None = None
    abandoned_queue: bool = False
    offers: list[Offer] = field(default_factory=list)
    answered_by: str | None = None  #: set once an agent answered, also when the answer itself was not seen
    answered_at: float | None = None  #: None while unanswered, and when the answer fell in a gap
    talking_seen_at: float | None = None  #: first moment the call was known to be answered
    answered_queue: str | None = None
    answer_channel: str | None = None
    talking_with: str | None = None  #: the agent who has the caller now (follows transfers)
    transferred_to: list[str] = field(default_factory=list)
    voicemail: bool = False
    caller_ended_at: float | None = None
    hangup_cause: int | None = None
    last_hangup_request: str | None = None  #: endpoint kind of the last HangupRequest that counts
    ended_at: float | None = None
    #: the caller's channel ended in a gap of the AMI link: its end (and so the talk or wait) is a
    #: lower bound, and who hung up is unknown
    ended_unseen: bool = False

    @property
    def answered(self) -> bool:
        return self.answered_by is not None


@dataclass(slots=True)
class Member:
    """A queue member (an agent in one queue)."""

    queue: str
    interface: str
    agent: str
    name: str | None = None
    status: str = "unknown"
    paused: bool = False
    reason: str = ""
    in_call: bool = False
    #: when the pause began; None when not paused, or when its beginning was not seen (found
    #: paused at start or after a gap of the AMI link)
    paused_since: float | None = None


@dataclass(slots=True)
class QueueEntry:
    linkedid: str
    position: int
    joined_at: float


@dataclass(slots=True)
class Queue:
    name: str
    members: dict[str, Member] = field(default_factory=dict)  #: by interface
    entries: dict[str, QueueEntry] = field(default_factory=dict)  #: by linkedid
