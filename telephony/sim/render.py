"""Builders that turn engine facts into AMI events with the captures' exact header sets and order.

Every function returns the event as a list of ``(header, value)`` pairs, ready for
:func:`telephony.ami.protocol.format_message`.  The header names, their order, the ``Privilege``
values and the value formats are copied from ``tests/fixtures/ami-real/*.ami`` (Asterisk 22.10.1
unless a builder says otherwise); nothing here knows about time or state, so a builder is given
*snapshots*: a :class:`Snap` is what Asterisk prints for a channel at the moment it publishes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

__all__ = ["BridgeSnap", "MemberSnap", "Pairs", "Snap", "STATE_DESC"]

Pairs = list[tuple[str, str]]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    127: "Interworking, unspecified",
}
UNKNOWN = "<unknown>"

CALL, DIALPLAN, AGENT, REPORTING = "call,all", "dialplan,all", "agent,all", "reporting,all"
SYSTEM, SECURITY, CDR = "system,all", "security,all", "cdr,all"


@dataclass(frozen=True, slots=True)
class Snap:
    """A channel as Asterisk prints it (the 14 headers every channel event starts with)."""

    name: str
    state: int
    cid_num: str
    cid_name: str
    cl_num: str
    cl_name: str
    account: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    language: str = "en"

    def pairs(self, prefix: str = "") -> Pairs:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{prefix}CallerIDNum", self.cid_num),
            (f"{prefix}CallerIDName", self.cid_name),
            (f"{prefix}ConnectedLineNum", self.cl_num),
            (f"{prefix}ConnectedLineName", self.cl_name),
            (f"{prefix}Language", self.language),
            (f"{prefix}AccountCode", self.account),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


@dataclass(frozen=True, slots=True)
class BridgeSnap:
    uniqueid: str
    technology: str
    channels: int

    def pairs(self, prefix: str = "Bridge") -> Pairs:
        return [
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Type", "basic"),
            (f"{prefix}Technology", self.technology),
            (f"{prefix}Creator", UNKNOWN),
            (f"{prefix}Name", UNKNOWN),
            (f"{prefix}NumChannels", str(self.channels)),
            (f"{prefix}VideoSourceMode", "none"),
        ]


@dataclass(frozen=True, slots=True)
class MemberSnap:
    """A queue member as app_queue prints it in QueueMemberStatus/Pause and QueueMember."""

    queue: str
    name: str
    interface: str
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str


def _event(name: str, privilege: str | None, *parts: Iterable[tuple[str, str]]) -> Pairs:
    out: Pairs = [("Event", name)]
    if privilege is not None:
        out.append(("Privilege", privilege))
    for part in parts:
        out.extend(part)
    return out


# -- channel life ------------------------------------------------------------------------------


def channel_event(name: str, snap: Snap, *extra: tuple[str, str], privilege: str = CALL) -> Pairs:
    """Newchannel, Newstate, NewConnectedLine, MusicOnHoldStop, MixMonitorStart… (channel headers only)."""
    return _event(name, privilege, snap.pairs(), extra)


def varset(snap: Snap, variable: str, value: str) -> Pairs:
    return _event("VarSet", DIALPLAN, snap.pairs(), [("Variable", variable), ("Value", value)])


def newexten(snap: Snap, application: str, data: str) -> Pairs:
    return _event("Newexten", DIALPLAN, snap.pairs(),
                  [("Extension", snap.exten), ("Application", application), ("AppData", data)])


def newcallerid(snap: Snap) -> Pairs:
    return channel_event("NewCallerid", snap, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))


def hangup(snap: Snap, cause: int, tech_cause: int | None = None) -> Pairs:
    extra: Pairs = [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
    if tech_cause is not None:
        extra.append(("TechCause", str(tech_cause)))
    return _event("Hangup", CALL, snap.pairs(), extra)


def hangup_request(name: str, snap: Snap, cause: int | None, tech_cause: int | None = None) -> Pairs:
    """HangupRequest or SoftHangupRequest; ``cause`` None gives 22.10's header-less form."""
    extra: Pairs = []
    if cause is not None:
        extra.append(("Cause", str(cause)))
    if tech_cause is not None:
        extra.append(("TechCause", str(tech_cause)))
    return _event(name, CALL, snap.pairs(), extra)


def moh_start(snap: Snap) -> Pairs:
    return channel_event("MusicOnHoldStart", snap, ("Class", "default"))


# -- dialling ----------------------------------------------------------------------------------


def dial_event(name: str, caller: Snap | None, dest: Snap, *extra: tuple[str, str]) -> Pairs:
    """DialBegin/DialState/DialEnd; ``caller`` None for an Originate's first leg (no calling channel)."""
    return _event(name, CALL, caller.pairs() if caller else [], dest.pairs("Dest"), extra)


