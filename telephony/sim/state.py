"""The things a PBX holds while calls run: channels, bridges, device states, queue members.

Plain objects with no behaviour beyond keeping themselves consistent; the engine (:mod:`.pbx`)
and the applications (:mod:`.app_queue`, :mod:`.app_dial`) change them and publish events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .render import BridgeSnap, MemberSnap, Snap, UNKNOWN

__all__ = ["Bridge", "Channel", "DeviceStates", "Member"]

#: member Status values app_queue prints (Asterisk device states)
NOT_INUSE, INUSE, UNAVAILABLE, RINGING = 1, 2, 5, 6
DEVICE_TEXT = {NOT_INUSE: "NOT_INUSE", INUSE: "INUSE", UNAVAILABLE: "UNAVAILABLE", RINGING: "RINGING"}


class Channel:
    """One channel (``PJSIP/1001-0000000f``): what it prints, where it is, what owns it.

    ``owner`` is the application run that drives the channel (a queue call, a dial, an
    originate); the engine asks it what to do when an action or the far end hangs the channel up.
    """

    def __init__(self, name: str, uniqueid: str, linkedid: str, *, endpoint: str, state: int, cid_num: str,
                 cid_name: str, context: str, exten: str, created: float, call_id: str, priority: int = 1,
                 account: str = "") -> None:
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.endpoint = endpoint
        self.state = state
        self.cid_num = cid_num
        self.cid_name = cid_name
        self.cl_num = UNKNOWN
        self.cl_name = UNKNOWN
        self.account = account
        self.context = context
        self.exten = exten
        self.priority = priority
        self.app = ""
        self.app_data = ""
        self.created = created
        self.answered: float | None = None
        self.bridge: Bridge | None = None
        self.alive = True
        self.owner: Any = None
        self.dnid = ""
        self.media: Any = None  #: the RTP/RTCP noise of this leg once it is up (see :mod:`.media`)
        self.mixmonitor: str | None = None  #: file being recorded
        self.call_id = call_id  #: the SIP Call-ID its peer shows as BRIDGEPVTCALLID
        self.abandoned = False  #: app_queue set ABANDONED=TRUE on it (the next Queue() clears it)

    def snap(self) -> Snap:
        return Snap(self.name, self.state, self.cid_num, self.cid_name, self.cl_num, self.cl_name,
                    self.account, self.context, self.exten, self.priority, self.uniqueid, self.linkedid)

    def __repr__(self) -> str:
        return f"<Channel {self.name} state={self.state}{'' if self.alive else ' dead'}>"


@dataclass
class Bridge:
    uniqueid: str
    technology: str = "simple_bridge"
    channels: list[Channel] = field(default_factory=list)

    def snap(self) -> BridgeSnap:
        return BridgeSnap(self.uniqueid, self.technology, len(self.channels))


@dataclass
class Member:
    """One interface in one queue (app_queue keeps pause and statistics per queue)."""

    queue: str
    extension: str
    name: str
    login_time: int
    paused: bool = False
    paused_reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False
    last_status: int = 0  #: the Status last published in a QueueMemberStatus

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.extension}"

    def snap(self, status: int) -> MemberSnap:
        return MemberSnap(self.queue, self.name, self.interface, self.calls_taken, self.last_call,
                          self.last_pause, self.login_time, self.in_call, status, self.paused,
                          self.paused_reason)


class DeviceStates:
    """Asterisk's device-state cache: a ``DeviceStateChange`` is published only on a change.

    ``Queue:<name>_avail`` starts as ``INUSE``: that is what every capture implies (after an
    ``app_queue`` reload the first computation that finds a member free says ``NOT_INUSE``, while
    one that finds nobody free says nothing; 02, 18, 21).
    """

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def change(self, device: str, state: str) -> bool:
        if self._states.get(device) == state:
            return False
        self._states[device] = state
        return True

    def get(self, device: str, default: str = "NOT_INUSE") -> str:
        return self._states.get(device, default)

    def reset(self, initial: dict[str, str]) -> None:
        self._states = dict(initial)
