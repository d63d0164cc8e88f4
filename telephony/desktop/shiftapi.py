"""The ``/api/v1`` routes around the calls (mixed into :class:`telephony.desktop.api.Api`):

=======  ======================================  ==========================================================
POST     calls/{pbx}/{linkedid}/transfer         pass the caller on (``to``, ``how`` blind | attended,
                                                 ``note``, ``caller_agreed``); the note pops at the receiver
POST     agents/{ext}/handover                   hand the open items to a colleague (``to``, ``note``)
GET      agents/{ext}/handovers                  handovers to him not yet acknowledged
POST     handovers/{id}/ack                      acknowledge one
GET      announcements                           the active ones, each with ``read``
POST     announcements                           post one (supervisors): ``kind`` announcement | faq
POST     announcements/{id}/ack                  read and understood
GET      faq?q=…                                 FAQ entries containing the words (Chinese too)
POST     alerts/ack                              a supervisor acknowledges a guard alert (its facts)
=======  ======================================  ==========================================================

A transfer to a colleague's extension (blind or attended) dials in ``web.transfer_context``; an
escalation to another queue redirects the caller to the queue's number in ``web.queue_context``.
The handbook's transfer: ask the caller first whether it suits him and say why (the request must
say ``caller_agreed: true``: the screen asks), then follow the case and report back (a ``transfer``
item is left on the agent's list).  With ``announcements_required`` an agent stays paused
(``未读公告``) until he has acknowledged every active announcement.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any

from twisted.web import server

from telephony.privacy import mask_number
from telephony.store.people import Principal
from telephony.store.shift import ShiftProblem

from .guarded import BadRequest, Denied, body_of, record_id, respond_json, text_field

log = logging.getLogger(__name__)

__all__ = ["ShiftRoutes", "UNREAD_REASON"]

UNREAD_REASON = "未读公告"
#: how → the AMI action
TRANSFERS = {"blind": "BlindTransfer", "attended": "Atxfer", "queue": "Redirect"}
_TARGET = re.compile(r"^[0-9A-Za-z_*#-]{1,32}$")


class ShiftRoutes:
    """Route methods; the class using it provides ``store``, ``feeds``, ``presence``, ``model``,
    ``ami``, ``tz``, ``transfer_context``, ``announcements_required`` and the helpers of ``Api``."""

    def shift_routes(self) -> list[tuple[str, tuple[str, ...], Any]]:
        return [
            ("POST", ("calls", "*", "*", "transfer"), self.transfer),
            ("POST", ("agents", "*", "handover"), self.handover),
            ("GET", ("agents", "*", "handovers"), self.handovers),
            ("POST", ("handovers", "*", "ack"), self.ack_handover),
            ("GET", ("announcements",), self.announcements),
            ("POST", ("announcements",), self.post_announcement),
            ("POST", ("announcements", "*", "ack"), self.ack_announcement),
            ("GET", ("faq",), self.faq),
            ("POST", ("alerts", "ack"), self.ack_alert),
        ]

    # -- transfer -----------------------------------------------------------------------------------------

    async def transfer(self, request: server.Request, who: Principal, pbx: str, linkedid: str) -> bytes:
        """``how``: ``blind`` (AMI ``BlindTransfer`` of the agent's leg to ``to`` in the transfer
        context, capture 23c), ``attended`` (``Atxfer``: he talks to the colleague first, 23b) or
        ``queue`` (``Redirect`` of the caller's channel to the queue number ``to`` in the queue
        context: back into a queue, as an escalation, 23a)."""
        if who.role != "agent" or who.extension is None:
            raise Denied(403, "only the agent on the call transfers it")
        call = self.model.calls.get(linkedid) if pbx == self.pbx else None
        if call is None or call.talking_with != who.extension:
            raise Denied(404, "no call of yours is talking with that id")
        body = body_of(request)
        target = text_field(body, "to", 32) or ""
        if not _TARGET.match(target):
            raise BadRequest("to: the extension or queue number to pass the caller to")
        how = text_field(body, "how", 16) or "blind"
        if how not in TRANSFERS:
            raise BadRequest(f"how: one of {', '.join(TRANSFERS)}")
        if body.get("caller_agreed") not in (True, "true", "on", "1"):
            raise BadRequest("caller_agreed: ask the caller first whether the transfer suits him, and say why")
        note = text_field(body, "note", 1000)
        channel = next((o.channel for o in reversed(call.offers) if o.agent == who.extension and o.result == "answered"),
                       call.answer_channel)
        if channel is None:
            raise Denied(409, "the daemon does not know your channel for this call (it was answered unseen)")
        action = TRANSFERS[how]
        if how == "queue":
            caller_channel = next((o.caller_channel for o in reversed(call.offers)
                                   if o.agent == who.extension and o.caller_channel), None)
            if caller_channel is None:
                raise Denied(409, "the daemon does not know the caller's channel for this call")
            channel, context = caller_channel, self.queue_context
            fields = [("Channel", channel), ("Context", context), ("Exten", target), ("Priority", 1)]
        else:
            context = self.transfer_context
            fields = [("Channel", channel), ("Context", context), ("Exten", target)]
        log.info("transfer: %s %s → %s@%s (asked by %s, caller %s)", action, channel, target, context,
                 who.extension, mask_number(call.caller))
        await self.ami.action(action, fields) if self.ami is not None else _no_pbx()
        self.feeds.note_transfer(linkedid, from_agent=who.extension, to=target, note=note)
        text = f"→ {target}" + (f"：{note}" if note else "")
        task = await self.store.add_task(who.extension, "transfer", text, customer=call.caller, pbx=pbx,
                                         linkedid=linkedid)
        return respond_json(request, 202, {"action": action, "to": target, "follow_up_task": task})

    # -- handover ----------------------------------------------------------------------------------------

    async def handover(self, request: server.Request, who: Principal, extension: str) -> bytes:

        if not (who.role == "agent" and who.extension == extension):
            raise Denied(403, "an agent hands over his own shift")
        body = body_of(request)
        try:
            handover = await self.store.hand_over(extension, text_field(body, "to", 64) or "",
                                                  text_field(body, "note", 4000, lines=True), tz=self.tz)
        except ShiftProblem as exc:
            raise BadRequest(str(exc)) from None
        log.info("handover: %s → %s (%d items)", extension, handover["to"], len(handover["summary"]["items"]))
        return respond_json(request, 200, handover)

    async def handovers(self, request: server.Request, who: Principal, extension: str) -> bytes:

        self._own_or_supervisor(who, extension)
        return respond_json(request, 200, {"handovers": await self.store.pending_handovers(extension)})

    async def ack_handover(self, request: server.Request, who: Principal, handover_id: str) -> bytes:

        number = record_id(handover_id, "handover")
        if who.role != "agent" or not await self.store.acknowledge_handover(number, who.extension):
            raise Denied(404, "no open handover to you with that id")
        return respond_json(request, 200, {"id": number, "acknowledged": True})

    # -- announcements and FAQ ---------------------------------------------------------------------------

    async def announcements(self, request: server.Request, who: Principal) -> bytes:

        return respond_json(request, 200, {"announcements": await self.store.announcements_for(who.name),
                                           "required": self.announcements_required})

    async def post_announcement(self, request: server.Request, who: Principal) -> bytes:

        self._supervisor(who)
        body = body_of(request)
        try:
            new_id = await self.store.post_announcement(text_field(body, "kind", 16) or "announcement",
                                                        text_field(body, "title", 255) or "",
                                                        text_field(body, "body", 10_000, lines=True) or "",
                                                        by=who.name)
        except ShiftProblem as exc:
            raise BadRequest(str(exc)) from None
        log.info("announcement %d posted by %s", new_id, who.name)
        return respond_json(request, 201, {"id": new_id})

    async def ack_announcement(self, request: server.Request, who: Principal, announcement_id: str) -> bytes:

        number = record_id(announcement_id, "announcement")
        if not await self.store.acknowledge_announcement(number, who.name):
            raise Denied(404, "no such announcement")
        unread = await self.store.announcements_for(who.name, unread_only=True)
        if not unread and who.role == "agent" and who.extension and self.announcements_required \
                and who.session_id is not None:
            await self.presence.release(who.extension, UNREAD_REASON)
        return respond_json(request, 200, {"id": number, "unread": len(unread)})

    async def faq(self, request: server.Request, who: Principal) -> bytes:

        query = (request.args.get(b"q") or [b""])[0].decode("utf-8", "replace")
        if len(query) > 100:
            raise BadRequest("q: at most 100 characters")
        return respond_json(request, 200, {"faq": await self.store.search_faq(query)})

    async def gate_on_announcements(self, who: Principal) -> None:
        """At an agent's sign-in (his feed opening): pause him while required announcements wait."""
        # a person who signed in, not a program reading his feed with a token (it reads no announcement)
        if not (self.announcements_required and who.role == "agent" and who.extension and who.session_id is not None):
            return
        if await self.store.announcements_for(who.name, unread_only=True):
            await self.presence.hold(who.extension, UNREAD_REASON)

    # -- alerts --------------------------------------------------------------------------------------------

    async def ack_alert(self, request: server.Request, who: Principal) -> bytes:

        self._supervisor(who)
        body = body_of(request)
        try:
            at = float(body["at"])
        except (KeyError, TypeError, ValueError):
            at = math.nan
        kind = text_field(body, "kind", 32)
        if kind is None or not math.isfinite(at) or not 0 < at < 4_102_444_800:  # before 2100
            raise BadRequest("kind and at (epoch seconds) name the alert")
        # the board gives them as it shows them; an id may come as a number
        facts = {name: None if body.get(name) is None else text_field({name: str(body[name])}, name, 128)
                 for name in ("agent", "queue", "linkedid")}
        if not await self.store.acknowledge_alert_fact(self.pbx, kind, at, facts["agent"], facts["queue"],
                                                       facts["linkedid"]):
            raise Denied(404, "no open alert with those facts")
        log.info("alert %s %s acknowledged by %s", kind, facts["agent"] or facts["queue"] or "", who.name)
        return respond_json(request, 200, {"acknowledged": True})


def _no_pbx() -> None:
    raise Denied(503, "not connected to the PBX")