def agent_event(name: str, caller: Snap, dest: Snap | None, queue: str, interface: str, member: str,
                *extra: tuple[str, str]) -> Pairs:
    """AgentCalled/AgentConnect/AgentComplete/AgentRingNoAnswer; ``dest`` None when the member
    channel is already gone (17b, 23a: no Dest* headers at all)."""
    return _event(name, AGENT, caller.pairs(), dest.pairs("Dest") if dest else [],
                  [("Queue", queue), ("Interface", interface), ("MemberName", member)], extra)


def queue_caller(name: str, snap: Snap, queue: str, *extra: tuple[str, str]) -> Pairs:
    """QueueCallerJoin/Leave (Position, Count) and QueueCallerAbandon (Position, OriginalPosition, HoldTime)."""
    return _event(name, AGENT, snap.pairs(), [("Queue", queue)], extra)


def member_event(name: str, m: MemberSnap) -> Pairs:
    """QueueMemberStatus / QueueMemberPause."""
    return _event(name, AGENT, [
        ("Queue", m.queue), ("MemberName", m.name), ("Interface", m.interface),
        ("StateInterface", m.interface), ("Membership", "static"), ("Penalty", "0"),
        ("CallsTaken", str(m.calls_taken)), ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)), ("LoginTime", str(m.login_time)),
        ("InCall", "1" if m.in_call else "0"), ("Status", str(m.status)),
        ("Paused", "1" if m.paused else "0"), ("PausedReason", m.paused_reason),
        ("Ringinuse", "0"), ("Wrapuptime", "0"),
    ])


def device_state(device: str, state: str) -> Pairs:
    return _event("DeviceStateChange", CALL, [("Device", device), ("State", state)])


# -- bridges -----------------------------------------------------------------------------------


def bridge_event(name: str, bridge: BridgeSnap, snap: Snap | None = None) -> Pairs:
    return _event(name, CALL, bridge.pairs(), snap.pairs() if snap else [])


# -- reports -----------------------------------------------------------------------------------


def cdr(*, account: str, source: str, destination: str, context: str, callerid: str, channel: str,
        dest_channel: str, app: str, data: str, start: float, answer: float | None, end: float,
        uniqueid: str) -> Pairs:
    """One CDR: ``Duration``/``BillableSeconds`` are whole seconds, times in the PBX's UTC."""
    disposition = "ANSWERED" if answer is not None else "NO ANSWER"
    billable = int(end - answer) if answer is not None else 0
    return _event("Cdr", CDR, [
        ("AccountCode", account), ("Source", source), ("Destination", destination),
        ("DestinationContext", context), ("CallerID", callerid), ("Channel", channel),
        ("DestinationChannel", dest_channel), ("LastApplication", app), ("LastData", data),
        ("StartTime", cdr_time(start)), ("AnswerTime", cdr_time(answer) if answer is not None else ""),
        ("EndTime", cdr_time(end)), ("Duration", str(int(end - start))), ("BillableSeconds", str(billable)),
        ("Disposition", disposition), ("AMAFlags", "DOCUMENTATION"), ("UniqueID", uniqueid), ("UserField", ""),
    ])


