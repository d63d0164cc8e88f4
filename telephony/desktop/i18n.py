"""The pages' words in Chinese (zh-CN, the default) and English, and which one a visitor gets.

A catalog maps a key to a text with ``{name}`` placeholders.  The same catalog goes to the browser
(as a JSON data block) so the live updates use the very words the server rendered; both catalogs
must have the same keys and the same placeholders (a test holds them to it).

The language is chosen by ``?lang=`` (then remembered in the ``lang`` cookie for a year), else by
that cookie, else zh-CN: the call centre works in Chinese whatever the browser says.
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["CATALOGS", "COOKIE", "DEFAULT", "Catalog", "choose_language"]

DEFAULT = "zh-CN"
COOKIE = b"lang"

ZH_CN: dict[str, str] = {
    "title": "呼叫中心实时看板",
    "pbx": "电话系统 {pbx}",
    "switch_language": "English",
    "live": "实时",
    "reconnecting": "正在重新连接…",
    "link_down": "与电话系统的连接已断开，画面可能不是最新状态",
    "queues": "队列",
    "no_queues": "暂无队列",
    "waiting_count": "等待中 {n} 位",
    "longest_wait": "最长等待",
    "nobody_waiting": "无人等待",
    "position": "第{n}位",
    "agents": "坐席",
    "no_agents": "暂无坐席",
    "calls": "当前通话",
    "no_calls": "暂无通话",
    "alerts": "振铃提醒",
    "no_alerts": "暂无提醒",
    "recent": "最近通话",
    "no_recent": "暂无已结束的通话",
    "col_agent": "坐席",
    "col_state": "状态",
    "col_queues": "队列",
    "col_caller": "来电",
    "col_queue": "队列",
    "col_since": "时长",
    "col_time": "时间",
    "col_rings": "振铃",
    "col_wait": "等待",
    "col_talk": "通话",
    "col_outcome": "结果",
    "unknown_caller": "未知号码",
    "ring_n": "第{n}声",
    "paused_because": "暂停：{reason}",
    "paused_in": "（{queues}）",
    "list_separator": "、",
    "agent.ready": "空闲",
    "agent.ringing": "振铃",
    "agent.talking": "通话中",
    "agent.paused": "暂停",
    "agent.offline": "离线",
    "agent.unknown": "未知",
    "call.starting": "接入中",
    "call.queued": "排队中",
    "call.ringing": "振铃",
    "call.talking": "通话中",
    "direction.outbound": "外呼",
    "outcome.answered": "已接听",
    "outcome.abandoned": "放弃",
    "outcome.voicemail": "留言",
    "outcome.failed": "失败",
    "outcome.incomplete": "未完成",
    "alert.miss": "振铃未接",
    "alert.pause": "已暂停坐席",
    "alert.pause_withheld": "未暂停坐席",
    "alert.long_wait": "来电等待过久",
    "alert.race_lost": "接听与挂断同时发生",
    "alert.not_sent": "与电话系统断开，未能执行",
    "action.hangup": "已转给下一位坐席",
    "action.redirect": "已转溢出",
    "action.observe": "仅记录",
    "action.already_ended": "振铃已结束",
    "missed_counts": "今日{today}次，本班{shift}次，连续{consecutive}次",
    "agent_n": "坐席 {agent}",
    "queue_n": "队列 {queue}",
}

EN: dict[str, str] = {
    "title": "Call centre — live board",
    "pbx": "PBX {pbx}",
    "switch_language": "中文",
    "live": "live",
    "reconnecting": "reconnecting…",
    "link_down": "The link to the PBX is down: this page may be out of date",
    "queues": "Queues",
    "no_queues": "No queues",
    "waiting_count": "{n} waiting",
    "longest_wait": "longest wait",
    "nobody_waiting": "Nobody waiting",
    "position": "#{n}",
    "agents": "Agents",
    "no_agents": "No agents",
    "calls": "Calls in progress",
    "no_calls": "No calls",
    "alerts": "Ring guard alerts",
    "no_alerts": "No alerts",
    "recent": "Last calls",
    "no_recent": "No finished calls yet",
    "col_agent": "Agent",
    "col_state": "State",
    "col_queues": "Queues",
    "col_caller": "Caller",
    "col_queue": "Queue",
    "col_since": "For",
    "col_time": "Time",
    "col_rings": "Rings",
    "col_wait": "Wait",
    "col_talk": "Talk",
    "col_outcome": "Outcome",
    "unknown_caller": "unknown number",
    "ring_n": "ring {n}",
    "paused_because": "paused: {reason}",
    "paused_in": " ({queues})",
    "list_separator": ", ",
    "agent.ready": "ready",
    "agent.ringing": "ringing",
    "agent.talking": "talking",
    "agent.paused": "paused",
    "agent.offline": "offline",
    "agent.unknown": "unknown",
    "call.starting": "starting",
    "call.queued": "queued",
    "call.ringing": "ringing",
    "call.talking": "talking",
    "direction.outbound": "outbound",
    "outcome.answered": "answered",
    "outcome.abandoned": "abandoned",
    "outcome.voicemail": "voicemail",
    "outcome.failed": "failed",
    "outcome.incomplete": "incomplete",
    "alert.miss": "rang out unanswered",
    "alert.pause": "agent paused",
    "alert.pause_withheld": "agent not paused",
    "alert.long_wait": "caller waiting too long",
    "alert.race_lost": "answered as the guard hung up",
    "alert.not_sent": "link down: the guard could not act",
    "action.hangup": "passed to the next agent",
    "action.redirect": "sent to the overflow",
    "action.observe": "observed only",
    "action.already_ended": "ringing had ended",
    "missed_counts": "{today} today, {shift} this shift, {consecutive} in a row",
    "agent_n": "agent {agent}",
    "queue_n": "queue {queue}",
}

CATALOGS: dict[str, dict[str, str]] = {"zh-CN": ZH_CN, "en": EN}


class Catalog:
    """One language's texts: ``t("ring_n", n=2)`` → ``第2声``.

    A key missing from the catalog is a programming error and raises KeyError; a value that is not
    in a translated set (a new outcome name from a newer live model) falls back to the raw value
    through :meth:`label`, so the page still says something.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages: Mapping[str, str] = CATALOGS[lang]

    def t(self, key: str, **values: object) -> str:
        return self.messages[key].format(**values)

    def label(self, group: str, value: str | None) -> str:
        """The translated name of ``value`` in ``group`` (``agent``, ``outcome``…), else the value."""
        if value is None:
            return ""
        return self.messages.get(f"{group}.{value}", value)


def choose_language(query: bytes | None, cookie: bytes | None) -> tuple[str, bool]:
    """The language for a request and whether to (re)set the cookie to it.

    An unknown ``?lang=`` or cookie value is ignored, never echoed back.
    """
    for value, remember in ((query, True), (cookie, False)):
        if value is not None:
            lang = value.decode("ascii", "replace")
            if lang in CATALOGS:
                return lang, remember
    return DEFAULT, False
