"""Domain events: what the live model tells the features (ring guard, screen pop, call log…).

Plain, frozen, versioned records with no live objects inside, so the same event can be logged,
stored, or sent across a process boundary (RabbitMQ) unchanged: ``event.to_dict()`` gives JSON-ready
data with ``type`` and ``v``; :func:`from_dict` rebuilds the event.

Every event carries ``pbx`` (the config name of the Asterisk it came from) and ``at``, the time it
happened on the model's clock (epoch seconds: the arrival time of the AMI message that proved it,
since Asterisk's own timestamps are off on most servers).  Calls are keyed by ``(pbx, linkedid)``.

Agents are named by their extension (``"1001"``), taken from the member interface
(``PJSIP/1001``); ``interface`` is kept for actions.  Phone numbers are unmasked here: masking is
for logs and for pages shown to people who are not signed in.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "AgentMissed",
    "AgentPaused",
    "AgentRinging",
    "AgentStatus",
    "CallAnswered",
    "CallEnded",
    "CallOffered",
    "CallSummary",
    "CallTransferred",
    "CallerLeftQueue",
    "DomainEvent",
    "OfferEnded",
    "OfferSummary",
    "PbxLink",
    "Resynced",
    "RingDeadline",
    "SupervisorAlert",
    "from_dict",
]

@dataclass(frozen=True, slots=True)
class DomainEvent:
    pbx: str
    at: float

    type: ClassVar[str] = "event"
    version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.type, "v": self.version}
        for f in dataclasses.fields(self):
            data[f.name] = _plain(getattr(self, f.name))
        return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_dict(data: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from :meth:`DomainEvent.to_dict` output (e.g. after crossing a bus)."""
    cls = _BY_TYPE[data["type"]]
    if data.get("v") != cls.version:
        raise ValueError(f"{data['type']} version {data.get('v')} is not {cls.version}")
    kwargs = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
    if cls is CallEnded:
        kwargs["call"] = CallSummary.from_dict(kwargs["call"])
    return cls(**kwargs)


# -- the call and its offers, as summarised when it ends ------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferSummary:
    """One attempt to ring one agent's phone for one call (a queue's AgentCalled, or a Dial)."""

    agent: str
    queue: str | None  #: None for a direct dial
    rang_s: float  #: ring start → end of the offer; 0.0 when the phone never rang
    rings: int
    result: str  #: answered | no_answer | rejected | cancelled | failed | unknown (ended in a gap)
    started_at: float  #: when the offer was made (AgentCalled/DialBegin)
    ring_started_at: float | None  #: first sign of ringing; None if it never rang
    ended_at: float
    #: ended while the AMI link was down: ``ended_at``, ``rang_s`` and ``rings`` are lower bounds
    ended_unseen: bool = False


@dataclass(frozen=True, slots=True)
class CallSummary:
    """A finished call, as ``telephony replay`` prints it and the call log stores it.

    Unknown is unknown: a call answered while the daemon could not see it (first seen talking after a
    start or a gap of the AMI link) has ``answered_by`` but no ``answered_at``, ``wait_s``,
    ``rings_to_answer`` or ``apologise`` (None), and its ``talk_s`` is None.  A call whose caller
    ended in a gap has ``ended_unseen``: ``ended_at`` is the last moment it was known alive, so its
    times are lower bounds, and ``hangup_by``/``hangup_cause`` are None.
    """

    pbx: str
    linkedid: str
    caller: str | None
    caller_name: str | None
    entered_at: float  #: first channel of the call appeared
    queues: tuple[str, ...]
    queue: str | None  #: where it was answered, else the last queue joined
    offers: tuple[OfferSummary, ...]
    answered_by: str | None
    answered_at: float | None  #: None also when the answer was not seen
    transferred_to: tuple[str, ...]
    wait_s: float | None  #: None: answered, but when is unknown
    rings_to_answer: int | None
    apologise: bool | None
    talk_s: float | None
    outcome: str  #: answered | abandoned | voicemail | failed | incomplete
    hangup_by: str | None  #: caller | agent | system; None when the end was not seen
    hangup_cause: int | None
    ended_at: float
    direction: str = "inbound"  #: inbound | outbound (Originate) | supervision (ChanSpy)
    ended_unseen: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallSummary":
        values = dict(data)
        values["offers"] = tuple(OfferSummary(**o) for o in values["offers"])
        values["queues"] = tuple(values["queues"])
        values["transferred_to"] = tuple(values["transferred_to"])
        return cls(**values)