def cdr_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def event_tv(epoch: float) -> str:
    """``EventTV``/``SessionTV`` of a security event: ``2026-11-22T17:02:45.966+0000``."""
    millis = int((epoch - int(epoch)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}+0000"


def rtcp_sent(snap: Snap, *, to: str, frm: str, ssrc: int, ntp: float, packets: int, peer_ssrc: int,
              sequence: int, jitter: int, lsr: int, dlsr: float) -> Pairs:
    """Asterisk's own sender report on one RTP stream (every 5 s while the channel is up)."""
    return _event("RTCPSent", REPORTING, snap.pairs(), [
        ("To", to), ("From", frm), ("MES", "88.1"), ("SSRC", f"0x{ssrc:08x}"), ("PT", "200(SR)"),
        ("ReportCount", "1"), ("SentNTP", f"{ntp:.6f}"), ("SentRTP", str(packets * 160)),
        ("SentPackets", str(packets)), ("SentOctets", str(packets * 160)),
        *_report_block(peer_ssrc, sequence, jitter, lsr, dlsr),
    ])


def rtcp_received(snap: Snap, *, to: str, frm: str, ssrc: int, sender: tuple[float, int] | None,
                  peer_ssrc: int, sequence: int, jitter: int, lsr: int, dlsr: float, rtt: float) -> Pairs:
    """A report the agent's phone sent: ``sender`` None for a receiver report (RR), else (NTP, packets)."""
    head: Pairs = [("To", to), ("From", frm), ("RTT", f"{rtt:.4f}"), ("MES", "88.1"),
                   ("SSRC", f"0x{ssrc:08x}"), ("PT", "201(RR)" if sender is None else "200(SR)"),
                   ("ReportCount", "1")]
    if sender is not None:
        ntp, packets = sender
        head += [("SentNTP", f"{ntp:.6f}"), ("SentRTP", str(packets * 160)),
                 ("SentPackets", str(packets)), ("SentOctets", str(packets * 160))]
    return _event("RTCPReceived", REPORTING, snap.pairs(), head,
                  _report_block(peer_ssrc, sequence, jitter, lsr, dlsr))


def _report_block(ssrc: int, sequence: int, jitter: int, lsr: int, dlsr: float) -> Pairs:
    return [
        ("Report0SourceSSRC", f"0x{ssrc:08x}"), ("Report0FractionLost", "0"), ("Report0CumulativeLost", "0"),
        ("Report0HighestSequence", str(sequence)), ("Report0SequenceNumberCycles", "0"),
        ("Report0IAJitter", str(jitter)), ("Report0LSR", str(lsr)), ("Report0DLSR", f"{dlsr:.4f}"),
    ]


def originate_response(action_id: str | None, success: bool, channel: str, where: Iterable[tuple[str, str]],
                       reason: int, uniqueid: str, cid_num: str, cid_name: str) -> Pairs:
    """``where`` is Context/Exten or Application/Data, as the action gave them."""
    head: Pairs = [("ActionID", action_id)] if action_id is not None else []
    return _event("OriginateResponse", CALL, head,
                  [("Response", "Success" if success else "Failure"), ("Channel", channel)], where,
                  [("Reason", str(reason)), ("Uniqueid", uniqueid), ("CallerIDNum", cid_num),
                   ("CallerIDName", cid_name)])


# -- system and security -------------------------------------------------------------------------


def fully_booted(uptime: int, last_reload: int, *, after_restart: bool = False) -> Pairs:
    """After a restart Asterisk prints ``Status`` first (15); on a normal login last."""
    if after_restart:
        return _event("FullyBooted", SYSTEM, [("Status", "Fully Booted"), ("Uptime", str(uptime)),
                                             ("LastReload", str(last_reload))])
    return _event("FullyBooted", SYSTEM, [("Uptime", str(uptime)), ("LastReload", str(last_reload)),
                                         ("Status", "Fully Booted")])


def shutdown(restart: bool) -> Pairs:
    return _event("Shutdown", SYSTEM, [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")])


def security_event(name: str, epoch: float, service: str, account: str, session_id: str, local: str,
                   remote: str, *extra: tuple[str, str]) -> Pairs:
    """SuccessfulAuth / ChallengeSent; AMI logins add ``SessionTV`` (via ``extra``)."""
    return _event(name, SECURITY, [
        ("EventTV", event_tv(epoch)), ("Severity", "Informational"), ("Service", service),
        ("EventVersion", "1"), ("AccountID", account), ("SessionID", session_id),
        ("LocalAddress", local), ("RemoteAddress", remote),
    ], extra)


def peer_status(endpoint: str, status: str) -> Pairs:
    return _event("PeerStatus", SYSTEM, [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{endpoint}"),
                                        ("PeerStatus", status)])


def contact_status(uri: str, status: str, endpoint: str, roundtrip_usec: int) -> Pairs:
    return _event("ContactStatus", SYSTEM, [("URI", uri), ("ContactStatus", status), ("AOR", endpoint),
                                           ("EndpointName", endpoint), ("RoundtripUsec", str(roundtrip_usec))])


# -- list actions (no Privilege; ActionID as the captures place it) -----------------------------


def list_complete(name: str, action_id: str | None, items: int, *extra: tuple[str, str]) -> Pairs:
    head: Pairs = [("ActionID", action_id)] if action_id is not None else []
    return _event(name, None, head, [("EventList", "Complete"), ("ListItems", str(items))], extra)


def with_action_id(pairs: Pairs, action_id: str | None) -> Pairs:
    """List items carry the ActionID as their last header (QueueParams, QueueMember, Status…)."""
    return pairs + [("ActionID", action_id)] if action_id is not None else pairs


def queue_params(queue: str, strategy: str, calls: int, holdtime: int, talktime: int, completed: int,
                 abandoned: int) -> Pairs:
    return _event("QueueParams", None, [
        ("Queue", queue), ("Max", "0"), ("Strategy", strategy), ("Calls", str(calls)),
        ("Holdtime", str(holdtime)), ("TalkTime", str(talktime)), ("Completed", str(completed)),
        ("Abandoned", str(abandoned)), ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"),
        ("ServicelevelPerf2", "0.0"), ("Weight", "0"),
    ])


def queue_member(m: MemberSnap) -> Pairs:
    return _event("QueueMember", None, [
        ("Queue", m.queue), ("Name", m.name), ("Location", m.interface), ("StateInterface", m.interface),
        ("Membership", "static"), ("Penalty", "0"), ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)), ("LastPause", str(m.last_pause)), ("LoginTime", str(m.login_time)),
        ("InCall", "1" if m.in_call else "0"), ("Status", str(m.status)), ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.paused_reason), ("Wrapuptime", "0"),
    ])


