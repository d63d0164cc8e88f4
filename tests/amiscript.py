"""A tiny scripter of AMI events for unit tests of the live model and the ring guard.

Header names and order follow the real captures (Asterisk 22.10) for the fields the model reads;
the simulator (telephony.sim) is the faithful, complete source — this is for short, readable
scenarios driven by a task.Clock.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from telephony.ami.protocol import Message

STATES = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


def event(name: str, *pairs: tuple[str, object]) -> Message:
    return Message.from_headers([("Event", name), ("Privilege", "call,all"), *((k, str(v)) for k, v in pairs)])


@dataclass
class Leg:
    uniqueid: str
    linkedid: str
    name: str
    num: str
    cid_name: str
    state: int = 0

    def headers(self, prefix: str = "") -> list[tuple[str, object]]:
        return [(f"{prefix}Channel", self.name), (f"{prefix}ChannelState", self.state),
                (f"{prefix}ChannelStateDesc", STATES[self.state]), (f"{prefix}CallerIDNum", self.num),
                (f"{prefix}CallerIDName", self.cid_name), (f"{prefix}Uniqueid", self.uniqueid),
                (f"{prefix}Linkedid", self.linkedid)]


@dataclass
class Pbx:
    """Issues events for queue calls the way app_queue does, one method per thing that happens."""

    epoch: int = 1795914315
    counter: itertools.count = field(default_factory=itertools.count)

    def _uid(self) -> str:
        return f"{self.epoch}.{next(self.counter)}"

    def member_status(self, queue: str, agent: str, status: int = 1, paused: bool = False, reason: str = "") -> Message:
        return event("QueueMemberStatus", ("Queue", queue), ("MemberName", f"Agent {agent}"),
                     ("Interface", f"PJSIP/{agent}"), ("StateInterface", f"PJSIP/{agent}"), ("Membership", "static"),
                     ("Penalty", 0), ("CallsTaken", 0), ("LastCall", 0), ("LastPause", 0), ("LoginTime", 0),
                     ("InCall", 0), ("Status", status), ("Paused", int(paused)), ("PausedReason", reason),
                     ("Ringinuse", 0), ("Wrapuptime", 0))

    def caller(self, number: str, name: str = "", exten: str = "4000") -> tuple[Leg, list[Message]]:
        uid = self._uid()
        leg = Leg(uid, uid, f"PJSIP/carrier-{int(uid.split('.')[1]):08x}", number, name or number, state=4)
        return leg, [event("Newchannel", *leg.headers(), ("Context", "from-carrier"), ("Exten", exten))]

    def join(self, caller: Leg, queue: str, position: int = 1) -> list[Message]:
        return [event("QueueCallerJoin", *caller.headers(), ("Queue", queue), ("Position", position), ("Count", position))]

    def offer(self, caller: Leg, agent: str, queue: str | None) -> tuple[Leg, list[Message]]:
        """A member leg is created and starts ringing (AgentCalled for a queue, DialBegin otherwise)."""
        uid = self._uid()
        leg = Leg(uid, caller.linkedid, f"PJSIP/{agent}-{int(uid.split('.')[1]):08x}", agent, f"Agent {agent}")
        out = [event("Newchannel", *leg.headers())]
        if queue is not None:
            out.append(event("AgentCalled", *caller.headers(), *leg.headers("Dest"), ("Queue", queue),
                             ("Interface", f"PJSIP/{agent}"), ("MemberName", f"Agent {agent}")))
        out.append(event("DialBegin", *caller.headers(), *leg.headers("Dest"), ("DialString", agent)))
        leg.state = 5
        out.append(event("Newstate", *leg.headers()))
        out.append(event("DialState", *caller.headers(), *leg.headers("Dest"), ("DialStatus", "RINGING")))
        return leg, out

    def answer(self, caller: Leg, leg: Leg, queue: str | None) -> list[Message]:
        leg.state = 6
        out = [event("Newstate", *leg.headers()),
               event("DialEnd", *caller.headers(), *leg.headers("Dest"), ("DialStatus", "ANSWER"))]
        if queue is not None:
            out += [event("QueueCallerLeave", *caller.headers(), ("Queue", queue), ("Position", 1), ("Count", 0)),
                    event("AgentConnect", *caller.headers(), *leg.headers("Dest"), ("Queue", queue),
                          ("Interface", leg.name.rsplit("-", 1)[0]), ("MemberName", f"Agent {leg.num}"),
                          ("HoldTime", 1), ("RingTime", 1))]
        caller.state = 6
        out.append(event("Newstate", *caller.headers()))
        return out

    def ring_no_answer(self, caller: Leg, leg: Leg, queue: str, cause: int = 0) -> list[Message]:
        """The leg stops ringing (app_queue's timeout, or the guard's Hangup: DialEnd, RingNoAnswer, Hangup)."""
        return [event("DialEnd", *caller.headers(), *leg.headers("Dest"), ("DialStatus", "NOANSWER")),
                event("AgentRingNoAnswer", *caller.headers(), *leg.headers("Dest"), ("Queue", queue),
                      ("Interface", leg.name.rsplit("-", 1)[0]), ("MemberName", f"Agent {leg.num}"), ("RingTime", 15000)),
                event("Hangup", *leg.headers(), ("Cause", cause), ("Cause-txt", "Unknown"))]

    def caller_hangs_up(self, caller: Leg, *legs: Leg, queue: str | None = None) -> list[Message]:
        out = [event("HangupRequest", *caller.headers())]
        for leg in legs:
            if leg.state == 5:
                out.append(event("DialEnd", *caller.headers(), *leg.headers("Dest"), ("DialStatus", "CANCEL")))
        if queue is not None and caller.state != 6:
            out.append(event("QueueCallerAbandon", *caller.headers(), ("Queue", queue), ("Position", 1),
                             ("OriginalPosition", 1), ("HoldTime", 1)))
            out.append(event("QueueCallerLeave", *caller.headers(), ("Queue", queue), ("Position", 1), ("Count", 0)))
        for leg in legs:
            out.append(event("Hangup", *leg.headers(), ("Cause", 16 if leg.state == 6 else 0), ("Cause-txt", "")))
        out.append(event("Hangup", *caller.headers(), ("Cause", 16), ("Cause-txt", "Normal Clearing")))
        return out

    def pause(self, queue: str, agent: str, paused: bool, reason: str = "") -> Message:
        return event("QueueMemberPause", ("Queue", queue), ("MemberName", f"Agent {agent}"),
                     ("Interface", f"PJSIP/{agent}"), ("StateInterface", f"PJSIP/{agent}"), ("Membership", "static"),
                     ("Penalty", 0), ("CallsTaken", 0), ("LastCall", 0), ("LastPause", 0), ("LoginTime", 0),
                     ("InCall", 0), ("Status", 1), ("Paused", int(paused)), ("PausedReason", reason if paused else ""),
                     ("Ringinuse", 0), ("Wrapuptime", 0))
