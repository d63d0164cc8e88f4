"""How a simulated phone reacts to an INVITE, and who calls in.

An agent's phone has a *behaviour*; each offer asks it for a :class:`Decision` (``decide(rng)``),
so a behaviour may be random (the generator's agent profiles) while every decision, and therefore
the whole run, follows the PBX's seeded ``random.Random``.

``ring_first`` chooses between the two orders the real stream shows for one offer (README: "Event
order across channels is not fixed"): the member leg's ``Newstate Ringing`` after ``AgentCalled`` /
``DialBegin`` (most runs) or before them (13, 16).  ``None`` lets the seed decide.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, Union

__all__ = [
    "Answer",
    "Behaviour",
    "Decision",
    "Decline",
    "Mixed",
    "NeverAnswer",
    "Reject",
    "Seconds",
    "pick",
]

#: a duration: fixed seconds, or a (low, high) range drawn uniformly
Seconds = Union[float, tuple[float, float]]

#: share of offers where the phone's 180 Ringing is reported before AgentCalled (9 of 60 in the captures)
RING_FIRST_SHARE = 0.15


def pick(value: Seconds | None, rng: random.Random) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    low, high = value
    return rng.uniform(low, high)


@dataclass(frozen=True, slots=True)
class Decision:
    kind: str  #: "answer", "noanswer", "reject" (486 at once) or "decline" (603 after ringing)
    after_s: float = 0.0  #: seconds from ringing to the answer or the decline
    hangup_after_s: float | None = None  #: the agent hangs up this long after answering
    ring_first: bool = False


class Behaviour(Protocol):
    def decide(self, rng: random.Random) -> Decision: ...


def _ring_first(value: bool | None, rng: random.Random) -> bool:
    return rng.random() < RING_FIRST_SHARE if value is None else value


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer after ``after_s`` of ringing; hang up ``hangup_after_s`` later (None: wait for the caller)."""

    after_s: Seconds = 3.0
    hangup_after_s: Seconds | None = None
    ring_first: bool | None = None

    def decide(self, rng: random.Random) -> Decision:
        return Decision("answer", pick(self.after_s, rng) or 0.0, pick(self.hangup_after_s, rng),
                        _ring_first(self.ring_first, rng))


@dataclass(frozen=True, slots=True)
class NeverAnswer:
    ring_first: bool | None = None

    def decide(self, rng: random.Random) -> Decision:
        return Decision("noanswer", ring_first=_ring_first(self.ring_first, rng))


@dataclass(frozen=True, slots=True)
class Reject:
    """486 Busy Here at once: the phone never rings."""

    code: int = 486

    def __post_init__(self) -> None:
        if self.code != 486:
            raise ValueError("Reject answers 486 at once; use Decline(603, after_s) for a decline")

    def decide(self, rng: random.Random) -> Decision:
        return Decision("reject")


@dataclass(frozen=True, slots=True)
class Decline:
    """Ring, then 603 Decline after ``after_s`` (21: 1003 declined after 12 s)."""

    code: int = 603
    after_s: Seconds = 12.0
    ring_first: bool | None = None

    def __post_init__(self) -> None:
        if self.code != 603:
            raise ValueError("Decline sends 603; use Reject() for 486 Busy Here")

    def decide(self, rng: random.Random) -> Decision:
        return Decision("decline", pick(self.after_s, rng) or 0.0, ring_first=_ring_first(self.ring_first, rng))


@dataclass(frozen=True, slots=True)
class Mixed:
    """A weighted choice between behaviours, made again at every offer."""

    choices: tuple[tuple[float, Behaviour], ...]

    def __post_init__(self) -> None:
        if not self.choices or any(w < 0 for w, _ in self.choices) or sum(w for w, _ in self.choices) <= 0:
            raise ValueError("Mixed needs at least one behaviour with a positive weight")

    def decide(self, rng: random.Random) -> Decision:
        weights = [w for w, _ in self.choices]
        behaviour = rng.choices([b for _, b in self.choices], weights=weights)[0]
        return behaviour.decide(rng)