def queue_entry(queue: str, position: int, snap: Snap, wait: int) -> Pairs:
    return _event("QueueEntry", None, [
        ("Queue", queue), ("Position", str(position)), ("Channel", snap.name), ("Uniqueid", snap.uniqueid),
        ("CallerIDNum", snap.cid_num), ("CallerIDName", snap.cid_name), ("ConnectedLineNum", snap.cl_num),
        ("ConnectedLineName", snap.cl_name), ("Wait", str(wait)), ("Priority", "0"),
    ])


def queue_summary(queue: str, logged_in: int, available: int, callers: int, holdtime: int, talktime: int,
                  longest: int) -> Pairs:
    return _event("QueueSummary", None, [
        ("Queue", queue), ("LoggedIn", str(logged_in)), ("Available", str(available)),
        ("Callers", str(callers)), ("HoldTime", str(holdtime)), ("TalkTime", str(talktime)),
        ("LongestHoldTime", str(longest)),
    ])


def core_show_channel(action_id: str | None, snap: Snap, application: str, data: str, duration: int,
                      bridge_id: str) -> Pairs:
    head: Pairs = [("ActionID", action_id)] if action_id is not None else []
    hours, rest = divmod(duration, 3600)
    return _event("CoreShowChannel", None, head, snap.pairs(), [
        ("Application", application), ("ApplicationData", data),
        ("Duration", f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"), ("BridgeId", bridge_id),
    ])


def channel_status(snap: Snap, *, dnid: str, bridge_id: str, application: str, data: str,
                   seconds: int) -> Pairs:
    """One ``Status`` list item (``Privilege: Call``, 08); formats as Asterisk shows a ulaw call."""
    return _event("Status", "Call", snap.pairs(), [
        ("Type", "PJSIP"), ("DNID", dnid), ("EffectiveConnectedLineNum", snap.cl_num),
        ("EffectiveConnectedLineName", snap.cl_name), ("TimeToHangup", "0"), ("BridgeID", bridge_id),
        ("Application", application), ("Data", data),
        ("Nativeformats", "(ulaw)" if snap.state == 6 else "(ulaw|alaw)"),
        ("Readformat", "ulaw"), ("Readtrans", ""),
        ("Writeformat", "slin" if snap.state == 4 else "ulaw"),
        ("Writetrans", "(slin@8000)->(ulaw@8000)" if snap.state == 4 else ""),
        ("Callgroup", "0"), ("Pickupgroup", "0"), ("Seconds", str(seconds)),
    ])


def endpoint_list(action_id: str | None, endpoint: str, contact: str, auth: bool, device_state_text: str,
                  active: int) -> Pairs:
    head: Pairs = [("ActionID", action_id)] if action_id is not None else []
    return _event("EndpointList", None, head, [
        ("ObjectType", "endpoint"), ("ObjectName", endpoint), ("Transport", "transport-udp"),
        ("Aor", endpoint), ("Auths", endpoint if auth else ""), ("OutboundAuths", ""),
        ("Contacts", f"{endpoint}/{contact}," if contact else ""), ("DeviceState", device_state_text),
        ("ActiveChannels", str(active)),
    ])


def contact_list(action_id: str | None, endpoint: str, object_hash: str, call_id: str, port: int,
                 expiration: int, roundtrip_usec: int) -> Pairs:
    head: Pairs = [("ActionID", action_id)] if action_id is not None else []
    return _event("ContactList", None, head, [
        ("ObjectType", "contact"), ("ObjectName", f"{endpoint};@{object_hash}"), ("ViaAddr", "127.0.0.1"),
        ("QualifyTimeout", "3.000000"), ("Qualify2xxOnly", "false"), ("CallId", call_id), ("RegServer", ""),
        ("PruneOnBoot", "no"), ("Path", ""), ("Endpoint", endpoint), ("ViaPort", str(port)),
        ("AuthenticateQualify", "no"), ("Uri", f"sip:{endpoint}@127.0.0.1:{port};ob"),
        ("QualifyFrequency", "30"), ("UserAgent", "telephony-sim-agent/pjsua2"),
        ("ExpirationTime", str(expiration)), ("OutboundProxy", ""), ("Status", "Reachable"),
        ("RoundtripUsec", str(roundtrip_usec)),
    ])
