"""Queue members as the live model keeps them: who is in which queue, registered, paused and why.

Fed by ``QueueMemberStatus``, ``QueueMemberPause``, ``QueueMemberAdded``/``Removed`` and by the
resync's ``QueueMember`` list; tells the features with ``AgentStatus`` and ``AgentPaused``.  Pure.

:class:`MemberRules` is a part of :class:`telephony.live.model.LiveModel`, written apart because it
needs only the attributes declared on it, which the model provides.
"""
from __future__ import annotations

from typing import Callable

from telephony.ami.protocol import Message

from . import events as ev
from .state import DEVICE_STATUS, Member, Queue, endpoint_of

__all__ = ["MemberRules"]


class MemberRules:
    pbx: str
    queues: dict[str, Queue]
    _member_agents: set[str]  #: every endpoint seen as a queue member: those are agents
    emit: Callable[[ev.DomainEvent], None]

    def ready_members(self, queue: str) -> list[Member]:
        """Members of ``queue`` that could take a call: not paused, registered."""
        q = self.queues.get(queue)
        if q is None:
            return []
        return [m for m in q.members.values() if not m.paused and m.status not in ("unavailable", "invalid")]

    def member_queues(self, interface: str) -> list[str]:
        return [name for name, q in self.queues.items() if interface in q.members]

    def queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = Queue(name)
        return queue

    def member(self, queue: str, interface: str, name: str | None = None) -> Member:
        q = self.queue(queue)
        member = q.members.get(interface)
        if member is None:
            agent, _ = endpoint_of(interface)
            member = q.members[interface] = Member(queue=queue, interface=interface, agent=agent)
            self._member_agents.add(agent)
        if name:
            member.name = name
        return member

    def _queuememberstatus(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if not queue or not interface:
            return
        known = interface in self.queue(queue).members
        member = self.member(queue, interface, m.get("MemberName"))
        status = DEVICE_STATUS.get(m.get("Status") or "", "unknown")
        in_call = m.get("InCall") == "1"
        changed = status != member.status or in_call != member.in_call
        member.status, member.in_call = status, in_call
        self.set_paused(member, m.get("Paused") == "1", m.get("PausedReason") or "", at, seen="status")
        if not known:  # the first news of this member: a pause he is in began before it, nobody knows when
            member.paused_since = None
        if changed:
            self.emit(ev.AgentStatus(self.pbx, at, agent=member.agent, interface=interface, queue=queue,
                                      status=status, paused=member.paused, in_call=in_call))

    def _queuememberpause(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if queue and interface:
            member = self.member(queue, interface, m.get("MemberName"))
            status = m.get("Status")
            if status is not None:
                member.status = DEVICE_STATUS.get(status, "unknown")
            self.set_paused(member, m.get("Paused") == "1", m.get("PausedReason") or "", at, seen="announced")

    def set_paused(self, member: Member, paused: bool, reason: str, at: float, *, seen: str) -> None:
        """``seen`` says how the daemon learnt it (see ``AgentPaused``): ``announced``, ``status``
        or ``resync``."""
        # QueueMemberStatus repeats the pause state on every device change: only a change is news;
        # an announcement or a snapshot may also change just the reason.
        if paused == member.paused and (seen == "status" or reason == member.reason):
            return
        if paused != member.paused:
            member.paused_since = at if paused and seen != "resync" else None
        member.paused, member.reason = paused, reason if paused else ""
        self.emit(ev.AgentPaused(self.pbx, at, agent=member.agent, interface=member.interface,
                                  queue=member.queue, paused=paused, reason=reason, seen=seen))

    def _queuememberadded(self, m: Message, at: float) -> None:
        queue, interface = m.get("Queue"), m.get("Interface")
        if queue and interface:
            member = self.member(queue, interface, m.get("MemberName"))
            member.status = DEVICE_STATUS.get(m.get("Status") or "", "unknown")
            member.paused, member.reason = m.get("Paused") == "1", m.get("PausedReason") or ""

    def _queuememberremoved(self, m: Message, at: float) -> None:
        queue = self.queues.get(m.get("Queue") or "")
        if queue is not None:
            queue.members.pop(m.get("Interface") or "", None)
