"""The board page, rendered on the server so it is complete without JavaScript.

Functions take the JSON-ready data the feed gives (already masked) and return :class:`Html` built
with :func:`~telephony.desktop.markup.el`, so every value is escaped.  The element ids, classes and
``data-`` attributes here are what ``static/board.js`` updates in place; keep the two in step.

Times are shown in the call centre's zone (``tz``); durations as ``m:ss`` (``h:mm:ss`` past an
hour).  A duration that keeps growing carries ``data-since`` (epoch seconds) so the page can tick it.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .i18n import CATALOGS, Catalog
from .markup import Html, el, join, json_block

__all__ = ["board_page", "clock_time", "day_time", "duration", "layout"]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def clock_time(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M:%S")


def day_time(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%m-%d %H:%M:%S")


def layout(t: Catalog, *, title: str, body: Html, tz: ZoneInfo, now: float, page: str,
           data: dict[str, str] | None = None) -> bytes:
    """The document around a page: language, CSP-friendly assets (no inline script), the catalog.

    ``page`` names the ES module's entry (``static/<page>.js``) and stylesheet; ``data`` becomes
    ``data-…`` attributes of the body (what the module needs: a stream's path, a CSRF token).
    """
    document = join(
        Html("<!DOCTYPE html>"),
        el("html", {"lang": t.lang},
           el("head", None,
              el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, title),
              el("link", {"rel": "icon", "href": "/static/favicon.svg", "type": "image/svg+xml"}),
              el("link", {"rel": "stylesheet", "href": f"/static/{page}.css"}),
              el("script", {"type": "module", "src": f"/static/{page}.js"})),
           el("body", {"data-lang": t.lang, "data-tz": tz.key, "data-now": f"{now:.3f}",
                       **{f"data-{name}": value for name, value in (data or {}).items()}},
              json_block("messages", CATALOGS[t.lang]),
              body)),
    )
    return document.encode("utf-8")


def language_link(t: Catalog) -> Html:
    other = "en" if t.lang != "en" else "zh-CN"
    return el("a", {"class": "lang", "href": f"?lang={other}", "hreflang": other}, t.t("switch_language"))


def board_page(t: Catalog, *, board: dict[str, Any], recent: list[dict[str, Any]], alerts: list[dict[str, Any]],
               tz: ZoneInfo, link_up: bool, recent_limit: int, alert_limit: int, title: str | None = None,
               page: str = "board", data: dict[str, str] | None = None, header_extra: Html | None = None,
               sections: tuple[Html, ...] = ()) -> bytes:
    """The whole board; ``*_limit`` tell the page how many live rows to keep in those lists.

    The supervisor's board is this page with its own ``title``, ``page`` module (which adds the
    actions), ``data`` (the stream of unmasked events), ``header_extra`` and extra ``sections``.
    """
    now = board["at"]
    title = title or t.t("title")
    header = el("header", None,
                el("h1", None, title),
                el("span", {"class": "pbx"}, t.t("pbx", pbx=board["pbx"])),
                el("span", {"id": "status", "class": "status"}),
                header_extra,
                language_link(t))
    banner = el("p", {"id": "link-down", "class": "banner", "hidden": link_up}, t.t("link_down"))
    main = el("main", None,
              section("queues", t.t("queues"), queues(t, board["queues"], now)),
              section("agents", t.t("agents"), agents(t, board["agents"], now)),
              section("calls", t.t("calls"), calls(t, board["calls"], now)),
              section("alerts", t.t("alerts"), alert_list(t, alerts, tz, alert_limit)),
              section("recent", t.t("recent"), recent_calls(t, recent, tz, recent_limit)),
              *sections)
    return layout(t, title=title, body=join(header, banner, main), tz=tz, now=now, page=page, data=data)


def section(name: str, title: str, content: Html) -> Html:
    return el("section", {"id": name}, el("h2", None, title), content)


def caller(t: Catalog, number: str | None, name: str | None) -> Html:
    """Who is calling: the (masked) number and the name Asterisk gave, if it says more."""
    if number is None and name is None:
        return el("span", {"class": "caller unknown"}, t.t("unknown_caller"))
    parts = [el("span", {"class": "name"}, name)] if name and name != number else []
    if number is not None:
        parts.append(el("span", {"class": "number"}, number))
    return el("span", {"class": "caller"}, parts)


def ticking(since: float, now: float) -> Html:
    return el("span", {"class": "dur", "data-since": f"{since:.3f}"}, duration(now - since))


def empty(text: str) -> Html:
    return el("p", {"class": "empty"}, text)


def table(columns: list[str], rows: list[Html], *, body_id: str, empty_text: str, limit: int | None = None) -> Html:
    return el("table", None,
              el("thead", None, el("tr", None, [el("th", None, c) for c in columns])),
              el("tbody", {"id": body_id, "data-empty": empty_text, "data-limit": limit},
                 rows or el("tr", {"class": "empty"}, el("td", {"colspan": len(columns)}, empty_text))))


# -- sections -----------------------------------------------------------------------------------


def queues(t: Catalog, data: list[dict[str, Any]], now: float) -> Html:
    if not data:
        return el("div", {"id": "queue-list"}, empty(t.t("no_queues")))
    return el("div", {"id": "queue-list"}, [queue(t, q, now) for q in data])


def queue(t: Catalog, q: dict[str, Any], now: float) -> Html:
    waiting = q["waiting"]
    summary = [el("span", {"class": "count"}, t.t("waiting_count", n=len(waiting)))]
    if waiting:
        summary += [el("span", {"class": "longest"}, t.t("longest_wait"), " ", ticking(now - q["longest_wait_s"], now))]
    entries = [el("li", {"data-linkedid": w["linkedid"]},
                  el("span", {"class": "position"}, t.t("position", n=w["position"])), " ",
                  caller(t, w["caller"], w["caller_name"]), " ",
                  ticking(now - w["waiting_s"], now))
               for w in waiting]
    return el("article", {"class": "queue", "data-queue": q["name"]},
              el("h3", None, q["name"]),
              el("p", {"class": "summary"}, summary),
              el("ol", {"class": "waiting"}, entries) if entries else empty(t.t("nobody_waiting")))


def agent_state(t: Catalog, agent: dict[str, Any], now: float) -> Html:
    """The state, the ring number while ringing, and the pause with its reason and how long it has
    lasted (also while talking; the length only when its beginning was seen)."""
    pause = t.t("paused_because", reason=agent["reason"]) if agent["reason"] else t.label("agent", "paused")
    label = pause if agent["state"] == "paused" else t.label("agent", agent["state"])
    parts: list[Html | str] = [el("span", {"class": f"state state-{agent['state']}"}, label)]
    if agent["state"] == "paused" and agent.get("paused_since") is not None:
        parts += [" ", ticking(agent["paused_since"], now)]
    if agent["ring"] is not None:
        parts += [" ", el("span", {"class": "ring", "data-ring-agent": agent["agent"]}, t.t("ring_n", n=agent["ring"]))]
    if agent["paused"] and agent["state"] != "paused":
        parts += [" ", el("span", {"class": "reason"}, pause)]
    if agent["paused"] and agent["paused_in"] != agent["queues"]:
        parts += [el("span", {"class": "paused-in"}, t.t("paused_in", queues=t.t("list_separator").join(agent["paused_in"])))]
    return join(parts)


def agents(t: Catalog, data: list[dict[str, Any]], now: float) -> Html:
    rows = [el("tr", {"data-agent": a["agent"], "class": f"agent-{a['state']}"},
               el("td", None, el("span", {"class": "ext"}, a["agent"]), " ",
                  el("span", {"class": "agent-name"}, a["name"] if a["name"] != f"Agent {a['agent']}" else None)),
               el("td", None, agent_state(t, a, now)),
               el("td", None, t.t("list_separator").join(a["queues"])))
            for a in data]
    return table([t.t("col_agent"), t.t("col_state"), t.t("col_queues")], rows, body_id="agent-rows",
                 empty_text=t.t("no_agents"))


def call_state(t: Catalog, call: dict[str, Any]) -> Html:
    parts: list[Html | str] = [el("span", {"class": f"state call-{call['state']}"}, t.label("call", call["state"]))]
    for offer in call["ringing"]:
        parts += [" ", el("span", {"class": "ring", "data-ring-agent": offer["agent"]},
                          f"{offer['agent']} {t.t('ring_n', n=offer['ring'])}")]
    return join(parts)


def calls(t: Catalog, data: list[dict[str, Any]], now: float) -> Html:
    rows = [el("tr", {"data-linkedid": c["linkedid"], "class": f"call-{c['state']}"},
               el("td", None, caller(t, c["caller"], c["caller_name"]),
                  el("span", {"class": "direction"}, t.t("direction.outbound")) if c["direction"] == "outbound" else None),
               el("td", None, c["queue"]),
               el("td", None, call_state(t, c)),
               el("td", None, c["agent"]),
               el("td", None, ticking(c["since"], now)))
            for c in data]
    return table([t.t("col_caller"), t.t("col_queue"), t.t("col_state"), t.t("col_agent"), t.t("col_since")], rows,
                 body_id="call-rows", empty_text=t.t("no_calls"))


def alert_text(t: Catalog, alert: dict[str, Any]) -> str:
    """One line for a supervisor alert row (see ``BoardFeed``); the JS writes the same line."""
    parts = [t.label("alert", alert["kind"])]
    if alert.get("agent"):
        parts.append(t.t("agent_n", agent=alert["agent"]))
    if alert.get("queue"):
        parts.append(t.t("queue_n", queue=alert["queue"]))
    if alert.get("caller"):
        parts.append(alert["caller"])
    if alert.get("action"):
        parts.append(t.label("action", alert["action"]))
    if alert.get("misses_today") is not None:
        parts.append(t.t("missed_counts", today=alert["misses_today"], shift=alert.get("misses_this_shift", 0),
                         consecutive=alert["consecutive"]))
    return " · ".join(parts)


def alert_facts(alert: dict[str, Any]) -> str:
    """What names an alert (the supervisor's acknowledgement sends it back), as JSON."""
    return json.dumps({k: alert.get(k) for k in ("kind", "at", "agent", "queue", "linkedid")}, ensure_ascii=False,
                      separators=(",", ":"))


def alert_list(t: Catalog, data: list[dict[str, Any]], tz: ZoneInfo, limit: int) -> Html:
    items = [el("li", {"class": f"alert alert-{a['kind']}", "title": a["detail"], "data-alert": alert_facts(a)},
                el("time", None, clock_time(a["at"], tz)), " ", alert_text(t, a))
             for a in data]
    return el("ol", {"id": "alert-list", "data-empty": t.t("no_alerts"), "data-limit": limit},
              items or el("li", {"class": "empty"}, t.t("no_alerts")))


def recent_calls(t: Catalog, data: list[dict[str, Any]], tz: ZoneInfo, limit: int) -> Html:
    rows = [el("tr", {"data-linkedid": r["linkedid"], "data-entered": f"{r['entered_at']:.3f}",
                      "class": f"outcome-{r['outcome']}"},
               el("td", None, day_time(r["entered_at"], tz)),
               el("td", None, caller(t, r["caller"], r["caller_name"])),
               el("td", None, r["queue"]),
               el("td", None, r["answered_by"]),
               el("td", None, r["rings_to_answer"]),
               el("td", None, duration(r["wait_s"])),
               el("td", None, duration(r["talk_s"])),
               el("td", None, el("span", {"class": "outcome"}, t.label("outcome", r["outcome"]))))
            for r in data]
    columns = [t.t(k) for k in ("col_time", "col_caller", "col_queue", "col_agent", "col_rings", "col_wait",
                                "col_talk", "col_outcome")]
    return table(columns, rows, body_id="recent-rows", empty_text=t.t("no_recent"), limit=limit)