# -- live events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallOffered(DomainEvent):
    """A caller joined a queue (and waits for an agent)."""

    linkedid: str
    queue: str
    caller: str | None
    caller_name: str | None
    position: int
    entered_at: float  #: when the call began (its wait counts from here)
    type: ClassVar[str] = "call_offered"


@dataclass(frozen=True, slots=True)
class AgentRinging(DomainEvent):
    """An agent's phone is ringing for a call; ``ring`` counts ring cycles begun (1, 2, 3…).

    Ring 1 is sent when the phone starts ringing; later rings when :meth:`LiveModel.advance`
    passes the moment they start to count (``ring_started_at + (ring - 1) * cycle + 0.2``).
    """

    linkedid: str
    offer_id: str  #: the member leg's Uniqueid: stable for the life of the offer
    agent: str
    interface: str
    queue: str | None
    channel: str  #: the ringing leg, what a Hangup would name
    caller_channel: str | None
    caller: str | None
    caller_name: str | None
    ring: int
    ring_started_at: float
    call_entered_at: float
    type: ClassVar[str] = "agent_ringing"


@dataclass(frozen=True, slots=True)
class OfferEnded(DomainEvent):
    linkedid: str
    offer_id: str
    agent: str
    interface: str
    queue: str | None
    channel: str
    result: str  #: answered | no_answer | rejected | cancelled | failed
    ring_started_at: float | None  #: None when the phone never rang
    ended_at: float  #: when it stopped ringing (``at`` is when the leg's fate was settled)
    rang_s: float
    rings: int
    ended_unseen: bool = False  #: it ended in a gap of the AMI link (see OfferSummary)
    type: ClassVar[str] = "offer_ended"
    version: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class CallAnswered(DomainEvent):
    """An agent answered; ``apologise`` is true when the caller waited the policy's rings or more.

    A call first seen talking (the daemon started, or the link came back, after the answer) says who
    answered, and None for the wait, the rings and the apology: nobody knows them.
    """

    linkedid: str
    agent: str
    interface: str
    queue: str | None
    channel: str
    caller: str | None
    caller_name: str | None
    wait_s: float | None
    rings_to_answer: int | None
    apologise: bool | None
    type: ClassVar[str] = "call_answered"
    version: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class CallerLeftQueue(DomainEvent):
    linkedid: str
    queue: str
    reason: str  #: answered | abandoned (also a Redirect out of the queue) | other
    wait_s: float
    type: ClassVar[str] = "caller_left_queue"


@dataclass(frozen=True, slots=True)
class CallTransferred(DomainEvent):
    """The caller was passed to another extension (Redirect, blind or attended transfer)."""

    linkedid: str
    to: str
    how: str  #: redirect | blind | attended
    type: ClassVar[str] = "call_transferred"


