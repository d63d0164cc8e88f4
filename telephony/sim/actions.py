"""The AMI actions the simulated PBX serves, answered the way Asterisk 22.10 answers them.

:class:`PBXActions` is the :class:`telephony.ami.server.ActionHandler` for
:class:`telephony.ami.server.ManagerFactory`; login, logoff and "Permission denied" are the
server's.  Every answer's header set and order is a capture's: list actions answer
``Response``, ``ActionID``, ``EventList: start``, ``Message`` and then send their items (ActionID
last) and a ``…Complete`` to the asking session only; ``MixMonitor``/``StopMixMonitor``/
``MixMonitorMute`` answer without a ``Message`` (07, 22); the response always goes out before
the events the action causes (16, 17).  An action the PBX does not know gets ``Response: Error``
/ ``Message: Invalid/unknown command``.
"""
from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Callable

from telephony.ami.protocol import Message, format_message

from . import render
from .app_dial import Originate
from .dialplan import exists
from .render import Pairs

if TYPE_CHECKING:
    from telephony.ami.server import ManagerSession

    from .pbx import PBX

__all__ = ["PBXActions"]

TRUE = ("true", "yes", "1", "on")


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


class PBXActions:
    """Serves AMI actions from the engine's state; see the module docstring."""

    def __init__(self, pbx: "PBX") -> None:
        self.pbx = pbx
        #: simulated time until which a restarted PBX is still booting (FullyBooted waits for it)
        self.booting_until: float | None = None
        self._handlers: dict[str, Callable[["ManagerSession", Message], None]] = {
            name[len("action_"):]: getattr(self, name) for name in dir(self) if name.startswith("action_")
        }

    # -- the ActionHandler protocol -----------------------------------------------------------------

    def handle_action(self, session: "ManagerSession", action: Message) -> None:
        handler = self._handlers.get((action.action or "").lower())
        if handler is None:
            session.error(action, "Invalid/unknown command")
            return
        handler(session, action)

    def session_started(self, session: "ManagerSession") -> None:
        """Login succeeded: FullyBooted to this session (later if the PBX is still booting, 15),
        and SuccessfulAuth to everybody listening."""
        pbx = self.pbx
        if self.booting_until is not None and pbx.now() < self.booting_until:
            pbx.later(self.booting_until - pbx.now(), self._fully_booted, session, True)
        else:
            self._fully_booted(session, False)
        host, peer = session.transport.getHost(), session.transport.getPeer()
        now = pbx.now()
        pbx.emit(render.security_event(
            "SuccessfulAuth", now, "AMI", session.username or "", f"0x7f{session.id:010x}",
            f"IPV4/TCP/{getattr(host, 'host', '127.0.0.1')}/{getattr(host, 'port', 5038)}",
            f"IPV4/TCP/{getattr(peer, 'host', '127.0.0.1')}/{getattr(peer, 'port', 0)}",
            ("UsingPassword", "0"), ("SessionTV", render.event_tv(now))))

    def _fully_booted(self, session: "ManagerSession", after_restart: bool) -> None:
        if session.events_on:
            uptime = self.pbx.uptime()
            session.send(format_message(render.fully_booted(uptime, uptime, after_restart=after_restart)))

    # -- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _send_list(session: "ManagerSession", action: Message, message: str, items: list[Pairs],
                   complete: str, *extra: tuple[str, str]) -> None:
        action_id = action.action_id
        session.respond(action, "Success", [("EventList", "start"), ("Message", message)])
        for item in items:
            session.send(format_message(item))
        session.send(format_message(render.list_complete(complete, action_id, len(items), *extra)))

    # -- simple ones --------------------------------------------------------------------------------

    def action_ping(self, session: "ManagerSession", action: Message) -> None:
        session.respond(action, "Success", [("Ping", "Pong"), ("Timestamp", f"{self.pbx.now():.6f}")])

    def action_corestatus(self, session: "ManagerSession", action: Message) -> None:
        booted = time.gmtime(self.pbx.booted_at)
        session.respond(action, "Success", [
            ("CoreStartupDate", time.strftime("%Y-%m-%d", booted)),
            ("CoreStartupTime", time.strftime("%H:%M:%S", booted)),
            ("CoreReloadDate", time.strftime("%Y-%m-%d", booted)),
            ("CoreReloadTime", time.strftime("%H:%M:%S", booted)),
            ("CoreCurrentCalls", str(len(self.pbx.calls))),
            ("CoreProcessedCalls", str(self.pbx.stats.calls_placed)),
        ])

    def action_command(self, session: "ManagerSession", action: Message) -> None:
        """``Command``: ``Response: Success``, ``Message: Command output follows``, ``Output:`` lines (01)."""
        command = " ".join((action.get("Command") or "").split()).lower()
        pbx = self.pbx
        if command == "core show version":
            built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(pbx.booted_at - 600))
            output = [f"Asterisk {pbx.config.version} built by root @ vm on a x86_64 running Linux on {built}"]
        elif command == "core show uptime":
            output = [f"System uptime: {pbx.uptime()} seconds", f"Last reload: {pbx.uptime()} seconds"]
        elif command == "core show channels":
            count = len(pbx.channel_names())
            output = ["Channel              Location             State   Application(Data)",
                      *(name for name in pbx.channel_names()),
                      f"{count} active channel{'s' if count != 1 else ''}",
                      f"{len(pbx.calls)} active call{'s' if len(pbx.calls) != 1 else ''}",
                      f"{pbx.stats.calls_placed} call{'s' if pbx.stats.calls_placed != 1 else ''} processed"]
        else:
            session.respond(action, "Error", [("Message", "Command output follows"),
                                              ("Output", f"No such command '{command}' (type 'core show help "
                                                         f"{command}' for other possible commands)")])
            return
        session.respond(action, "Success", [("Message", "Command output follows"),
                                            *(("Output", line) for line in output)])

    # -- calls ----------------------------------------------------------------------------------------

    def action_originate(self, session: "ManagerSession", action: Message) -> None:
        if not action.get("Channel"):
            session.error(action, "Channel not specified")
            return
        if not action.get("Application") and not action.get("Exten"):
            session.error(action, "Exten not specified")
            return
        fields = {k: v for k, v in action.headers if k not in ("Variable",)}
        variables = [v for item in action.getall("Variable") for v in item.split(",") if v]
        is_async = _is_true(action.get("Async"))

        def report(event: Pairs | None, success: bool) -> None:
            if is_async:
                if event is not None:
                    self.pbx.emit(event)
            elif success:
                session.respond(action, "Success", message="Originate successfully queued")
            else:
                session.error(action, "Originate failed")

        if is_async:
            session.respond(action, "Success", message="Originate successfully queued")
        Originate(self.pbx, fields, variables, report).start()

    def action_redirect(self, session: "ManagerSession", action: Message) -> None:
        name = action.get("Channel")
        if not name:
            session.error(action, "Channel not specified")
            return
        channel = self.pbx.find_channel(name)
        if channel is None:
            session.error(action, f"Channel does not exist: {name}")
            return
        context, exten = action.get("Context") or "", action.get("Exten") or ""
        try:
            priority = int(action.get("Priority") or 1)
        except ValueError:
            session.error(action, "Invalid priority")
            return
        if not exists(self.pbx.config, context, exten, priority) or not self.pbx.can_redirect(name):
            session.error(action, "Redirect failed")
            return
        session.respond(action, "Success", message="Redirect successful")
        self.pbx.redirect(name, context, exten, priority)

    def action_hangup(self, session: "ManagerSession", action: Message) -> None:
        """One channel (16, 17a, 17b) or, for ``/regex/``, a list of ``ChannelHungup`` (17c)."""
        name = action.get("Channel") or ""
        cause_text = action.get("Cause")
        cause = int(cause_text) if cause_text and cause_text.strip().isdigit() else None
        if len(name) > 1 and name.startswith("/") and name.endswith("/"):
            try:
                pattern = re.compile(name[1:-1])
            except re.error:
                session.error(action, "Invalid regex")
                return
            matches = [n for n in self.pbx.channel_names() if pattern.search(n)]
            session.respond(action, "Success", [("EventList", "start"), ("Message", "Channels hung up will follow")])
            for match in matches:
                self.pbx.hangup(match, cause)
                session.send(format_message(render.with_action_id(
                    [("Event", "ChannelHungup"), ("Channel", match)], action.action_id)))
            session.send(format_message(render.list_complete("ChannelsHungupListComplete", action.action_id,
                                                             len(matches))))
            return
        if self.pbx.find_channel(name) is None:
            session.error(action, "No such channel")
            return
        session.respond(action, "Success", message="Channel Hungup")
        self.pbx.hangup(name, cause)

    def action_mixmonitor(self, session: "ManagerSession", action: Message) -> None:
        name = action.get("Channel") or ""
        if self.pbx.find_channel(name) is None:
            session.error(action, "No such channel")
            return
        session.respond(action, "Success")
        self.pbx.mixmonitor(name, action.get("File") or f"/var/spool/asterisk/monitor/{name.replace('/', '-')}.wav")

    def action_stopmixmonitor(self, session: "ManagerSession", action: Message) -> None:
        name = action.get("Channel") or ""
        if self.pbx.find_channel(name) is None:
            session.error(action, "No such channel")
            return
        session.respond(action, "Success")
        self.pbx.stop_mixmonitor(name)

    def action_mixmonitormute(self, session: "ManagerSession", action: Message) -> None:
        name = action.get("Channel") or ""
        if self.pbx.find_channel(name) is None:
            session.error(action, "No such channel")
            return
        session.respond(action, "Success")
        self.pbx.mixmonitor_mute(name, action.get("Direction") or "both", _is_true(action.get("State")))

    # -- queues ---------------------------------------------------------------------------------------

    def action_queuepause(self, session: "ManagerSession", action: Message) -> None:
        interface = action.get("Interface")
        paused_text = action.get("Paused")
        if not interface or paused_text is None:
            session.error(action, "Need 'Interface' and 'Paused' parameters.")
            return
        paused = _is_true(paused_text)
        queue = action.get("Queue") or None
        known = any(m.interface.lower() == interface.lower() and (queue is None or m.queue == queue)
                    for a in self.pbx.endpoints.values() for m in a.members)
        if not known:
            session.error(action, "Interface not found")
            return
        session.respond(action, "Success",
                        message="Interface paused successfully" if paused else "Interface unpaused successfully")
        self.pbx.queue_pause(interface, paused, action.get("Reason") or "", queue)

    def action_queuestatus(self, session: "ManagerSession", action: Message) -> None:
        pbx, action_id = self.pbx, action.action_id
        wanted_queue, wanted_member = action.get("Queue") or None, action.get("Member") or None
        items: list[Pairs] = []
        now = pbx.now()
        for queue in pbx.app_queue.queues.values():
            if wanted_queue is not None and queue.name != wanted_queue:
                continue
            items.append(render.with_action_id(render.queue_params(
                queue.name, queue.config.strategy, len(queue.waiting), queue.holdtime, queue.talktime,
                queue.completed, queue.abandoned), action_id))
            for member in pbx.app_queue.members(queue):
                if wanted_member is not None and member.interface != wanted_member:
                    continue
                items.append(render.with_action_id(render.queue_member(pbx.member_snap(member)), action_id))
            for position, run in enumerate(queue.waiting, start=1):
                items.append(render.with_action_id(render.queue_entry(
                    queue.name, position, run.caller.snap(), int(now - run.joined_at)), action_id))
        self._send_list(session, action, "Queue status will follow", items, "QueueStatusComplete")

    def action_queuesummary(self, session: "ManagerSession", action: Message) -> None:
        pbx, now = self.pbx, self.pbx.now()
        wanted = action.get("Queue") or None
        items: list[Pairs] = []
        for queue in pbx.app_queue.queues.values():
            if wanted is not None and queue.name != wanted:
                continue
            members = pbx.app_queue.members(queue)
            logged_in = sum(1 for m in members if pbx.endpoints[m.extension].registered)
            available = sum(1 for m in members if pbx.member_available(m))
            longest = max((int(now - run.joined_at) for run in queue.waiting), default=0)
            items.append(render.with_action_id(render.queue_summary(
                queue.name, logged_in, available, len(queue.waiting), queue.holdtime, queue.talktime, longest),
                action.action_id))
        self._send_list(session, action, "Queue summary will follow", items, "QueueSummaryComplete")

    # -- channels and endpoints ----------------------------------------------------------------------

    def _live_channels(self) -> list:
        return sorted((c for c in self.pbx.channels.values() if c.alive), key=lambda c: c.created, reverse=True)

    def action_coreshowchannels(self, session: "ManagerSession", action: Message) -> None:
        now = self.pbx.now()
        items = [render.core_show_channel(action.action_id, c.snap(), c.app, c.app_data, int(now - c.created),
                                          c.bridge.uniqueid if c.bridge else "") for c in self._live_channels()]
        self._send_list(session, action, "Channels will follow", items, "CoreShowChannelsComplete")

    def action_status(self, session: "ManagerSession", action: Message) -> None:
        now = self.pbx.now()
        wanted = action.get("Channel") or None
        channels = [c for c in self._live_channels() if wanted is None or c.name == wanted]
        if wanted is not None and not channels:
            session.error(action, "No such channel")
            return
        items = [render.with_action_id(render.channel_status(
            c.snap(), dnid=c.dnid, bridge_id=c.bridge.uniqueid if c.bridge else "", application=c.app,
            data=c.app_data, seconds=int(now - c.created)), action.action_id) for c in channels]
        self._send_list(session, action, "Channel status will follow", items, "StatusComplete",
                        ("Items", str(len(items))))

    def action_pjsipshowendpoints(self, session: "ManagerSession", action: Message) -> None:
        pbx = self.pbx
        texts = {1: "Not in use", 2: "In use", 5: "Unavailable", 6: "Ringing"}
        items: list[Pairs] = []
        for agent in pbx.endpoints.values():
            contact = pbx.contact_uri(agent) if agent.registered else ""
            items.append(render.endpoint_list(action.action_id, agent.extension, contact, True,
                                              texts[agent.status], sum(1 for c in agent.legs if c.alive)))
        carrier = pbx.config.carrier
        active = sum(1 for c in pbx.channels.values() if c.alive and c.endpoint == carrier)
        items.append(render.endpoint_list(action.action_id, carrier, "sip:127.0.0.1:5070", False,
                                          "In use" if active else "Not in use", active))
        self._send_list(session, action, "A listing of Endpoints follows, presented as EndpointList events",
                        items, "EndpointListComplete")

    def action_pjsipshowcontacts(self, session: "ManagerSession", action: Message) -> None:
        pbx = self.pbx
        items = [render.contact_list(action.action_id, a.extension, hashlib.md5(a.session_id.encode()).hexdigest(),
                                     a.session_id, a.config.port, int(pbx.now()) + 300, 500)
                 for a in pbx.endpoints.values() if a.registered]
        self._send_list(session, action, "A listing of Contacts follows, presented as ContactList events",
                        items, "ContactListComplete")
