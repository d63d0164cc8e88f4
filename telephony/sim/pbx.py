"""The simulated PBX engine: endpoints, channels, bridges, device states and the event stream.

:class:`PBX` is the part of Asterisk the applications (:mod:`.app_queue`, :mod:`.app_dial`) run
on.  It owns time, identifiers, the endpoints (agent phones and the carrier), the device-state
cache and the list of *sinks* every event goes to.  It has no network code: it takes an
``IReactorTime`` and nothing else from Twisted, so unit tests drive it with ``task.Clock``.

Time.  ``time_scale`` 10 runs ten times faster than real time: every delay the engine schedules
is divided by it, while every time it *reports* (Uniqueid seconds, HoldTime, RingTime, CDR
times) is simulated time, :meth:`PBX.now`, in epoch seconds starting at ``epoch`` (default: the
clock's own time, or 2026-11-22 when the clock starts at 0 like ``task.Clock``).

Randomness.  One ``random.Random(seed)`` decides everything random (phone decisions, the orders
the real stream varies, media numbers, bridge ids), so a seed reproduces a run event for event.
"""
from __future__ import annotations

import functools
import itertools
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from telephony.ami.protocol import format_message

from . import render
from .behaviour import Answer, Behaviour, Seconds, pick
from .config import AgentConfig, PBXConfig
from .media import Media
from .render import Pairs
from .state import DEVICE_TEXT, INUSE, NOT_INUSE, RINGING, UNAVAILABLE, Bridge, Channel, DeviceStates, Member

if TYPE_CHECKING:
    from .calls import CallHandle, CallSpec

__all__ = ["DEFAULT_EPOCH", "Endpoint", "PBX", "Stats"]

#: 2026-11-22 17:01:40 UTC, the day captures 01–15 were recorded; used when the clock starts at 0
DEFAULT_EPOCH = 1795366900.0
SIP_PORT = "IPV4/UDP/127.0.0.1/5060"
#: Asterisk gives every RTP stream an even port in 10000–20000
RTP_PORTS = (10000, 20000)

Sink = Callable[[bytes], None]


@dataclass
class Stats:
    """Counters a test or a benchmark can check against the stream."""

    calls_placed: int = 0
    calls_answered: int = 0
    calls_abandoned: int = 0
    calls_failed: int = 0
    calls_ended: int = 0
    offers: int = 0
    ring_no_answer: int = 0
    channels_created: int = 0
    channels_hung_up: int = 0
    events: int = 0
    max_concurrent_calls: int = 0


class Endpoint:
    """An agent's PJSIP endpoint, the phone registered to it, and the person at it.

    ``returns_after_s``: paused by anyone else (the ring guard, a supervisor), the agent puts himself
    back this long later, as people do (None: he waits for somebody to unpause him)."""

    def __init__(self, config: AgentConfig, behaviour: Behaviour) -> None:
        self.config = config
        self.behaviour = behaviour
        self.returns_after_s: Seconds | None = None
        self.returning: IDelayedCall | None = None
        self.registered = True
        self.legs: list[Channel] = []
        self.calls_taken = 0  #: shared by every queue the agent is in (as Asterisk prints it)
        self.last_call = 0
        self.members: list[Member] = []
        self.session_id = ""

    @property
    def extension(self) -> str:
        return self.config.extension

    @property
    def status(self) -> int:
        """The member Status app_queue derives from the device: 1, 2, 5 or 6."""
        if not self.registered:
            return UNAVAILABLE
        states = [leg.state for leg in self.legs if leg.alive]
        if 6 in states:
            return INUSE
        if 5 in states:
            return RINGING
        return NOT_INUSE

    @property
    def busy(self) -> bool:
        """Not offerable with ``ringinuse=no``: unregistered, ringing, talking or being dialled."""
        return not self.registered or any(leg.alive for leg in self.legs)


