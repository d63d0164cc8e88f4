"""app_dial and Originate as the captures show them (06: Originate, 23a: the caller's Dial after a
Redirect).

``Dial()`` sets its eleven result variables empty, makes the outgoing leg (``Newchannel``,
``DIALEDPEERNUMBER``, ``Newexten AppDial``, ``NewConnectedLine``), ``DialBegin``; when the leg
rings ``RINGTIME``/``RINGTIME_MS`` then ``DialState RINGING``; when it answers ``DIALSTATUS``,
``DIALEDPEERNAME``, ``DIALEDPEERNUMBER``, ``DialEnd ANSWER`` and both legs enter a new bridge.
The carrier (a sipp UAS at 127.0.0.1:5070) answers every outbound call at once.

``Originate`` (``Async: true``) rings an agent's phone with no calling channel (``DialBegin``
without the caller's headers); ``OriginateResponse`` follows: ``Success`` Reason 4 once it
answered and its dialplan started, ``Failure`` Reason 3 after ``Timeout`` of ringing (leg
``Hangup Cause: 19``), ``Failure`` Reason 0 for a 486 and, immediately and without any channel,
for an endpoint that does not exist.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from . import render
from .calls import Call, CdrLeg
from .state import Channel

if TYPE_CHECKING:
    from .pbx import PBX

__all__ = ["DialRun", "Originate", "parse_callerid"]

DIAL_VARS = ("DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
             "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS")
#: an originated agent leg that answered talks this long before hanging up, unless its behaviour says
ORIGINATE_TALK_S = 30.0
CARRIER_ANSWER_S = 0.0012  #: the sipp UAS answers at once


def parse_callerid(text: str | None) -> tuple[str, str] | None:
    """``"Callback" <4000>`` → ("4000", "Callback"); ``4000`` → ("4000", "")."""
    if not text:
        return None
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if match:
        return match.group(2), match.group(1)
    return text.strip(), ""


class _Unmovable:
    """``Redirect`` of a channel in ``Dial()`` or being originated is not simulated: only
    app_queue's callers move (04, 23a), and the action answers ``Redirect failed``."""

    def redirectable(self, channel: Channel) -> bool:
        return False

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> bool:
        return False


