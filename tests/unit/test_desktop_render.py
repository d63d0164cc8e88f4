"""The server-rendered board: escaping by construction, both languages, the call centre's time zone."""
from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

from telephony.desktop.i18n import Catalog
from telephony.desktop.markup import Html, el, json_block
from telephony.desktop.render import board_page, duration

EVIL = '<img src=x onerror=alert(1)>'
SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = 1795366966.0  # 2026-11-22 17:02:46 UTC = 2026-11-23 01:02:46 in Shanghai


def board(**overrides):
    data = {
        "pbx": "default", "at": AT + 30,
        "queues": [{"name": "support", "longest_wait_s": 12.0, "members": [],
                    "waiting": [{"linkedid": "1.1", "position": 1, "caller": "138****8000", "caller_name": EVIL,
                                 "waiting_s": 12.0}]}],
        "calls": [
            {"linkedid": "1.1", "direction": "inbound", "caller": "138****8000", "caller_name": EVIL, "state": "ringing",
             "queue": "support", "agent": None, "ringing": [{"agent": "1002", "ring": 2}], "since": AT + 18,
             "waited_s": 12.0},
            {"linkedid": "1.2", "direction": "inbound", "caller": "139****5678", "caller_name": "王伟", "state": "talking",
             "queue": "support", "agent": "1001", "ringing": [], "since": AT + 5, "waited_s": 4.0},
        ],
        "agents": [
            {"agent": "1001", "name": "Agent 1001", "queues": ["support"], "paused_in": ["support"], "reason": "午休 lunch",
             "state": "talking", "ring": None, "linkedid": "1.2", "since": AT + 5, "paused": True},
            {"agent": "1002", "name": "李娜", "queues": ["support"], "paused_in": [], "reason": "", "state": "ringing",
             "ring": 2, "linkedid": "1.1", "since": None, "paused": False},
            {"agent": "1003", "name": "Agent 1003", "queues": ["sales", "support"], "paused_in": ["sales"],
             "reason": '"><b>x</b>', "state": "paused", "ring": None, "linkedid": None, "since": None, "paused": True},
        ],
    }
    data.update(overrides)
    return data


RECENT = [{"linkedid": "0.9", "caller": "137****1111", "caller_name": "Li Lei", "direction": "inbound", "queue": "sales",
           "answered_by": "1003", "rings_to_answer": 2, "wait_s": 8.1, "talk_s": 65.0, "outcome": "answered",
           "entered_at": AT, "ended_at": AT + 73},
          {"linkedid": "0.8", "caller": None, "caller_name": None, "direction": "inbound", "queue": "support",
           "answered_by": None, "rings_to_answer": 1, "wait_s": 8.0, "talk_s": None, "outcome": "abandoned",
           "entered_at": AT - 60, "ended_at": AT - 52}]

ALERTS = [{"at": AT + 20, "kind": "miss", "agent": "1002", "queue": "support", "linkedid": "1.1", "caller": "138****8000",
           "detail": "3 rings unanswered (hangup)", "action": "hangup", "misses_today": 2, "consecutive": 1,
           "misses_this_shift": 2}]


def page(lang="zh-CN", tz=SHANGHAI, **overrides) -> str:
    return board_page(Catalog(lang), board=board(**overrides), recent=RECENT, alerts=ALERTS, tz=tz, link_up=True,
                      recent_limit=20, alert_limit=50).decode("utf-8")


def text_of(html: str) -> str:
    """What a reader sees: the text between tags, entities left as they are."""
    return re.sub(r"<[^>]+>", "|", html)


def test_attacker_controlled_strings_only_ever_appear_escaped():
    html = page()
    assert "<img" not in html and "onerror=alert(1)>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") == 2  # the waiting list and the calls table
    assert "<b>x</b>" not in html and "&quot;&gt;&lt;b&gt;x&lt;/b&gt;" in html
    # the only scripts are the module file and the (inert) catalog block
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="/static/board.js">',
                                                  '<script type="application/json" id="messages">']


def test_chinese_page_shows_states_rings_outcomes_and_shanghai_times():
    html = page()
    text = text_of(html)
    assert '<html lang="zh-CN">' in html
    for words in ("队列", "等待中 1 位", "振铃", "1002 第2声", "第2声", "通话中", "暂停：午休 lunch", "最近通话", "已接听",
                  "放弃", "未知号码", "李娜", "王伟", "138****8000"):
        assert words in text, words
    # 2026-11-22 17:02:46 UTC is 01:02:46 on the 23rd in Shanghai
    assert "|11-23 01:02:46|" in text
    assert "|1:05|" in text and "|0:08|" in text  # talk and wait of the answered call
    assert "振铃未接 · 坐席 1002 · 队列 support · 138****8000 · 已转给下一位坐席 · 今日2次，本班2次，连续1次" in text
    assert "|01:03:06|" in text  # the alert's time
    # 1003 is paused in sales only: the page says where
    assert "（sales）" in text and "|sales、support|" in text


def test_english_page_and_another_time_zone():
    html = page("en", tz=ZoneInfo("Europe/Berlin"))
    text = text_of(html)
    assert '<html lang="en">' in html and 'href="?lang=zh-CN"' in html
    for words in ("Queues", "1 waiting", "ring 2", "talking", "paused: 午休 lunch", "Last calls", "answered", "abandoned",
                  "rang out unanswered · agent 1002 · queue support"):
        assert words in text, words
    assert "|11-22 18:02:46|" in text
    assert "队列" not in text
    assert "|sales, support|" in text and " (sales)" in text


def test_durations_tick_from_the_moments_they_started():
    html = page()
    # the ringing call has waited since AT+18 (12 s at "now"), the talk began at AT+5 (25 s)
    assert f'data-since="{AT + 18:.3f}">0:12<' in html
    assert f'data-since="{AT + 5:.3f}">0:25<' in html
    assert [duration(s) for s in (0, 59.9, 61, 3600, 3725, None)] == ["0:00", "0:59", "1:01", "1:00:00", "1:02:05", ""]


def test_empty_board_says_so():
    text = text_of(board_page(Catalog("zh-CN"), board=board(queues=[], calls=[], agents=[]), recent=[], alerts=[],
                              tz=SHANGHAI, link_up=False, recent_limit=20, alert_limit=50).decode("utf-8"))
    for words in ("暂无队列", "暂无坐席", "暂无通话", "暂无提醒", "暂无已结束的通话", "与电话系统的连接已断开"):
        assert words in text


def test_link_banner_is_hidden_while_the_pbx_link_is_up():
    assert re.search(r'<p id="link-down" class="banner" hidden>', page())


def test_markup_escapes_text_and_attributes_and_keeps_html():
    assert el("td", {"title": '"x"', "data-a": None, "hidden": True}, "<b>", el("i", None, "&")) == \
        '<td title="&quot;x&quot;" hidden>&lt;b&gt;<i>&amp;</i></td>'
    assert isinstance(el("br"), Html) and el("br") == "<br>"


def test_json_block_cannot_be_closed_by_its_data():
    block = json_block("messages", {"x": "</script><script>alert(1)</script>", "y": "a&b"})
    assert block.count("</script>") == 1 and block.endswith("</script>")
    inner = block[block.index(">") + 1:-len("</script>")]
    assert json.loads(inner) == {"x": "</script><script>alert(1)</script>", "y": "a&b"}
