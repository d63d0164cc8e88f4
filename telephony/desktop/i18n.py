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
    "screen.agent_title": "坐席工作台",
    "screen.supervisor_title": "班长监控台",
    "screen.login_title": "登录",
    "screen.username": "用户名",
    "screen.password": "密码",
    "screen.sign_in": "登录",
    "screen.sign_out": "退出",
    "screen.login_failed": "用户名或密码不正确",
    "screen.throttled": "尝试次数过多，请{s}秒后再试",
    "screen.signed_in_as": "{name}（分机 {ext}）",
    "screen.presence": "状态",
    "screen.ready": "就绪",
    "screen.pause": "暂停",
    "screen.pause_reason": "暂停原因",
    "screen.wrapup": "话后处理",
    "screen.paused_now": "已暂停：{reason}",
    "screen.guard_paused": "因振铃未接被暂停，可点击“就绪”恢复",
    "screen.waiting": "等待来电",
    "screen.incoming": "来电",
    "screen.ring_count": "第{n}声",
    "screen.ring_warning": "请在第三声前接起",
    "screen.greeting": "您好，很高兴为您服务，请问有什么可以帮到您？",
    "screen.apologise": "让您久等了",
    "screen.customer": "客户资料",
    "screen.new_customer": "新来电：请填写客户资料",
    "screen.name": "称呼",
    "screen.company": "公司",
    "screen.category": "客户类别",
    "screen.notes": "备注",
    "screen.save": "保存",
    "screen.saved": "已保存",
    "screen.history": "历史来电",
    "screen.no_history": "无历史来电",
    "screen.history_unavailable": "历史记录暂时无法读取",
    "screen.messages": "留言",
    "screen.callbacks": "待跟进",
    "screen.none": "无",
    "screen.problem_type": "问题类型",
    "screen.order_no": "订单号",
    "screen.resolution": "处理结果",
    "screen.resolution.resolved": "已解决",
    "screen.resolution.follow_up": "需跟进",
    "screen.resolution.transferred": "已转交",
    "screen.follow_up_due": "跟进时间",
    "screen.save_wrapup": "保存话后记录",
    "screen.tasks": "我的待办",
    "screen.done": "完成",
    "screen.ended": "通话结束（{outcome}）",
    "screen.error": "出错：{error}",
    "screen.actions": "坐席操作",
    "screen.agent_ext": "坐席分机",
    "screen.unpause": "恢复",
    "screen.listen": "监听",
    "screen.whisper": "耳语",
    "screen.barge": "强插",
    "screen.sent": "已发送",
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
    "screen.agent_title": "Agent desk",
    "screen.supervisor_title": "Supervisor board",
    "screen.login_title": "Sign in",
    "screen.username": "User name",
    "screen.password": "Password",
    "screen.sign_in": "Sign in",
    "screen.sign_out": "Sign out",
    "screen.login_failed": "Wrong user name or password",
    "screen.throttled": "Too many attempts; try again in {s} s",
    "screen.signed_in_as": "{name} (extension {ext})",
    "screen.presence": "Presence",
    "screen.ready": "Ready",
    "screen.pause": "Pause",
    "screen.pause_reason": "Pause reason",
    "screen.wrapup": "Wrap-up",
    "screen.paused_now": "Paused: {reason}",
    "screen.guard_paused": "Paused by the ring guard (rang out); press Ready to come back",
    "screen.waiting": "Waiting for a call",
    "screen.incoming": "Incoming call",
    "screen.ring_count": "Ring {n}",
    "screen.ring_warning": "Answer before the third ring (请在第三声前接起)",
    "screen.greeting": "Greeting: 您好，很高兴为您服务，请问有什么可以帮到您？",
    "screen.apologise": "Apologise: 让您久等了 (sorry to keep you waiting)",
    "screen.customer": "Customer",
    "screen.new_customer": "New caller: fill in the card",
    "screen.name": "Name",
    "screen.company": "Company",
    "screen.category": "Category",
    "screen.notes": "Notes",
    "screen.save": "Save",
    "screen.saved": "Saved",
    "screen.history": "Earlier calls",
    "screen.no_history": "No earlier calls",
    "screen.history_unavailable": "History cannot be read right now",
    "screen.messages": "Messages",
    "screen.callbacks": "Follow-ups",
    "screen.none": "None",
    "screen.problem_type": "Problem type",
    "screen.order_no": "Order number",
    "screen.resolution": "Resolution",
    "screen.resolution.resolved": "Resolved",
    "screen.resolution.follow_up": "Follow-up needed",
    "screen.resolution.transferred": "Transferred",
    "screen.follow_up_due": "Follow-up due",
    "screen.save_wrapup": "Save wrap-up",
    "screen.tasks": "My open items",
    "screen.done": "Done",
    "screen.ended": "Call ended ({outcome})",
    "screen.error": "Error: {error}",
    "screen.actions": "Agent actions",
    "screen.agent_ext": "Agent extension",
    "screen.unpause": "Unpause",
    "screen.listen": "Listen",
    "screen.whisper": "Whisper",
    "screen.barge": "Barge in",
    "screen.sent": "Sent",
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