class DialRun(_Unmovable):
    """``Dial()`` from ``channel`` (a caller, or an originated agent leg) to one destination."""

    def __init__(self, pbx: "PBX", call: Call, channel: Channel, data: str, *, target: str, carrier: bool,
                 timeout: float) -> None:
        self.pbx = pbx
        self.call = call
        self.channel = channel
        self.data = data
        self.target = target  #: agent extension, or the number the carrier is asked to call
        self.carrier = carrier
        self.timeout = timeout
        self.leg: Channel | None = None
        self.cdr: CdrLeg | None = None
        self.state = "dialling"
        self.timer = None
        self.answered_at = 0.0
        self.before_leg: Callable[[], None] | None = None  #: Originate sends its response here
        self.dialer_hangs_up_after: float | None = None
        self.leg_hangs_up_after: float | None = None
        self.timeout_timer = None

    @classmethod
    def from_dialplan(cls, pbx: "PBX", call: Call, channel: Channel, data: str) -> "DialRun":
        target, _, timeout = data.partition(",")
        target = target.removeprefix("PJSIP/")
        number, at, endpoint = target.partition("@")
        carrier = bool(at) and endpoint == pbx.config.carrier
        return cls(pbx, call, channel, data, target=number, carrier=carrier, timeout=float(timeout or 30))

    @property
    def dial_string(self) -> str:
        return f"{self.target}@{self.pbx.config.carrier}" if self.carrier else self.target

    def start(self) -> None:
        pbx, channel = self.pbx, self.channel
        channel.owner = self
        for name in DIAL_VARS:
            pbx.varset(channel, name, "")
        if self.before_leg is not None:
            self.before_leg()
        if self.carrier:
            leg = pbx.new_channel(pbx.config.carrier, linkedid=channel.linkedid, state=0, cid_num=render.UNKNOWN,
                                  cid_name=render.UNKNOWN, context="from-carrier", exten="s")
        else:
            agent = pbx.endpoints.get(self.target)
            if agent is None or not agent.registered:
                self._failed("CHANUNAVAIL")
                return
            leg = pbx.new_channel(self.target, linkedid=channel.linkedid, state=0, cid_num=self.target,
                                  cid_name=agent.config.name, context="agents", exten="s")
        self.leg = leg
        leg.owner = self
        pbx.ev("Newchannel", leg)
        pbx.varset(leg, "DIALEDPEERNUMBER", self.dial_string)
        leg.exten = self.target
        leg.cl_num, leg.cl_name = channel.cid_num, channel.cid_name
        if self.carrier:
            leg.cid_num, leg.cid_name, leg.account = self.target, channel.cid_name, channel.account
        pbx.newexten(leg, 1, "AppDial", "(Outgoing Line)")
        if self.carrier:
            pbx.emit(render.newcallerid(leg.snap()))
            if leg.account:
                pbx.ev("NewAccountCode", leg, ("OldAccountCode", ""))
        pbx.ev("NewConnectedLine", leg)
        pbx.emit(render.dial_event("DialBegin", channel.snap(), leg.snap(), ("DialString", self.dial_string)))
        pbx.connected_line(channel, leg.cid_num, leg.cid_name)
        self.cdr = self.call.add_leg(leg, "Dial", self.data, first=not self.call.cdrs)
        if self.carrier:
            self._ring()
            self.timer = pbx.later(CARRIER_ANSWER_S, self.answered)
            return
        decision = pbx.endpoints[self.target].behaviour.decide(pbx.rng)
        if decision.kind == "reject":
            pbx.hangup_request(leg, 17, 486)
            pbx.emit(render.dial_event("DialEnd", channel.snap(), leg.snap(), ("DialStatus", "BUSY")))
            self._leg_gone(17, 486)
            self._failed("BUSY")
            return
        self._ring()
        if decision.kind == "answer":
            self.timer = pbx.later(decision.after_s, self.answered)
            if decision.hangup_after_s is not None:
                self.leg_hangs_up_after = decision.hangup_after_s
        elif decision.kind == "decline":
            self.timer = pbx.later(decision.after_s, self._declined)
        self.timeout_timer = pbx.later(self.timeout, self._timed_out)

    def _ring(self) -> None:
        pbx, leg = self.pbx, self.leg
        assert leg is not None
        pbx.set_state(leg, 5)
        pbx.device_changed(leg.endpoint)
        elapsed = pbx.now() - leg.created
        pbx.varset(self.channel, "RINGTIME", int(elapsed))
        pbx.varset(self.channel, "RINGTIME_MS", max(1, int(elapsed * 1000)))
        pbx.emit(render.dial_event("DialState", self.channel.snap(), leg.snap(), ("DialStatus", "RINGING")))

    def _leg_gone(self, cause: int, tech_cause: int | None) -> None:
        leg = self.leg
        assert leg is not None
        self.call.leg_ended(self.cdr)
        self.pbx.destroy(leg, cause, tech_cause)
        self.pbx.device_changed(leg.endpoint)

    def _failed(self, status: str) -> None:
        """The dial is over without an answer; the dialplan has nothing after ``Dial``."""
        from .dialplan import hang_up_at_end

        self.state = "done"
        self.pbx.cancel(self.timeout_timer)
        self.pbx.varset(self.channel, "DIALSTATUS", status)
        hang_up_at_end(self.pbx, self.call, self.channel)

    def _declined(self) -> None:
        if self.state != "dialling" or self.leg is None:
            return
        self.pbx.hangup_request(self.leg, 21, 603)
        self.pbx.emit(render.dial_event("DialEnd", self.channel.snap(), self.leg.snap(), ("DialStatus", "NOANSWER")))
        self._leg_gone(21, 603)
        self._failed("NOANSWER")

    def _timed_out(self) -> None:
        if self.state != "dialling" or self.leg is None:
            return
        self.pbx.cancel(self.timer)
        self.pbx.emit(render.dial_event("DialEnd", self.channel.snap(), self.leg.snap(), ("DialStatus", "NOANSWER")))
        self._leg_gone(0, None)
        self._failed("NOANSWER")

    def answered(self) -> None:
        pbx, channel, leg = self.pbx, self.channel, self.leg
        if self.state != "dialling" or leg is None or not leg.alive:
            return
        self.state = "bridged"
        pbx.cancel(self.timeout_timer)
        phone = not self.carrier
        if phone:
            pbx.phone_receiver_reports(leg)
        pbx.set_state(leg, 6)
        leg.exten = ""  # app_dial's outgoing leg loses its extension once answered (06, 23)
        self.answered_at = pbx.now()
        self.call.leg_answered(self.cdr)
        pbx.device_changed(leg.endpoint)
        pbx.varset(channel, "DIALSTATUS", "ANSWER")
        pbx.varset(channel, "DIALEDPEERNAME", leg.name)
        pbx.varset(channel, "DIALEDPEERNUMBER", self.dial_string)
        pbx.emit(render.dial_event("DialEnd", channel.snap(), leg.snap(), ("DialStatus", "ANSWER")))
        if channel.state != 6:
            pbx.set_state(channel, 6)
            pbx.device_changed(channel.endpoint)
        bridge = pbx.bridge_create()
        pbx.newexten(leg, 1, "AppDial", "(Outgoing Line)")
        pbx.bridge_enter(bridge, leg)
        pbx.bridge_enter(bridge, channel)
        pbx.bridge_peers(channel, leg)
        bridge.technology = "native_rtp"
        if not phone:
            pbx.start_media(leg, phone=False)
        if channel.media is None:
            pbx.start_media(channel, phone=channel.endpoint in pbx.endpoints)
        handle = self.call.handle
        if handle is not None and handle.answered_at is None:
            handle.answered_at = self.answered_at
            handle.agent = None if self.carrier else self.target
        if self.call.ua is not None:
            self.call.ua.answered()
        if self.dialer_hangs_up_after is not None:
            self.timer = pbx.later(self.dialer_hangs_up_after, self.caller_bye, channel)
        elif self.leg_hangs_up_after is not None:
            self.timer = pbx.later(self.leg_hangs_up_after, self.leg_bye)

    # -- the end ---------------------------------------------------------------------------------

    def caller_cancel(self, channel: Channel) -> None:
        """The caller gives up while the leg rings."""
        if self.state != "dialling":
            return
        pbx = self.pbx
        self.state = "done"
        pbx.cancel(self.timer)
        pbx.cancel(self.timeout_timer)
        pbx.hangup_request(channel, 127, 487)
        if self.leg is not None and self.leg.alive:
            pbx.emit(render.dial_event("DialEnd", channel.snap(), self.leg.snap(), ("DialStatus", "CANCEL")))
            self._leg_gone(0, None)
        pbx.varset(channel, "DIALSTATUS", "CANCEL")
        pbx.hangup_request(channel, 16, 487, soft=True)
        self.call.emit_cdrs()
        pbx.destroy(channel, 127, 487)
        pbx.device_changed(channel.endpoint)
        self.call.end("abandoned", "caller")

    def caller_bye(self, channel: Channel, *, request: bool = True, cause: int = 16) -> None:
        """The calling side hangs up while bridged (06a: the agent who originated; 23a: the
        redirected caller, whose held-back AgentComplete goes out here)."""
        if self.state == "dialling":
            self.caller_cancel(channel)
            return
        if self.state != "bridged":
            return
        pbx, leg = self.pbx, self.leg
        assert leg is not None
        self.state = "done"
        pbx.cancel(self.timer)
        if request:
            pbx.phone_bye_reports(channel)
        pbx.qos(channel, leg)
        if request:
            pbx.hangup_request(channel, 16)
        pending = self.call.pending_complete
        self.call.pending_complete = None
        if pending is not None:
            pbx.emit(pending())
        pbx.bridge_peer_reset(channel)
        pbx.bridge_peer_reset(leg)
        bridge = leg.bridge
        pbx.bridge_leave(channel)
        self._times()
        pbx.bridge_leave(leg)
        if bridge is not None:
            pbx.bridge_destroy(bridge)
        pbx.qos(leg, None)
        pbx.varset(channel, "DIALSTATUS", "ANSWER")
        pbx.hangup_request(channel, cause, soft=True)
        self._leg_gone(16, None)
        if not pbx.config.is_22_10:
            pbx.qos(channel, None)
        pbx.destroy(channel, cause)
        pbx.device_changed(channel.endpoint)
        self.call.emit_cdrs()
        self.call.end("answered", "caller" if request else "system")

    def leg_bye(self) -> None:
        """The called side hangs up first; the calling channel's dialplan then ends."""
        from .dialplan import hang_up_at_end

        if self.state != "bridged" or self.leg is None:
            return
        pbx, channel, leg = self.pbx, self.channel, self.leg
        self.state = "done"
        pbx.phone_bye_reports(leg)
        pbx.qos(leg, channel)
        pbx.hangup_request(leg, 16)
        pbx.bridge_peer_reset(leg)
        pbx.bridge_peer_reset(channel)
        bridge = leg.bridge
        pbx.bridge_leave(leg)
        pbx.bridge_leave(channel)
        if bridge is not None:
            pbx.bridge_destroy(bridge)
        self._leg_gone(16, None)
        self._times()
        pbx.varset(channel, "DIALSTATUS", "ANSWER")
        pending = self.call.pending_complete
        self.call.pending_complete = None
        if pending is not None:
            pbx.emit(pending())
        hang_up_at_end(pbx, self.call, channel)

    def _times(self) -> None:
        now = self.pbx.now()
        talk = now - self.answered_at
        dialled = now - self.leg.created if self.leg is not None else 0.0
        for name, value in (("ANSWEREDTIME", int(talk)), ("ANSWEREDTIME_MS", int(talk * 1000)),
                            ("DIALEDTIME", int(dialled)), ("DIALEDTIME_MS", int(dialled * 1000))):
            self.pbx.varset(self.channel, name, value)

    def ami_hangup(self, channel: Channel, cause: int | None) -> None:
        if channel is self.channel:
            if self.state == "bridged":
                self.caller_bye(channel, request=False, cause=cause or 16)
            else:
                self.caller_cancel(channel)
        elif channel is self.leg:
            if self.state == "bridged":
                self.leg_bye()
            elif self.state == "dialling":
                self.pbx.cancel(self.timer)
                self.pbx.emit(render.dial_event("DialEnd", self.channel.snap(), channel.snap(),
                                                ("DialStatus", "NOANSWER")))
                self._leg_gone(cause or 0, None)
                self._failed("NOANSWER")


