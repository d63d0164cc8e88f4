"""The screens' JSON API under ``/api/v1`` (the guarded resource it is made of: :mod:`.guarded`).

Routes (``{…}`` is one path segment; see CONTRACTS "Web"):

=======  ======================================  ==========================================================
GET      agents/{ext}/events                     the agent's live feed (pop, ring, answered, ended)
POST     agents/{ext}/presence                   ``state`` ready | paused (with ``reason``) | wrapup
GET      agents/{ext}/tasks                      his open follow-ups
POST     tasks/{id}/done                         close one of his (a supervisor: anyone's)
GET      calls/{pbx}/{linkedid}                  a stored call with its offers and wrap-ups
POST     calls/{pbx}/{linkedid}/wrapup           the agent's wrap-up of a call he answered
GET      customers/{number}                      the customer card and the number's history
POST     customers/{number}                      change the card (name, company, notes, category)
GET      board  ·  board/events                  the live board, numbers in full (supervisors)
GET      queues/today                            each queue's day: service level, misses, abandons
POST     agents/{ext}/spy                        listen / whisper / barge on his call (supervisors)
=======  ======================================  ==========================================================

Who sees what: an agent his own extension, the calls he was offered or took and the customers he
serves or has served (``telephony.store.casework``); a supervisor everything.  Anyone else gets 403,
no sign-in 401 — never the data, and never a different answer for "exists but not yours" and "does
not exist" (both 404 once the caller may ask at all), so ids cannot be probed.  Bodies are JSON or
an HTML form; junk gets 400 naming the field.  Every POST made with a session needs its CSRF token.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Awaitable, Callable

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.web import server

from telephony.live.model import LiveModel
from telephony.numbers import NotAPhoneNumber, e164, e164_or_none
from telephony.privacy import mask_number
from telephony.store.casework import WrapUp, WrapUpProblem
from telephony.store.model import CUSTOMER_CATEGORIES
from telephony.store.people import Principal

from .auth import Gate
from .guarded import ActionSender, BadRequest, Denied, Guarded, body_of, record_id, respond_json, text_field
from .pop import AgentFeeds, TakenCall, presence_of
from .recordingapi import RecordingRoutes
from .reportapi import ReportRoutes
from .shiftapi import UNREAD_REASON, ShiftRoutes

log = logging.getLogger(__name__)

__all__ = ["Api", "PresenceActions"]

WRAPUP_REASON = "话后处理"
SPY_MODES = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}

Route = Callable[..., Awaitable[bytes | None]]


class PresenceActions:
    """Sends an agent's presence to Asterisk (``QueuePause`` in every queue, with the reason) and
    records who asked, so the call log credits the pause; wrap-up unpauses by itself after
    ``wrapup_s``.  Every action is logged."""

    def __init__(self, ami: ActionSender | None, store: Any, clock: IReactorTime, model: LiveModel, pbx: str,
                 wrapup_s: float) -> None:
        self.ami = ami
        self.store = store
        self.clock = clock
        self.model = model
        self.pbx = pbx
        self.wrapup_s = wrapup_s
        self._wrapups: dict[str, IDelayedCall] = {}

    def interface(self, extension: str) -> str:
        for queue in self.model.queues.values():
            for member in queue.members.values():
                if member.agent == extension:
                    return member.interface
        return f"PJSIP/{extension}"

    async def set(self, extension: str, state: str, reason: str | None, by: str) -> dict[str, Any]:
        if state not in ("ready", "paused", "wrapup"):
            raise BadRequest("state: one of ready, paused, wrapup")
        if state == "paused" and not (reason or "").strip():
            raise BadRequest("reason: say why (it is shown on the board and sent to Asterisk)")
        if reason is not None and len(reason) > 64:
            raise BadRequest("reason: at most 64 characters")
        if self.ami is None:
            raise Denied(503, "not connected to the PBX")
        paused = state != "ready"
        reason = WRAPUP_REASON if state == "wrapup" else (reason or "").strip() if paused else ""
        timer = self._wrapups.pop(extension, None)
        if timer is not None and timer.active():
            timer.cancel()
        try:
            await self.store.request_pause_change(self.pbx, extension, paused=paused, by=by, reason=reason or None)
        except Exception as exc:  # the pause matters more than who gets the credit for it
            log.warning("presence of %s: the request could not be recorded (%s); sending it anyway", extension, exc)
        interface = self.interface(extension)
        log.info("presence: QueuePause %s Paused=%s Reason=%s (asked by %s)", interface, paused, reason, by)
        await self.ami.action("QueuePause", [("Interface", interface), ("Paused", paused), ("Reason", reason)])
        result: dict[str, Any] = {"state": state, "reason": reason, "interface": interface}
        if state == "wrapup":
            self._wrapups[extension] = self.clock.callLater(self.wrapup_s, self._wrapup_over, extension)
            result["until"] = self.clock.seconds() + self.wrapup_s
        return result

    async def hold(self, extension: str, reason: str) -> None:
        """Pause him for ``reason`` (a gate such as unread announcements) unless he is paused already."""
        if presence_of(self.model, extension)["paused"]:
            return
        await self.set(extension, "paused", reason, "supervisor")

    async def release(self, extension: str, reason: str) -> None:
        """Unpause him if it is ``reason`` that holds him (never a pause he or a supervisor chose)."""
        now = presence_of(self.model, extension)
        if now["paused"] and now["reason"] == reason:
            await self.set(extension, "ready", None, "agent")

    def _wrapup_over(self, extension: str) -> None:
        # Only the wrap-up's own pause ends here: a pause that came meanwhile (the guard's, one from
        # the phone or a supervisor) is not undone by a timer.
        self._wrapups.pop(extension, None)
        defer.ensureDeferred(self.release(extension, WRAPUP_REASON)).addErrback(
            lambda failure: log.warning("wrap-up of %s over, but the unpause failed: %s", extension,
                                        failure.getErrorMessage()))

    def stop(self) -> None:
        for timer in self._wrapups.values():
            if timer.active():
                timer.cancel()
        self._wrapups.clear()


class Api(ShiftRoutes, RecordingRoutes, ReportRoutes, Guarded):
    """``/api/v1/…`` (see the module doc, and :mod:`telephony.desktop.shiftapi` for the rest)."""

    def __init__(self, gate: Gate, *, store: Any, feeds: AgentFeeds, presence: PresenceActions,
                 board: Callable[[], dict[str, Any]], open_board_stream: Callable[[server.Request], Any],
                 ami: ActionSender | None, pbx: str, model: LiveModel, tz: str = "Asia/Shanghai",
                 transfer_context: str = "agents", queue_context: str = "from-carrier",
                 announcements_required: bool = False, rings_allowed: Any = 3, recorder: Any = None,
                 wrapup_s: float = 30.0) -> None:
        super().__init__(gate)
        self.store = store
        self.feeds = feeds
        self.presence = presence
        self.board = board
        self.open_board_stream = open_board_stream
        self.ami = ami
        self.pbx = pbx
        self.model = model
        self.tz = tz
        self.transfer_context = transfer_context
        self.queue_context = queue_context
        self.announcements_required = announcements_required
        self.rings_allowed = rings_allowed
        self.recorder = recorder
        self.wrapup_s = wrapup_s
        self.routes: list[tuple[str, tuple[str, ...], Route]] = self.shift_routes() + self.recording_routes() + self.report_routes() + [
            ("GET", ("agents", "*", "events"), self.agent_events),
            ("POST", ("agents", "*", "presence"), self.set_presence),
            ("GET", ("agents", "*", "tasks"), self.tasks),
            ("POST", ("agents", "*", "spy"), self.spy),
            ("POST", ("tasks", "*", "done"), self.task_done),
            ("GET", ("calls", "*", "*"), self.call),
            ("POST", ("calls", "*", "*", "wrapup"), self.wrapup),
            ("GET", ("customers", "*"), self.customer),
            ("POST", ("customers", "*"), self.edit_customer),
            ("GET", ("board",), self.live_board),
            ("GET", ("board", "events"), self.board_events),
            ("GET", ("queues", "today"), self.queues_today),
        ]

    def _route(self, request: server.Request, method: str) -> tuple[Route, list[str]]:
        parts = [p.decode("utf-8", "replace") for p in request.postpath]
        for verb, pattern, route in self.routes:
            if len(pattern) == len(parts) and all(p in ("*", part) for p, part in zip(pattern, parts)):
                if verb == method:
                    return route, [part for p, part in zip(pattern, parts) if p == "*"]
        raise Denied(404, "no such resource")

    async def handle_GET(self, request: server.Request, who: Principal) -> bytes | None:
        route, args = self._route(request, "GET")
        return await route(request, who, *args)

    async def handle_POST(self, request: server.Request, who: Principal) -> bytes | None:
        route, args = self._route(request, "POST")
        return await route(request, who, *args)

    # -- who may -----------------------------------------------------------------------------------------

    @staticmethod
    def _own_or_supervisor(who: Principal, extension: str) -> None:
        if not who.may_see_agent(extension):
            raise Denied(403, f"only agent {extension} himself or a supervisor may do this")

    @staticmethod
    def _supervisor(who: Principal) -> None:
        if not who.is_supervisor:
            raise Denied(403, "supervisors only")

    async def _may_see_call(self, who: Principal, pbx: str, linkedid: str) -> bool:
        if who.is_supervisor:
            return True
        if who.role != "agent" or who.extension is None:
            return False
        if self.feeds.took(who.extension, pbx, linkedid) is not None:
            return True
        return bool(await self.store.agent_may_see_call(who.extension, pbx, linkedid))

    async def _answered(self, extension: str, pbx: str, linkedid: str) -> TakenCall | None:
        """The call if ``extension`` answered it (as the feed saw it lately, or as the call log has it,
        an answer after a transfer included), else None."""
        live = self.feeds.took(extension, pbx, linkedid, answered=True)
        if live is not None:
            return live
        stored = await self.store.get_call(pbx, linkedid)
        if stored is not None and (stored.answered_by == extension or any(
                o.agent == extension and o.result == "answered" for o in stored.offers)):
            return TakenCall(pbx, linkedid, stored.caller, True)
        return None

    async def _may_see_customer(self, who: Principal, normal: str) -> bool:
        """``normal``: the number in E.164."""
        if who.is_supervisor:
            return True
        if who.role != "agent" or who.extension is None:
            return False
        if any(e164_or_none(t.caller) == normal for t in self.feeds.taken(who.extension)):
            return True
        return bool(await self.store.agent_serves_customer(who.extension, normal))

    # -- agents ------------------------------------------------------------------------------------------

    async def agent_events(self, request: server.Request, who: Principal, extension: str) -> None:
        self._own_or_supervisor(who, extension)
        self.feeds.open(request, extension)
        if who.extension == extension:
            try:
                await self.gate_on_announcements(who)
            except Exception as exc:  # the feed is open; a failed gate must not close it
                log.warning("announcement gate for %s: %s", extension, exc)
        return None

    async def set_presence(self, request: server.Request, who: Principal, extension: str) -> bytes:
        self._own_or_supervisor(who, extension)
        body = body_of(request)
        by = "agent" if who.extension == extension and who.role == "agent" else "supervisor"
        # wrap-up ends in "ready" by itself: both wait until the announcements are read
        if by == "agent" and body.get("state") in ("ready", "wrapup") and self.announcements_required and \
                who.session_id is not None and await self.store.announcements_for(who.name, unread_only=True):
            raise Denied(409, f"read and acknowledge the announcements first ({UNREAD_REASON})")
        result = await self.presence.set(extension, str(body.get("state", "")), text_field(body, "reason", 64), by)
        return respond_json(request, 200, result)

    async def tasks(self, request: server.Request, who: Principal, extension: str) -> bytes:
        self._own_or_supervisor(who, extension)
        return respond_json(request, 200, {"tasks": await self.store.open_tasks(extension)})

    async def task_done(self, request: server.Request, who: Principal, task_id: str) -> bytes:
        if who.role not in ("agent", "supervisor"):
            raise Denied(403, "agents and supervisors only")
        number = record_id(task_id, "task")
        closed = await self.store.close_task(number, by=None if who.is_supervisor else who.extension)
        if not closed:
            raise Denied(404, "no such open task of yours")
        return respond_json(request, 200, {"id": number, "status": "done"})

    async def spy(self, request: server.Request, who: Principal, extension: str) -> bytes:
        """ChanSpy on the agent's call from the supervisor's own phone (an Originate to it)."""
        self._supervisor(who)
        mode = str(body_of(request).get("mode", ""))
        if mode not in SPY_MODES:
            raise BadRequest(f"mode: one of {', '.join(SPY_MODES)}")
        if not who.extension:
            raise BadRequest("your user has no extension to ring: `telephony user add … --extension`")
        if self.ami is None:
            raise Denied(503, "not connected to the PBX")
        target = self.presence.interface(extension)
        fields = [("Channel", f"PJSIP/{who.extension}"), ("Application", "ChanSpy"),
                  ("Data", f"{target},{SPY_MODES[mode]}"), ("CallerID", f"{mode} {extension}"), ("Async", True),
                  ("Timeout", 30000)]
        log.info("supervisor %s: %s on %s (Originate PJSIP/%s ChanSpy)", who.name, mode, target, who.extension)
        await self.ami.action("Originate", fields)
        return respond_json(request, 202, {"mode": mode, "agent": extension, "ringing": f"PJSIP/{who.extension}"})

    # -- calls and customers ------------------------------------------------------------------------------

    async def call(self, request: server.Request, who: Principal, pbx: str, linkedid: str) -> bytes:
        if not await self._may_see_call(who, pbx, linkedid):
            raise Denied(404, "no such call of yours")
        stored = await self.store.get_call(pbx, linkedid)
        if stored is None:
            raise Denied(404, "the call is not in the call log yet")
        wrapups = {}
        for agent in {o.agent for o in stored.offers} | ({stored.answered_by} - {None}):
            found = await self.store.wrapup_for(pbx, linkedid, agent)
            if found is not None:
                wrapups[agent] = found
        return respond_json(request, 200, {**_call_json(stored), "wrapups": wrapups})

    async def wrapup(self, request: server.Request, who: Principal, pbx: str, linkedid: str) -> bytes:
        if who.role != "agent" or who.extension is None:
            raise Denied(403, "only the agent who took the call writes its wrap-up")
        taken = await self._answered(who.extension, pbx, linkedid)
        if taken is None:
            raise Denied(404, "no call of yours with that id")
        body = body_of(request)
        wrapup = WrapUp(problem_type=str(body.get("problem_type", "")), resolution=str(body.get("resolution", "")),
                        order_no=text_field(body, "order_no", 64), notes=text_field(body, "notes", 4000, lines=True),
                        follow_up_due=_when(body, "follow_up_due"), category=_category(body))
        try:
            saved = await self.store.save_wrapup(pbx, linkedid, who.extension, taken.caller, wrapup)
        except (WrapUpProblem, NotAPhoneNumber) as exc:
            raise BadRequest(str(exc)) from None
        log.info("wrap-up of %s/%s saved by %s (%s, %s)", pbx, linkedid, who.extension, wrapup.problem_type,
                 wrapup.resolution)
        return respond_json(request, 200, saved)

    async def customer(self, request: server.Request, who: Principal, number: str) -> bytes:
        normal = _number(number)
        if not await self._may_see_customer(who, normal):
            raise Denied(404, "no customer of yours with that number")
        return respond_json(request, 200, await self.store.pop_facts(normal))

    async def edit_customer(self, request: server.Request, who: Principal, number: str) -> bytes:
        normal = _number(number)
        if not await self._may_see_customer(who, normal):
            raise Denied(404, "no customer of yours with that number")
        body = body_of(request)
        fields = {name: text_field(body, name, 4000 if name == "notes" else 255, lines=name == "notes")
                  for name in ("name", "company", "notes")
                  if name in body}
        if "category" in body:
            fields["category"] = _category(body)
        saved = await self.store.upsert_customer(normal, **fields)
        log.info("customer %s changed by %s (%s)", mask_number(normal), who.name, ", ".join(sorted(fields)) or "-")
        return respond_json(request, 200, {"number": saved.number, "name": saved.name, "category": saved.category,
                                           "company": saved.company, "notes": saved.notes})

    # -- the supervisor's board ---------------------------------------------------------------------------

    async def live_board(self, request: server.Request, who: Principal) -> bytes:
        self._supervisor(who)
        return respond_json(request, 200, self.board())

    async def queues_today(self, request: server.Request, who: Principal) -> bytes:
        self._supervisor(who)
        rows = await self.store.queues_today(self.pbx, tz=self.tz, rings_allowed=self.rings_allowed)
        return respond_json(request, 200, {"queues": rows})

    async def board_events(self, request: server.Request, who: Principal) -> None:
        self._supervisor(who)
        self.open_board_stream(request)
        return None


def _number(text: str) -> str:
    try:
        return e164(text)
    except NotAPhoneNumber as exc:
        raise BadRequest(str(exc)) from None


def _when(body: dict[str, Any], name: str) -> datetime | None:
    text = text_field(body, name, 64)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: a date and time such as 2026-12-08T10:00+08:00") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}: give the time zone too, e.g. 2026-12-08T10:00+08:00")
    if not 2000 <= value.year <= 2100:
        raise BadRequest(f"{name}: a date between 2000 and 2100")
    return value


def _category(body: dict[str, Any]) -> str | None:
    value = text_field(body, "category", 16)
    if value is not None and value not in CUSTOMER_CATEGORIES:
        raise BadRequest(f"category: one of {' / '.join(CUSTOMER_CATEGORIES)}")
    return value


def _call_json(call: Any) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "pbx": call.pbx, "linkedid": call.linkedid, "caller": call.caller, "caller_name": call.caller_name,
        "entered_at": iso(call.entered_at), "queue": call.queue, "answered_by": call.answered_by,
        "answered_at": iso(call.answered_at), "wait_s": call.wait_s, "rings_to_answer": call.rings_to_answer,
        "apologise": call.apologise, "talk_s": call.talk_s, "outcome": call.outcome, "hangup_by": call.hangup_by,
        "ended_at": iso(call.ended_at), "direction": call.direction,
        "offers": [{"agent": o.agent, "queue": o.queue, "rings": o.rings, "rang_s": o.rang_s, "result": o.result}
                   for o in call.offers],
    }
