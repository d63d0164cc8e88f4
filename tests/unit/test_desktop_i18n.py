"""The two catalogs: same keys, same placeholders, a word for every state the board can show, and
every key the server or the browser asks for exists."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from telephony.desktop import i18n
from telephony.desktop.i18n import CATALOGS, Catalog, choose_language

DESKTOP = Path(i18n.__file__).parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders():
    zh, en = CATALOGS["zh-CN"], CATALOGS["en"]
    assert zh.keys() == en.keys()
    assert {k: placeholders(v) for k, v in zh.items()} == {k: placeholders(v) for k, v in en.items()}


def test_chinese_words_the_call_centre_uses():
    t = Catalog("zh-CN")
    assert [t.t("queues"), t.label("agent", "ready"), t.label("agent", "ringing"), t.label("agent", "talking"),
            t.label("agent", "paused"), t.t("recent")] == ["队列", "空闲", "振铃", "通话中", "暂停", "最近通话"]
    assert [t.label("outcome", o) for o in ("answered", "abandoned", "voicemail", "failed", "incomplete")] == \
        ["已接听", "放弃", "留言", "失败", "未完成"]
    assert (t.t("ring_n", n=3), t.label("alert", "miss"), t.t("waiting_count", n=2)) == ("第3声", "振铃未接", "等待中 2 位")
    assert Catalog("en").t("ring_n", n=3) == "ring 3"


# Every value the board data can carry in a translated field (see snapshot.agent_states,
# live.view.calls_in_progress, CallSummary.outcome, SupervisorAlert.kind, RingDeadline.action).
SHOWN_VALUES = {
    "agent": ["ready", "ringing", "talking", "paused", "offline", "unknown"],
    "call": ["starting", "queued", "ringing", "talking"],
    "outcome": ["answered", "abandoned", "voicemail", "failed", "incomplete"],
    "alert": ["miss", "pause", "pause_withheld", "long_wait", "race_lost", "not_sent", "weekly_report"],
    "action": ["hangup", "redirect", "observe", "already_ended"],
}


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_state_outcome_and_alert_has_a_word(lang):
    for group, values in SHOWN_VALUES.items():
        for value in values:
            assert f"{group}.{value}" in CATALOGS[lang], (lang, group, value)


def test_a_value_without_a_word_is_shown_as_it_is():
    assert Catalog("zh-CN").label("outcome", "transferred_elsewhere") == "transferred_elsewhere"


def sources() -> tuple[str, str]:
    return ("".join(path.read_text(encoding="utf-8") for path in sorted(DESKTOP.glob("*.py"))),
            "".join(path.read_text(encoding="utf-8") for path in sorted((DESKTOP / "static").glob("*.js"))))


def test_every_key_asked_for_exists():
    python, js = sources()
    asked = set(re.findall(r"""\bt\.t\(\s*["']([\w.]+)["']""", python)) | set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", js))
    assert asked and asked - CATALOGS["zh-CN"].keys() == set()


def test_no_key_is_unused():
    python, js = sources()
    literals = set(re.findall(r"""["']([\w.]+)["']""", python + js))
    shown = {f"{group}.{value}" for group, values in SHOWN_VALUES.items() for value in values}
    assert CATALOGS["zh-CN"].keys() - literals - shown == set()


@pytest.mark.parametrize("query, cookie, expected", [
    (None, None, ("zh-CN", False)),
    (b"en", None, ("en", True)),
    (b"zh-CN", b"en", ("zh-CN", True)),
    (None, b"en", ("en", False)),
    (b"<script>", b"en", ("en", False)),  # junk is ignored, never echoed into a cookie
    (b"fr", None, ("zh-CN", False)),
    (b"\xff", None, ("zh-CN", False)),
])
def test_language_choice(query, cookie, expected):
    assert choose_language(query, cookie) == expected