class Originate(_Unmovable):
    """One ``Originate`` action: an agent's phone is rung with no calling channel."""

    def __init__(self, pbx: "PBX", fields: dict[str, str], variables: list[str],
                 report: Callable[[render.Pairs | None, bool], None]) -> None:
        self.pbx = pbx
        self.fields = fields
        self.variables = variables
        self.report = report  #: gets the OriginateResponse (None when the action gave no ActionID) and success
        self.leg: Channel | None = None
        self.call: Call | None = None
        self.timer = None
        self.timeout_timer = None
        self.state = "ringing"

    def _where(self) -> list[tuple[str, str]]:
        f = self.fields
        if f.get("Application"):
            return [("Application", f["Application"]), ("Data", f.get("Data", ""))]
        return [("Context", f.get("Context", "")), ("Exten", f.get("Exten", ""))]

    def _respond(self, success: bool, reason: int) -> None:
        leg = self.leg
        callerid = parse_callerid(self.fields.get("CallerID"))
        if success and leg is not None:
            channel, uniqueid, num, name = leg.name, leg.uniqueid, leg.cid_num, leg.cid_name
        else:
            channel, uniqueid = self.fields.get("Channel", ""), render.UNKNOWN
            num, name = callerid if callerid else (render.UNKNOWN, render.UNKNOWN)
            num, name = num or render.UNKNOWN, name or render.UNKNOWN
        self.report(render.originate_response(self.fields.get("ActionID"), success, channel, self._where(), reason,
                                              uniqueid, num, name), success)

    def start(self) -> None:
        pbx, f = self.pbx, self.fields
        tech, _, resource = f.get("Channel", "").partition("/")
        agent = pbx.endpoints.get(resource) if tech.upper() == "PJSIP" else None
        if agent is None or not agent.registered:
            self._respond(False, 0)
            return
        leg = pbx.new_channel(agent.extension, linkedid=None, state=0, cid_num=agent.extension,
                              cid_name=agent.config.name, context="agents", exten="s")
        self.leg = leg
        leg.owner = self
        self.call = Call(pbx, leg)
        pbx.ev("Newchannel", leg)
        pbx.newexten(leg, 1, "AppDial2", "(Outgoing Line)")
        for item in self.variables:
            name, _, value = item.partition("=")
            pbx.varset(leg, name.strip(), value)
        if f.get("Account"):
            leg.account = f["Account"]
            pbx.ev("NewAccountCode", leg, ("OldAccountCode", ""))
        callerid = parse_callerid(f.get("CallerID"))
        if callerid is not None:
            leg.cid_num, leg.cid_name = callerid
            pbx.emit(render.newcallerid(leg.snap()))
        pbx.connected_line(leg, leg.cid_num, leg.cid_name)
        decision = agent.behaviour.decide(pbx.rng)
        self.decision = decision
        dial_begin = render.dial_event("DialBegin", None, leg.snap(), ("DialString", agent.extension))
        if decision.kind == "reject":
            pbx.emit(dial_begin)
            self.timer = pbx.later(0.0, self._refused, 17)
            return
        if decision.ring_first:
            pbx.set_state(leg, 5)
            pbx.device_changed(leg.endpoint)
            pbx.emit(render.dial_event("DialBegin", None, leg.snap(), ("DialString", agent.extension)))
            pbx.emit(render.dial_event("DialState", None, leg.snap(), ("DialStatus", "RINGING")))
        else:
            pbx.emit(dial_begin)
            self._ring()
        if decision.kind == "decline":
            self.timer = pbx.later(decision.after_s, self._refused, 21)
            return
        timeout = float(f.get("Timeout") or 30000) / 1000
        self.timeout_timer = pbx.later(timeout, self._no_answer)
        if decision.kind == "answer":
            self.timer = pbx.later(decision.after_s, self._answered)

    def _ring(self) -> None:
        pbx, leg = self.pbx, self.leg
        assert leg is not None
        pbx.set_state(leg, 5)
        pbx.device_changed(leg.endpoint)
        pbx.emit(render.dial_event("DialState", None, leg.snap(), ("DialStatus", "RINGING")))

    def _refused(self, cause: int) -> None:
        pbx, leg = self.pbx, self.leg
        assert leg is not None and self.call is not None
        tech = {17: 486, 21: 603}[cause]
        self.state = "done"
        pbx.cancel(self.timeout_timer)
        pbx.hangup_request(leg, cause, tech)
        self._respond(False, 0)
        pbx.emit(render.dial_event("DialEnd", None, leg.snap(), ("DialStatus", "BUSY" if cause == 17 else "NOANSWER")))
        pbx.destroy(leg, cause, tech)
        pbx.device_changed(leg.endpoint)
        self.call.end("failed", "agent")

    def _no_answer(self) -> None:
        pbx, leg = self.pbx, self.leg
        if self.state != "ringing" or leg is None or self.call is None:
            return
        self.state = "done"
        pbx.cancel(self.timer)
        self._respond(False, 3)
        pbx.destroy(leg, 19, 480)
        pbx.device_changed(leg.endpoint)
        self.call.end("failed", "system")

    def _answered(self) -> None:
        from .dialplan import plan

        pbx, leg, call = self.pbx, self.leg, self.call
        if self.state != "ringing" or leg is None or call is None:
            return
        self.state = "up"
        pbx.cancel(self.timeout_timer)
        pbx.phone_receiver_reports(leg)
        pbx.set_state(leg, 6)
        pbx.emit(render.dial_event("DialEnd", None, leg.snap(), ("DialStatus", "ANSWER")))
        talk = self.decision.hangup_after_s if self.decision.hangup_after_s is not None else ORIGINATE_TALK_S
        application = self.fields.get("Application")
        if application:
            pbx.newexten(leg, 1, application, self.fields.get("Data", ""))
            self._respond(True, 4)
            pbx.device_changed(leg.endpoint)
            self.timer = pbx.later(talk, self._application_done)
            return
        context, exten = self.fields.get("Context", ""), self.fields.get("Exten", "")
        leg.context, leg.exten = context, exten
        steps = plan(pbx.config, context, exten, leg) or []
        for number, (app, data) in enumerate(steps, start=1):
            pbx.newexten(leg, number, app, data)
            if app == "Dial":
                run = DialRun.from_dialplan(pbx, call, leg, data)
                run.dialer_hangs_up_after = talk

                def respond() -> None:
                    self._respond(True, 4)
                    pbx.device_changed(leg.endpoint)

                run.before_leg = respond
                run.start()
                return
        self._respond(True, 4)
        pbx.device_changed(leg.endpoint)
        self._application_done()

    def _application_done(self) -> None:
        pbx, leg = self.pbx, self.leg
        if leg is None or not leg.alive or self.call is None:
            return
        self.state = "done"
        pbx.phone_bye_reports(leg)
        pbx.qos(leg, None)
        pbx.hangup_request(leg, 16)
        pbx.hangup_request(leg, 16, soft=True)
        pbx.destroy(leg, 16)
        pbx.device_changed(leg.endpoint)
        self.call.end("answered", "agent")

    def ami_hangup(self, channel: Channel, cause: int | None) -> None:
        pbx = self.pbx
        if self.state == "ringing" and self.leg is not None and self.call is not None:
            self.state = "done"
            pbx.cancel(self.timer)
            pbx.cancel(self.timeout_timer)
            self._respond(False, 1)
            pbx.destroy(self.leg, cause or 16)
            pbx.device_changed(self.leg.endpoint)
            self.call.end("failed", "system")
        elif self.state == "up":
            self._application_done()