@dataclass(frozen=True, slots=True)
class CallEnded(DomainEvent):
    call: CallSummary
    type: ClassVar[str] = "call_ended"
    version: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AgentPaused(DomainEvent):
    """A queue member was paused or unpaused (by anyone: the guard, the agent, app_queue).

    ``seen`` says how the daemon learnt it: ``announced`` (a ``QueueMemberPause``: an action, a
    dialplan application or app_queue's autopause did it, now), ``status`` (only a member status
    showed it, now) or ``resync`` (found in the snapshot after a gap of the AMI link: it happened
    unseen before ``at``; after Asterisk restarts, every static member is back unpaused and nobody
    unpaused him).  ``reason`` is the one Asterisk gave (an unpause may carry one too).
    """

    agent: str
    interface: str
    queue: str
    paused: bool
    reason: str
    seen: str = "announced"
    type: ClassVar[str] = "agent_paused"
    version: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class AgentStatus(DomainEvent):
    """A queue member's device state changed (QueueMemberStatus ``Status``)."""

    agent: str
    interface: str
    queue: str
    status: str  #: not_in_use | in_use | busy | unavailable | ringing | on_hold | invalid | unknown
    paused: bool
    in_call: bool
    type: ClassVar[str] = "agent_status"


@dataclass(frozen=True, slots=True)
class Resynced(DomainEvent):
    """The live state was rebuilt from a snapshot after (re)connecting; live events are trusted again.

    ``blind_since``: the last moment the daemon heard from Asterisk before this resync (None for the
    first connection); nothing between then and ``at`` was seen.
    """

    channels: int
    calls: int
    ringing_offers: int
    blind_since: float | None = None
    type: ClassVar[str] = "resynced"
    version: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class PbxLink(DomainEvent):
    """The AMI link went down (``disconnected``); ``Resynced`` says when it is back and trusted.

    ``since``: the last moment anything was heard from Asterisk; what ended after it ended unseen.
    """

    state: str
    detail: str
    since: float | None = None
    type: ClassVar[str] = "pbx_link"
    version: ClassVar[int] = 2


# -- the ring guard's events (telephony.rings) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RingDeadline(DomainEvent):
    """An offer reached its deadline (``rings allowed × cycle`` after the ring start) unanswered.

    ``action`` says what the guard did: ``hangup`` (took the call from the agent so the queue offers
    it to the next one), ``redirect`` (a direct call sent to the overflow), or ``observe`` (counted
    only: the guard is in observe mode), or ``already_ended`` (app_queue's own timeout ended the
    ringing at the same moment; counted as a miss, nothing sent).
    """

    linkedid: str
    offer_id: str
    agent: str
    interface: str
    queue: str | None
    channel: str
    ring_started_at: float
    action: str
    type: ClassVar[str] = "ring_deadline"


@dataclass(frozen=True, slots=True)
class AgentMissed(DomainEvent):
    """An agent let a call ring past the deadline; the counts include this miss.

    ``shift`` names the shift the miss fell in (config ``shifts``; empty when none is configured,
    and then the shift count is the day's).
    """

    linkedid: str
    offer_id: str
    agent: str
    interface: str
    queue: str | None
    misses_today: int
    consecutive: int
    shift: str = ""
    misses_this_shift: int = 0
    type: ClassVar[str] = "agent_missed"


@dataclass(frozen=True, slots=True)
class SupervisorAlert(DomainEvent):
    """Something the supervisor must see at once.

    ``kind``: ``miss`` (an agent let a call ring out), ``pause`` (the guard paused an agent),
    ``pause_withheld`` (it would have paused him, but he is the last ready member of a queue, or the
    guard only observes), ``long_wait`` (a caller has waited the apology threshold with no agent free),
    ``race_lost`` (the agent answered in the very moment the guard's hang-up left), ``not_sent`` (the
    link to Asterisk was down when the guard had to act; it acts once the link is back), ``weekly_report``
    (the week's record is ready: ``telephony.weekly``).
    ``caller`` is masked: alerts are shown on boards and written to logs.
    """

    kind: str
    agent: str | None
    queue: str | None
    linkedid: str | None
    caller: str | None
    since: float | None  #: when the waiting or ringing began
    detail: str
    type: ClassVar[str] = "supervisor_alert"


_BY_TYPE: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (CallOffered, AgentRinging, OfferEnded, CallAnswered, CallerLeftQueue, CallTransferred,
                CallEnded, AgentPaused, AgentStatus, Resynced, PbxLink, RingDeadline, AgentMissed, SupervisorAlert)
}
