"""The signed-in pages: ``/login`` (GET form, POST sign-in), ``POST /logout``, ``/agent`` and
``/supervisor``, rendered on the server; ``static/agent.js`` and ``static/supervisor.js`` bring them
alive.  Everything shown is escaped by :mod:`telephony.desktop.markup`; the agent's page gets the
caller's data only through its feed, as text (see agent.js).

Sign-in answers (CONTRACTS "Web"): a good name and password → 303 to ``/agent`` or ``/supervisor``
by role (ops staff to the public board ``/``: they configure the centre, they do not supervise
calls); a wrong one → 401 with the form again, never saying which of the two was wrong; a stale
form (CSRF) → 403 with a fresh form; too many failures → 429 with ``Retry-After``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable
from zoneinfo import ZoneInfo

from twisted.internet import defer
from twisted.web import resource, server

from telephony.store.model import CUSTOMER_CATEGORIES, PROBLEM_TYPES, RESOLUTIONS
from telephony.store.people import Principal

from .guarded import Guarded
from .auth import Gate, SignInBusy
from .i18n import Catalog
from .markup import Html, el, join
from .render import board_page, language_link, layout, section

log = logging.getLogger(__name__)

__all__ = ["AgentPage", "LoginPage", "LogoutResource", "SupervisorPage"]

HOME = {"agent": b"/agent", "supervisor": b"/supervisor", "ops": b"/"}
MAX_FIELD = 256


def _html(request: server.Request, code: int, body: bytes) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return body


def _redirect(request: server.Request, to: bytes) -> bytes:
    request.setResponseCode(303)
    request.setHeader(b"location", to)
    return b""


def signed_in_header(t: Catalog, who: Principal) -> Html:
    return join(el("span", {"class": "user"}, t.t("screen.signed_in_as", name=who.name, ext=who.extension or "-")),
                el("form", {"method": "post", "action": "/logout", "class": "logout"},
                   el("input", {"type": "hidden", "name": "csrf_token", "value": who.csrf_token or ""}),
                   el("button", {"type": "submit"}, t.t("screen.sign_out"))))


def login_page(t: Catalog, *, csrf: str, tz: ZoneInfo, now: float, message: str | None = None,
               username: str = "") -> bytes:
    form = el("form", {"method": "post", "action": "/login", "class": "login"},
              el("h1", None, t.t("screen.login_title")),
              el("p", {"class": "error", "role": "alert"}, message) if message else None,
              el("label", None, t.t("screen.username"),
                 el("input", {"name": "username", "autocomplete": "username", "required": True, "value": username,
                              "maxlength": 64, "autofocus": True})),
              el("label", None, t.t("screen.password"),
                 el("input", {"name": "password", "type": "password", "autocomplete": "current-password",
                              "required": True})),
              el("input", {"type": "hidden", "name": "csrf_token", "value": csrf}),
              el("button", {"type": "submit"}, t.t("screen.sign_in")),
              language_link(t))
    return layout(t, title=t.t("screen.login_title"), body=el("main", None, form), tz=tz, now=now, page="login")


def _options(values: tuple[str, ...], label: Callable[[str], str], blank: str | None = None) -> list[Html]:
    first = [el("option", {"value": ""}, blank)] if blank is not None else []
    return first + [el("option", {"value": v}, label(v)) for v in values]


def agent_page(t: Catalog, who: Principal, *, tz: ZoneInfo, now: float, pbx: str) -> bytes:
    """The agent's desk: presence, the pop card, the customer card, history, wrap-up and his items.
    Empty until the feed fills it: nothing about any caller is rendered into the HTML."""
    header = el("header", None, el("h1", None, t.t("screen.agent_title")),
                el("span", {"id": "status", "class": "status"}), signed_in_header(t, who), language_link(t))
    presence = section("presence", t.t("screen.presence"), join(
        el("p", {"id": "presence-state", "class": "presence-state"}),
        el("p", {"id": "guard-paused", "class": "banner", "hidden": True}, t.t("screen.guard_paused")),
        el("div", {"class": "buttons"},
           el("button", {"type": "button", "data-presence": "ready"}, t.t("screen.ready")),
           el("input", {"id": "pause-reason", "maxlength": 64, "placeholder": t.t("screen.pause_reason")}),
           el("button", {"type": "button", "data-presence": "paused"}, t.t("screen.pause")),
           el("button", {"type": "button", "data-presence": "wrapup"}, t.t("screen.wrapup")))))
    pop = section("pop", t.t("screen.incoming"), join(
        el("p", {"id": "pop-idle", "class": "empty"}, t.t("screen.waiting")),
        el("div", {"id": "pop-card", "hidden": True},
           el("p", {"class": "caller"}, el("strong", {"id": "pop-number"}), " ", el("span", {"id": "pop-name"}),
              " ", el("span", {"id": "pop-queue", "class": "queue-name"})),
           el("p", {"id": "pop-ring", "class": "ring"}),
           el("p", {"id": "ring-warning", "class": "warning", "role": "alert", "hidden": True},
              t.t("screen.ring_warning")),
           el("p", {"id": "greeting", "class": "script"}, t.t("screen.greeting")),
           el("p", {"id": "apologise", "class": "script warning", "hidden": True}, t.t("screen.apologise")),
           el("p", {"id": "transfer-note", "class": "hint", "hidden": True}),
           el("div", {"id": "recording", "class": "buttons", "hidden": True},
              el("button", {"type": "button", "data-recording": "pause"}, t.t("screen.recording_pause")),
              el("button", {"type": "button", "data-recording": "resume", "hidden": True},
                 t.t("screen.recording_resume")),
              el("span", {"class": "result"})),
           el("audio", {"id": "recording-audio", "controls": True, "preload": "none", "hidden": True}),
           el("p", {"id": "pop-ended", "class": "ended", "hidden": True}),
           el("form", {"id": "transfer-form", "class": "card", "hidden": True},
              el("p", {"class": "hint"}, t.t("screen.transfer_hint")),
              el("label", None, t.t("screen.transfer_to"), el("input", {"name": "to", "required": True,
                                                                         "maxlength": 32})),
              el("label", None, t.t("screen.transfer_how"), el("select", {"name": "how"}, _options(
                  ("blind", "attended", "queue"), lambda h: t.t(f"screen.transfer.{h}")))),
              el("label", None, t.t("screen.transfer_note"), el("input", {"name": "note", "maxlength": 1000})),
              el("label", {"class": "check"}, el("input", {"type": "checkbox", "name": "caller_agreed",
                                                           "value": "true", "required": True}),
                 t.t("screen.transfer_agreed")),
              el("button", {"type": "submit"}, t.t("screen.transfer")), el("span", {"class": "result"})))))
    card = section("customer", t.t("screen.customer"), el(
        "form", {"id": "customer-form", "class": "card"},
        el("p", {"id": "new-customer", "class": "hint", "hidden": True}, t.t("screen.new_customer")),
        el("p", {"id": "history-unavailable", "class": "warning", "hidden": True}, t.t("screen.history_unavailable")),
        el("label", None, t.t("screen.name"), el("input", {"name": "name", "maxlength": 255})),
        el("label", None, t.t("screen.company"), el("input", {"name": "company", "maxlength": 255})),
        el("label", None, t.t("screen.category"), el("select", {"name": "category"},
                                                     _options(CUSTOMER_CATEGORIES, str, blank="—"))),
        el("label", None, t.t("screen.notes"), el("textarea", {"name": "notes", "maxlength": 4000, "rows": 2})),
        el("button", {"type": "submit"}, t.t("screen.save")), el("span", {"class": "result"})))
    history = section("history", t.t("screen.history"), join(
        el("ol", {"id": "history-list", "class": "history"}),
        el("h3", None, t.t("screen.callbacks")), el("ul", {"id": "callback-list"}),
        el("h3", None, t.t("screen.messages")), el("ul", {"id": "message-list"})))
    wrapup = section("wrapup", t.t("screen.save_wrapup"), el(
        "form", {"id": "wrapup-form", "class": "card"},
        el("label", None, t.t("screen.problem_type"), el("select", {"name": "problem_type", "required": True},
                                                         _options(PROBLEM_TYPES, str))),
        el("label", None, t.t("screen.order_no"), el("input", {"name": "order_no", "maxlength": 64})),
        el("label", None, t.t("screen.notes"), el("textarea", {"name": "notes", "maxlength": 4000, "rows": 3})),
        el("label", None, t.t("screen.resolution"), el("select", {"name": "resolution", "required": True},
                                                       _options(RESOLUTIONS, lambda r: t.t(f"screen.resolution.{r}")))),
        el("label", None, t.t("screen.follow_up_due"), el("input", {"name": "follow_up_due", "type": "datetime-local"})),
        el("label", None, t.t("screen.category"), el("select", {"name": "category"},
                                                     _options(CUSTOMER_CATEGORIES, str, blank="—"))),
        el("button", {"type": "submit"}, t.t("screen.save_wrapup")), el("span", {"class": "result"})))
    tasks = section("tasks", t.t("screen.tasks"), el("ul", {"id": "task-list"}))
    news = section("announcements", t.t("screen.announcements"), join(
        el("ul", {"id": "announcement-list"}),
        el("h3", None, t.t("screen.handovers_waiting")), el("ul", {"id": "handover-list"}),
        el("h3", None, t.t("screen.faq")),
        el("input", {"id": "faq-search", "type": "search", "maxlength": 100, "placeholder": t.t("screen.faq_search")}),
        el("ul", {"id": "faq-list"})))
    handover = section("handover", t.t("screen.handover"), el(
        "form", {"id": "handover-form", "class": "card"},
        el("label", None, t.t("screen.handover_to"), el("input", {"name": "to", "required": True, "maxlength": 64})),
        el("label", None, t.t("screen.notes"), el("textarea", {"name": "note", "maxlength": 4000, "rows": 2})),
        el("button", {"type": "submit"}, t.t("screen.handover_send")), el("span", {"class": "result"})))
    main = el("main", {"class": "desk"}, pop, card, history, presence, wrapup, tasks, news, handover)
    return layout(t, title=t.t("screen.agent_title"), body=join(header, main), tz=tz, now=now, page="agent",
                  data={"ext": who.extension or "", "csrf": who.csrf_token or "", "pbx": pbx})


# -- resources -------------------------------------------------------------------------------------------


class LoginPage(resource.Resource):
    isLeaf = True

    def __init__(self, gate: Gate, tz: ZoneInfo, language: Callable[[server.Request], Catalog]) -> None:
        super().__init__()
        self.gate = gate
        self.tz = tz
        self.language = language

    def _form(self, request: server.Request, code: int, message: str | None = None, username: str = "") -> bytes:
        t = self.language(request)
        csrf = self.gate.login_csrf(request)
        return _html(request, code, login_page(t, csrf=csrf, tz=self.tz, now=self.gate.clock.seconds(),
                                               message=message, username=username))

    def render_GET(self, request: server.Request) -> bytes:
        return self._form(request, 200)

    def render_POST(self, request: server.Request) -> bytes | int:
        t = self.language(request)
        # never cut: a cut password would be checked as another one (a longer one fails, uncut)
        fields = {name: (request.args.get(name.encode(), [b""])[0]).decode("utf-8", "replace")
                  for name in ("username", "password")}
        fields["username"] = fields["username"][:MAX_FIELD]
        if not self.gate.login_csrf_ok(request):
            return self._form(request, 403, t.t("screen.error", error="CSRF"), fields["username"])
        address = request.getClientAddress()
        peer = getattr(address, "host", "?")
        wait = self.gate.throttled(fields["username"], peer)
        if wait is not None:
            request.setHeader(b"retry-after", str(int(wait + 0.999)).encode("ascii"))
            return self._form(request, 429, t.t("screen.throttled", s=int(wait + 0.999)), fields["username"])

        def answer(who: Principal | None) -> None:
            if request.finished or request._disconnected:
                return
            if who is None:
                request.write(self._form(request, 401, t.t("screen.login_failed"), fields["username"]))
            else:
                request.write(_redirect(request, HOME.get(who.role, b"/")))
            request.finish()

        def failed(failure: Any) -> None:
            if request._disconnected:
                return
            if failure.check(SignInBusy):
                request.setHeader(b"retry-after", b"1")
                request.write(self._form(request, 503, t.t("screen.busy"), fields["username"]))
            else:
                log.warning("sign-in: the store could not be asked (%s)", failure.getErrorMessage())
                request.write(_html(request, 503, b"the sign-in store cannot be reached; try again shortly\n"))
            request.finish()

        self.gate.sign_in(request, fields["username"], fields["password"], peer).addCallbacks(answer, failed)
        return server.NOT_DONE_YET


class LogoutResource(Guarded):
    async def handle_POST(self, request: server.Request, who: Principal) -> bytes:
        await self.gate.sign_out(request)
        return _redirect(request, b"/login")

    def unauthenticated(self, request: server.Request) -> bytes:
        return _redirect(request, b"/login")


class _Page(Guarded):
    """A page: no sign-in → 303 to /login; the wrong role → 403."""

    role = ""

    def __init__(self, gate: Gate, tz: ZoneInfo, language: Callable[[server.Request], Catalog]) -> None:
        super().__init__(gate)
        self.tz = tz
        self.language = language

    def unauthenticated(self, request: server.Request) -> bytes:
        return _redirect(request, b"/login")

    async def handle_GET(self, request: server.Request, who: Principal) -> bytes:
        if who.role != self.role:
            return _html(request, 403, b"<!DOCTYPE html><p>403: this page is not for your role</p>")
        return _html(request, 200, await self.page(self.language(request), who))

    async def page(self, t: Catalog, who: Principal) -> bytes:
        raise NotImplementedError


class AgentPage(_Page):
    role = "agent"

    def __init__(self, gate: Gate, tz: ZoneInfo, language: Callable[[server.Request], Catalog], pbx: str) -> None:
        super().__init__(gate, tz, language)
        self.pbx = pbx

    async def page(self, t: Catalog, who: Principal) -> bytes:
        return agent_page(t, who, tz=self.tz, now=self.gate.clock.seconds(), pbx=self.pbx)


class SupervisorPage(_Page):
    role = "supervisor"

    def __init__(self, gate: Gate, tz: ZoneInfo, language: Callable[[server.Request], Catalog], feed: Any) -> None:
        super().__init__(gate, tz, language)
        self.feed = feed  #: the unmasked BoardFeed

    async def page(self, t: Catalog, who: Principal) -> bytes:
        board = self.feed.board()
        recent = await defer.maybeDeferred(self.feed.recent_calls)
        actions = section("actions", t.t("screen.actions"), el(
            "form", {"id": "agent-actions", "class": "card"},
            el("label", None, t.t("screen.agent_ext"), el("input", {"name": "agent", "required": True,
                                                                     "maxlength": 64, "list": "agent-list"})),
            el("datalist", {"id": "agent-list"}, [el("option", {"value": a["agent"]}) for a in board["agents"]]),
            el("label", None, t.t("screen.pause_reason"), el("input", {"name": "reason", "maxlength": 64})),
            el("div", {"class": "buttons"},
               el("button", {"type": "button", "data-presence": "paused"}, t.t("screen.pause")),
               el("button", {"type": "button", "data-presence": "ready"}, t.t("screen.unpause")),
               el("button", {"type": "button", "data-spy": "listen"}, t.t("screen.listen")),
               el("button", {"type": "button", "data-spy": "whisper"}, t.t("screen.whisper")),
               el("button", {"type": "button", "data-spy": "barge"}, t.t("screen.barge"))),
            el("p", {"class": "result", "role": "status"})))
        today = section("today", t.t("screen.today"), el(
            "table", None,
            el("thead", None, el("tr", None, [el("th", None, t.t(k)) for k in (
                "col_queue", "screen.today_calls", "screen.service_level", "screen.misses", "screen.abandoned")])),
            el("tbody", {"id": "today-rows"})))
        downloads = section("reports", t.t("screen.reports"), el(
            "form", {"id": "report-form", "class": "card"},
            el("label", None, t.t("screen.report_day"), el("input", {"type": "date", "name": "day", "required": True})),
            el("p", {"class": "links"},
               el("a", {"data-report": "daily", "data-ext": "xlsx", "href": "#"}, t.t("screen.daily") + " XLSX"), " · ",
               el("a", {"data-report": "daily", "data-ext": "csv", "href": "#"}, t.t("screen.daily") + " CSV"), " · ",
               el("a", {"data-report": "weekly", "data-ext": "xlsx", "href": "#"}, t.t("screen.weekly") + " XLSX"),
               " · ",
               el("a", {"data-report": "weekly", "data-ext": "csv", "href": "#"}, t.t("screen.weekly") + " CSV"))))
        post = section("post", t.t("screen.post_announcement"), el(
            "form", {"id": "announcement-form", "class": "card"},
            el("select", {"name": "kind"}, _options(("announcement", "faq"), lambda k: t.t(f"screen.kind.{k}"))),
            el("label", None, t.t("screen.title_field"), el("input", {"name": "title", "required": True,
                                                                       "maxlength": 255})),
            el("label", None, t.t("screen.body_field"), el("textarea", {"name": "body", "required": True,
                                                                         "maxlength": 10000, "rows": 3})),
            el("button", {"type": "submit"}, t.t("screen.post_announcement")), el("span", {"class": "result"})))
        return board_page(t, board=board, recent=recent, alerts=self.feed.alerts(), tz=self.tz,
                          link_up=self.feed.link_up, recent_limit=self.feed.finished.limit,
                          alert_limit=self.feed.alert_limit, title=t.t("screen.supervisor_title"), page="supervisor",
                          data={"stream": "/api/v1/board/events", "csrf": who.csrf_token or ""},
                          header_extra=signed_in_header(t, who), sections=(today, downloads, actions, post))