class PBX:
    """The engine; see the module docstring.  The applications call its helpers in the order the
    captures show; each helper publishes exactly the event its name says (``set_state`` →
    ``Newstate``, ``destroy`` → ``Hangup``, ``device_changed`` → ``DeviceStateChange`` and
    ``QueueMemberStatus``…), so the order of the stream is the order of the calls.

    Every phone starts with the ``quick`` behaviour (answers after 2–4 s of ringing)."""

    def __init__(self, clock: IReactorTime, *, config: PBXConfig | None = None, seed: int | None = None,
                 time_scale: float = 1.0, epoch: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.clock = clock
        self.config = config or PBXConfig.default()
        self.rng = random.Random(seed)
        self.time_scale = float(time_scale)
        self._clock0 = clock.seconds()
        self.epoch0 = float(epoch) if epoch is not None else (self._clock0 or DEFAULT_EPOCH)
        self.sinks: list[Sink] = []
        self.stats = Stats()
        self._timers: set[IDelayedCall] = set()
        self.endpoints: dict[str, Endpoint] = {
            a.extension: Endpoint(a, Answer(after_s=(2.0, 4.0))) for a in self.config.agents
        }
        #: running calls (see :class:`.calls.Call`), in the order they started: a dict, not a set,
        #: so that a restart ends them in an order the seed decides
        self.calls: dict[Any, None] = {}
        self._uptime_offset = self.config.uptime_s
        self._boot(self.now())
        # imported here: the applications need the engine's helpers defined above
        from .app_queue import QueueApp
        self.app_queue = QueueApp(self)

    # -- lifetime ---------------------------------------------------------------------------------

    def _boot(self, at: float) -> None:
        self.booted_at = at
        self._channel_seq = itertools.count()
        self._uniqueid_seq = itertools.count()
        self.channels: dict[str, Channel] = {}
        self.devices = DeviceStates()
        avail = "INUSE" if self.config.queues_reloaded else "NOT_INUSE"
        self.devices.reset({f"Queue:{q.name}_avail": avail for q in self.config.queues})
        self.devices.change(f"PJSIP/{self.config.carrier}", "NOT_INUSE")
        self.up = True
        login = int(at)
        for endpoint in self.endpoints.values():
            endpoint.legs.clear()
            endpoint.returning = None  # a restart unpauses everybody and forgets every timer
            endpoint.members = [
                Member(q.name, endpoint.extension, next(m.member_name for m in q.members
                                                         if m.extension == endpoint.extension), login)
                for q in self.config.queues_of(endpoint.extension)
            ]
            endpoint.session_id = self._token(32)
            self.devices.change(f"PJSIP/{endpoint.extension}", "NOT_INUSE" if endpoint.registered else "UNAVAILABLE")
            for member in endpoint.members:
                member.last_status = endpoint.status
        for endpoint in self.endpoints.values():
            self.later(self.rng.uniform(0, self.config.register_interval), self._refresh_registration, endpoint)

    def reset_for_restart(self, at: float) -> None:
        """Everything dies with the process: timers, channels, calls.  No event is sent."""
        self.stop()
        self.app_queue.reset()
        self._boot(at)

    def stop(self) -> None:
        """The process ends: every timer is cancelled and every call dropped, with no event."""
        self.up = False
        for timer in list(self._timers):
            if timer.active():
                timer.cancel()
        self._timers.clear()
        for call in list(self.calls):
            call.abort()

    # -- time ---------------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self.epoch0 + (self.clock.seconds() - self._clock0) * self.time_scale

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        """Run ``fn`` after ``delay`` simulated seconds; cancelled by a restart."""
        timers = self._timers

        def fire() -> None:
            timers.discard(call)
            fn(*args)

        call = self.clock.callLater(max(0.0, delay) / self.time_scale, fire)
        timers.add(call)
        return call

    def cancel(self, timer: IDelayedCall | None) -> None:
        if timer is not None:
            if timer.active():
                timer.cancel()
            self._timers.discard(timer)

    @property
    def pending_timers(self) -> int:
        return len(self._timers)

    # -- the stream -------------------------------------------------------------------------------

    def emit(self, pairs: Pairs) -> None:
        data = format_message(pairs)
        self.stats.events += 1
        for sink in list(self.sinks):
            sink(data)

    # -- identifiers ------------------------------------------------------------------------------

    def _token(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_channel(self, endpoint: str, *, linkedid: str | None, state: int, cid_num: str, cid_name: str,
                    context: str, exten: str, account: str = "") -> Channel:
        """Make a channel ``PJSIP/<endpoint>-<8 hex>``; the caller emits its ``Newchannel``."""
        now = self.now()
        name = f"PJSIP/{endpoint}-{next(self._channel_seq):08x}"
        uniqueid = f"{int(now)}.{next(self._uniqueid_seq)}"
        channel = Channel(name, uniqueid, linkedid or uniqueid, endpoint=endpoint, state=state,
                          cid_num=cid_num, cid_name=cid_name, context=context, exten=exten, created=now,
                          account=account, call_id=self.new_uuid())
        self.channels[name] = channel
        agent = self.endpoints.get(endpoint)
        if agent is not None:
            agent.legs.append(channel)
        self.stats.channels_created += 1
        return channel

    def find_channel(self, name: str) -> Channel | None:
        channel = self.channels.get(name)
        return channel if channel is not None and channel.alive else None

    # -- channel events -----------------------------------------------------------------------------

    def ev(self, name: str, channel: Channel, *extra: tuple[str, str]) -> None:
        """A channel event with no body of its own (Newchannel, Newstate, NewConnectedLine…)."""
        self.emit(render.channel_event(name, channel.snap(), *extra))

    def set_state(self, channel: Channel, state: int) -> None:
        channel.state = state
        if state == 6 and channel.answered is None:
            channel.answered = self.now()
        self.ev("Newstate", channel)

    def varset(self, channel: Channel, variable: str, value: object) -> None:
        self.emit(render.varset(channel.snap(), variable, str(value)))

    def newexten(self, channel: Channel, priority: int, application: str, data: str) -> None:
        channel.priority = priority
        channel.app, channel.app_data = application, data
        self.emit(render.newexten(channel.snap(), application, data))

    def connected_line(self, channel: Channel, num: str, name: str) -> bool:
        """Set the connected line; a ``NewConnectedLine`` only when it changes (21: the same
        member offered again gives none)."""
        if (channel.cl_num, channel.cl_name) == (num, name):
            return False
        channel.cl_num, channel.cl_name = num, name
        self.ev("NewConnectedLine", channel)
        return True

    def hangup_request(self, channel: Channel, cause: int | None, tech_cause: int | None = None,
                       *, soft: bool = False) -> None:
        name = "SoftHangupRequest" if soft else "HangupRequest"
        self.emit(render.hangup_request(name, channel.snap(), cause, tech_cause))

    def destroy(self, channel: Channel, cause: int, tech_cause: int | None = None) -> None:
        """The channel's ``Hangup``; device state and member status follow (see :meth:`device_changed`)."""
        if not channel.alive:
            return
        channel.alive = False
        self.stop_media(channel)
        self.emit(render.hangup(channel.snap(), cause, tech_cause))
        self.channels.pop(channel.name, None)
        agent = self.endpoints.get(channel.endpoint)
        if agent is not None and channel in agent.legs:
            agent.legs.remove(channel)
        self.stats.channels_hung_up += 1

    # -- devices and queue members -------------------------------------------------------------------

    def device_changed(self, endpoint: str, *, hold_back: str | None = None) -> Callable[[], None] | None:
        """Publish what a channel change did to a device: ``DeviceStateChange`` if the device
        state moved, then for an agent one ``QueueMemberStatus`` per queue (with the
        ``Queue:<q>_avail`` change app_queue computes after each).

        ``hold_back`` names a queue whose ``QueueMemberStatus`` is not sent now: the caller gets
        a function that sends it later (app_queue's own thread is sometimes slower, 20: the
        queue of the call reports ``InCall: 1`` after ``AgentConnect``)."""
        agent = self.endpoints.get(endpoint)
        if agent is None:
            states = [c.state for c in self.channels.values() if c.endpoint == endpoint and c.alive]
            text = "INUSE" if 6 in states else "RINGING" if 5 in states else "NOT_INUSE"
            if self.devices.change(f"PJSIP/{endpoint}", text):
                self.emit(render.device_state(f"PJSIP/{endpoint}", text))
            return None
        status = agent.status
        if self.devices.change(f"PJSIP/{endpoint}", DEVICE_TEXT[status]):
            self.emit(render.device_state(f"PJSIP/{endpoint}", DEVICE_TEXT[status]))
        return self.member_status(agent, hold_back=hold_back)

    def member_status(self, agent: Endpoint, *, hold_back: str | None = None) -> Callable[[], None] | None:
        status = agent.status
        later = None
        for member in agent.members:
            if member.last_status == status:
                continue
            if member.queue == hold_back:
                later = functools.partial(self._member_status, member, status)
                continue
            self._member_status(member, status)
        return later

    def _member_status(self, member: Member, status: int) -> None:
        member.last_status = status
        self.emit(render.member_event("QueueMemberStatus", self.member_snap(member)))
        self.queue_avail(member.queue)

    def member_snap(self, member: Member) -> render.MemberSnap:
        agent = self.endpoints[member.extension]
        member.calls_taken, member.last_call = agent.calls_taken, agent.last_call
        return member.snap(agent.status)

    def member_available(self, member: Member) -> bool:
        """app_queue's is_member_available: not paused, registered, and free unless ``ringinuse``."""
        agent = self.endpoints[member.extension]
        if member.paused or not agent.registered:
            return False
        queue = self.config.queue(member.queue)
        return agent.status == NOT_INUSE or (queue is not None and queue.ringinuse)

    def queue_avail(self, queue: str) -> None:
        """``Queue:<q>_avail``: NOT_INUSE if any member could take a call, else INUSE."""
        members = [m for a in self.endpoints.values() for m in a.members if m.queue == queue]
        text = "NOT_INUSE" if any(self.member_available(m) for m in members) else "INUSE"
        if self.devices.change(f"Queue:{queue}_avail", text):
            self.emit(render.device_state(f"Queue:{queue}_avail", text))

    def queue_device(self, queue: str, callers: int) -> None:
        text = "RINGING" if callers else "NOT_INUSE"
        if self.devices.change(f"Queue:{queue}", text):
            self.emit(render.device_state(f"Queue:{queue}", text))

    # -- bridges ------------------------------------------------------------------------------------

    def bridge_create(self) -> Bridge:
        bridge = Bridge(self.new_uuid())
        self.emit(render.bridge_event("BridgeCreate", bridge.snap()))
        return bridge

    def bridge_enter(self, bridge: Bridge, channel: Channel) -> None:
        bridge.channels.append(channel)
        channel.bridge = bridge
        self.emit(render.bridge_event("BridgeEnter", bridge.snap(), channel.snap()))

    def bridge_peers(self, first: Channel, second: Channel, times: int = 3) -> None:
        """``BRIDGEPEER``/``BRIDGEPVTCALLID`` on both legs, ``times`` rounds (3 on entering, 3
        more when a MixMonitor starts or stops and the bridge changes technology)."""
        for _ in range(times):
            for channel, peer in ((first, second), (second, first)):
                self.varset(channel, "BRIDGEPEER", peer.name)
                self.varset(channel, "BRIDGEPVTCALLID", peer.call_id)

    def bridge_peer_reset(self, channel: Channel) -> None:
        self.varset(channel, "BRIDGEPEER", "")
        self.varset(channel, "BRIDGEPVTCALLID", "")

    def bridge_leave(self, channel: Channel) -> None:
        bridge = channel.bridge
        if bridge is None:
            return
        if channel in bridge.channels:
            bridge.channels.remove(channel)
        channel.bridge = None
        self.emit(render.bridge_event("BridgeLeave", bridge.snap(), channel.snap()))

    def bridge_destroy(self, bridge: Bridge) -> None:
        self.emit(render.bridge_event("BridgeDestroy", bridge.snap()))

    # -- media ----------------------------------------------------------------------------------

    def start_media(self, channel: Channel, *, phone: bool) -> Media:
        """RTP starts on an answered leg: RTCPSent every 5 s, and for an agent's phone its own reports."""
        low, high = RTP_PORTS
        remote = 40000 + 2 * self.rng.randrange(0, 500) if phone else 6000 + 2 * self.rng.randrange(0, 500)
        media = Media(self.rng, started=self.now(), local_port=low + 2 * self.rng.randrange(0, (high - low) // 2),
                      remote_port=remote, phone=phone)
        channel.media = media
        media.timers.append(self.later(5.0 + self.rng.uniform(0.001, 0.02), self._rtcp_sent, channel))
        if phone:
            media.timers.append(self.later(self.rng.uniform(0.222, 0.242), self._rtcp_from_phone, channel))
        return media

    def phone_bye_reports(self, channel: Channel) -> None:
        """A pjsua2 phone that hangs up sends a last sender and receiver report with its BYE (06, 13)."""
        media = channel.media
        if media is None or not media.phone:
            return
        self.emit(media.rtcp_received(channel.snap(), self.now(), receiver_report=False))
        self.emit(media.rtcp_received(channel.snap(), self.now(), receiver_report=True))

    def phone_receiver_reports(self, channel: Channel) -> None:
        """The two receiver reports a pjsua2 phone sends the moment it answers."""
        if channel.media is None:
            channel.media = self.start_media(channel, phone=True)
        for _ in range(2):
            self.emit(channel.media.rtcp_received(channel.snap(), self.now(), receiver_report=True))

    def _rtcp_sent(self, channel: Channel) -> None:
        media = channel.media
        if not channel.alive or media is None:
            return
        self.emit(media.rtcp_sent(channel.snap(), self.now()))
        media.timers.append(self.later(5.0, self._rtcp_sent, channel))

    def _rtcp_from_phone(self, channel: Channel) -> None:
        media = channel.media
        if not channel.alive or media is None:
            return
        self.emit(media.rtcp_received(channel.snap(), self.now(), receiver_report=False))
        media.timers.append(self.later(self.rng.uniform(4.4, 5.3), self._rtcp_from_phone, channel))

    def stop_media(self, channel: Channel) -> None:
        if channel.media is not None:
            for timer in channel.media.timers:
                self.cancel(timer)
            channel.media.timers.clear()

    def qos(self, channel: Channel, peer: Channel | None) -> None:
        """The five ``RTPAUDIOQOS*`` on ``channel``, each followed by its ``…BRIDGED`` copy on
        ``peer`` (16: caller, member, caller, member…) when the peer is still bridged."""
        if channel.media is None:
            return
        for (name, value) in channel.media.qos(self.now()):
            self.varset(channel, name, value)
            if peer is not None:
                self.varset(peer, name + "BRIDGED", value)

    # -- registrations ------------------------------------------------------------------------------

    def _security(self, name: str, agent: Endpoint, *extra: tuple[str, str]) -> None:
        port = agent.config.port
        self.emit(render.security_event(name, self.now(), "PJSIP", agent.extension, agent.session_id, SIP_PORT,
                                        f"IPV4/UDP/127.0.0.1/{port}", *extra))

    def _refresh_registration(self, agent: Endpoint) -> None:
        """An agent phone re-REGISTERs: ChallengeSent + SuccessfulAuth (noise seen in 04, 21, 23)."""
        if agent.registered:
            self._security("ChallengeSent", agent, ("Challenge", ""))
            self._security("SuccessfulAuth", agent, ("UsingPassword", "1"))
        self.later(self.config.register_interval, self._refresh_registration, agent)

    def contact_uri(self, agent: Endpoint) -> str:
        return f"sip:{agent.extension}@127.0.0.1:{agent.config.port};ob"

    def unregister(self, extension: str) -> None:
        """The phone sends REGISTER Expires: 0 (10)."""
        agent = self.endpoints[extension]
        if not agent.registered:
            return
        self._security("ChallengeSent", agent, ("Challenge", ""))
        self._security("SuccessfulAuth", agent, ("UsingPassword", "1"))
        agent.registered = False
        self.device_changed_first_peer(agent, "Unreachable")
        self.emit(render.contact_status(self.contact_uri(agent), "Removed", agent.extension, 0))

    def register(self, extension: str) -> None:
        """The phone registers again: auth, PeerStatus Reachable, member Status 1, contact qualified."""
        agent = self.endpoints[extension]
        if agent.registered:
            return
        self._security("ChallengeSent", agent, ("Challenge", ""))
        self._security("SuccessfulAuth", agent, ("UsingPassword", "1"))
        self.come_back(agent, False)

    def device_changed_first_peer(self, agent: Endpoint, peer_status: str) -> None:
        status_text = DEVICE_TEXT[agent.status]
        if self.devices.change(f"PJSIP/{agent.extension}", status_text):
            self.emit(render.device_state(f"PJSIP/{agent.extension}", status_text))
        self.emit(render.peer_status(agent.extension, peer_status))
        self.member_status(agent)

    def come_back(self, agent: Endpoint, qualified_first: bool) -> None:
        """A contact becomes reachable: after a restart (15) the qualify comes first, after a
        REGISTER (10) the contact is NonQualified until its first qualify."""
        agent.registered = True
        self.emit(render.peer_status(agent.extension, "Reachable"))
        roundtrip = self.rng.randrange(400, 950)
        if qualified_first:
            self.emit(render.contact_status(self.contact_uri(agent), "Reachable", agent.extension, roundtrip))
        status_text = DEVICE_TEXT[agent.status]
        if self.devices.change(f"PJSIP/{agent.extension}", status_text):
            self.emit(render.device_state(f"PJSIP/{agent.extension}", status_text))
        self.member_status(agent)
        if not qualified_first:
            self.emit(render.contact_status(self.contact_uri(agent), "NonQualified", agent.extension, 0))
            self.emit(render.contact_status(self.contact_uri(agent), "Reachable", agent.extension, roundtrip))

    # -- bookkeeping for calls -------------------------------------------------------------------------

    def call_started(self, call: Any) -> None:
        self.calls[call] = None
        self.stats.max_concurrent_calls = max(self.stats.max_concurrent_calls, len(self.calls))

    def call_ended(self, call: Any) -> None:
        self.calls.pop(call, None)
        self.stats.calls_ended += 1


    # -- what callers, phones and AMI actions do ------------------------------------------------------

    def place_call(self, spec: "CallSpec", on_end: Callable[["CallHandle"], None] | None = None) -> "CallHandle":
        """An INVITE from the carrier: the caller's channel appears and runs ``from-carrier``.

        Raises ValueError for a number the dialplan does not know (nothing is sent then).  While
        the PBX restarts the call fails at once, with no event (nobody answers the INVITE).
        """
        from .calls import Call, CallerUA, CallHandle
        from .dialplan import goto, plan

        if not self.up:
            handle = CallHandle(spec, self.now())
            handle.finish(self.now(), "failed", None)
            self.stats.calls_failed += 1
            if on_end is not None:
                on_end(handle)
            return handle

        probe = Channel("", "", "", endpoint="", state=4, cid_num=spec.caller, cid_name=spec.name,
                        context="from-carrier", exten=spec.dial, created=0.0, call_id="")
        if plan(self.config, "from-carrier", spec.dial, probe) is None:
            raise ValueError(f"from-carrier has no extension {spec.dial!r}")
        handle = CallHandle(spec, self.now())
        caller = self.new_channel(self.config.carrier, linkedid=None, state=4, cid_num=spec.caller,
                                  cid_name=spec.name, context="from-carrier", exten=spec.dial)
        caller.call_id = f"{self.stats.calls_placed + 1}-{self.rng.randrange(2000, 60000)}@127.0.0.1"
        caller.dnid = spec.dial
        handle.channel, handle.linkedid = caller.name, caller.linkedid
        self.stats.calls_placed += 1
        call = Call(self, caller, handle, CallerUA(self, handle, caller, on_end))
        self.ev("Newchannel", caller)
        self.varset(caller, "SIPDOMAIN", "127.0.0.1")
        goto(self, call, "from-carrier", spec.dial, 1)
        return handle

    def hangup(self, name: str, cause: int | None) -> bool:
        """AMI ``Hangup`` of one channel; False when there is no such channel."""
        channel = self.find_channel(name)
        if channel is None or channel.owner is None:
            return False
        channel.owner.ami_hangup(channel, cause)
        return True

    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels.values() if c.alive]

    def can_redirect(self, name: str) -> bool:
        channel = self.find_channel(name)
        return channel is not None and channel.owner is not None and channel.owner.redirectable(channel)

    def redirect(self, name: str, context: str, exten: str, priority: int) -> bool:
        """AMI ``Redirect``; False when the channel or its owner cannot be moved."""
        channel = self.find_channel(name)
        if channel is None or channel.owner is None:
            return False
        return bool(channel.owner.redirect(channel, context, exten, priority))

    def pause_member(self, member: Member, paused: bool, reason: str) -> None:
        """One ``QueueMemberPause`` (09, 18, 20: unpausing always clears the reason)."""
        member.paused = paused
        member.paused_reason = reason if paused else ""
        if paused:
            member.last_pause = int(self.now())
        device = f"Queue:{member.queue}_pause_{member.interface}"
        state = "INUSE" if paused else "NOT_INUSE"
        if self.devices.change(device, state):
            self.emit(render.device_state(device, state))
        if not paused:
            self.queue_avail(member.queue)
        self.emit(render.member_event("QueueMemberPause", self.member_snap(member)))
        endpoint = self.endpoints.get(member.extension)
        if paused and endpoint is not None and endpoint.returns_after_s is not None and endpoint.returning is None:
            endpoint.returning = self.later(pick(endpoint.returns_after_s, self.rng) or 0.0, self._agent_returns,
                                            endpoint)

    def _agent_returns(self, endpoint: Endpoint) -> None:
        """The agent unpauses himself in every queue (a feature code on his phone: the same
        ``QueueMemberPause`` events as an AMI ``QueuePause``)."""
        endpoint.returning = None
        if any(m.paused for m in endpoint.members):
            self.queue_pause(endpoint.config.interface, False, "")

    def queue_pause(self, interface: str, paused: bool, reason: str, queue: str | None = None) -> bool:
        """AMI ``QueuePause``: every queue of the interface, or only ``queue``; False if not a member."""
        members = [m for a in self.endpoints.values() for m in a.members
                   if m.interface.lower() == interface.lower() and (queue is None or m.queue == queue)]
        if not members:
            return False
        for member in members:
            self.pause_member(member, paused, reason)
        return True

    def mixmonitor(self, name: str, filename: str) -> bool:
        channel = self.find_channel(name)
        if channel is None:
            return False
        channel.mixmonitor = filename
        self.varset(channel, "MIXMONITOR_FILENAME", filename)
        self.ev("MixMonitorStart", channel)
        self._retechnology(channel, "simple_bridge")
        return True

    def stop_mixmonitor(self, name: str) -> bool:
        channel = self.find_channel(name)
        if channel is None:
            return False
        if channel.mixmonitor is not None:
            channel.mixmonitor = None
            self.ev("MixMonitorStop", channel)
            self._retechnology(channel, "native_rtp")
        return True

    def mixmonitor_mute(self, name: str, direction: str, state: bool) -> bool:
        channel = self.find_channel(name)
        if channel is None:
            return False
        self.ev("MixMonitorMute", channel, ("Direction", direction), ("State", "1" if state else "0"))
        return True

    def _retechnology(self, channel: Channel, technology: str) -> None:
        """An audiohook changes the bridge's technology, and both legs get their BRIDGEPEERs again (07, 22)."""
        bridge = channel.bridge
        if bridge is None or len(bridge.channels) != 2:
            return
        bridge.technology = technology
        peer = next(c for c in bridge.channels if c is not channel)
        self.bridge_peers(channel, peer)

    def restart(self, downtime: float) -> None:
        """``core restart now``: ``Shutdown``, every channel dies silently, and the phones that
        were registered come back one by one as their contacts are qualified again (15)."""
        self.emit(render.shutdown(True))
        registered = [e for e in self.endpoints.values() if e.registered]
        for endpoint in self.endpoints.values():
            endpoint.registered = False
        self.reset_for_restart(self.now() + downtime)
        self._uptime_offset = 0
        self.up = False
        self.later(downtime, self._boot_complete)
        for endpoint in registered:
            self.later(downtime + self.rng.uniform(2.0, 13.0), self.come_back, endpoint, True)

    def _boot_complete(self) -> None:
        self.up = True

    def uptime(self) -> int:
        return int(self.now() - self.booted_at) + self._uptime_offset
