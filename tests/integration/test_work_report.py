"""当日工作数据统计 from a seeded store, against figures worked out by hand; the CSV and the XLSX hold
the same numbers; a queue named like a formula stays text; the week's plots are written."""
from __future__ import annotations

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from telephony.cli import main
from telephony.store.casework import WrapUp
from telephony.store.facade import open_store
from telephony.store.workday import work_report
from tests.integration.test_store_calls import offer, summary

ZONE = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 12, 7, 10, 0, tzinfo=ZONE).timestamp()  # a Monday morning in Shanghai
DAY = datetime(2026, 12, 7).date()


def seed(store) -> None:
    def answered(linkedid, queue, agent, at, wait, rings, talk, hangup_by):
        return summary(linkedid=linkedid, entered_at=at, queue=queue, queues=(queue,),
                       offers=(offer(agent, at + 0.1, wait, rings, "answered", queue=queue),),
                       answered_by=agent, answered_at=at + wait, wait_s=wait, rings_to_answer=rings,
                       apologise=rings >= 5, talk_s=talk, hangup_by=hangup_by, ended_at=at + wait + talk)

    store.save_call(answered("a", "support", "1001", T, 5.0, 1, 60.0, "agent"))
    store.save_call(answered("b", "support", "1001", T + 600, 20.0, 5, 30.0, "caller"))
    store.save_call(summary(linkedid="c", entered_at=T + 900, queue="support", offers=(), answered_by=None,
                            answered_at=None, wait_s=12.0, rings_to_answer=None, apologise=None, talk_s=None,
                            outcome="abandoned", hangup_by="caller", ended_at=T + 912))
    store.save_call(answered("d", "=SUM(A1)", "1002", T + 3600, 3.0, 1, 10.0, "caller"))
    store.save_call(summary(linkedid="e", entered_at=T + 7200, direction="outbound", queue=None, queues=(),
                            offers=(), answered_by="1001", ended_at=T + 7300))
    store.save_call(answered("z", "support", "1001", T + 86400, 4.0, 1, 5.0, "caller"))  # the next day
    store.record_agent_event("default", "1001", "miss", T + 100, "guard", queue="support", linkedid="x")
    store.record_agent_event("default", "1002", "pause", T + 200, None, queue="support", reason="午休")
    store.record_agent_event("default", "1002", "unpause", T + 320, None, queue="support")


@pytest.fixture
def seeded(db_url):
    with open_store(db_url, clock=lambda: T + 10 * 86400) as store:
        seed(store)
    # the wrap-up of "a" 20 s after its end (in time); of "d" 100 s after it (late: counted as missing)
    with open_store(db_url, clock=lambda: T + 65 + 20) as store:
        store.save_wrapup("default", "a", "1001", "13912345678", WrapUp("咨询", "resolved"))
    with open_store(db_url, clock=lambda: T + 3600 + 13 + 100) as store:
        store.save_wrapup("default", "d", "1002", "13912345678", WrapUp("建议", "resolved"))
    with open_store(db_url, clock=lambda: T + 5000) as store:
        task = store.add_task("1001", "follow_up", "回电", customer="13912345678")
        store.close_task(task, by="1001")
    return db_url


def test_each_agents_and_each_queues_day_as_worked_out_by_hand(seeded, sync_store):
    report = sync_store.run(work_report, DAY, 1, tz="Asia/Shanghai", pbx="default", rings_allowed=3, wrapup_s=30)
    agents = {row["agent"]: row for row in report["agents"]}
    assert agents["1001"] == {"day": "2026-12-07", "agent": "1001", "calls_answered": 2, "outbound": 1,
                              "talk_s": 90.0, "aht_s": 45.0, "asa_s": 12.5, "avg_rings": 3.0, "misses": 1,
                              "pauses": 0, "pause_s": 0.0, "follow_ups_done": 1, "hung_up_first": 1,
                              "without_wrapup": 1}
    assert (agents["1002"]["calls_answered"], agents["1002"]["pauses"], agents["1002"]["pause_s"],
            agents["1002"]["without_wrapup"], agents["1002"]["hung_up_first"]) == (1, 1, 120.0, 1, 0)
    queues = {row["queue"]: row for row in report["queues"]}
    assert queues["support"] == {"day": "2026-12-07", "queue": "support", "offered": 3, "answered": 2,
                                 "answered_in_time": 1, "service_level": 0.3333, "abandoned": 1,
                                 "abandoned_mean_wait_s": 12.0, "longest_wait_s": 20.0}
    assert {h["hour"]: h["callers"] for h in report["hours"] if h["callers"]} == {10: 3, 11: 1}


def test_daily_and_weekly_write_the_same_numbers_to_csv_and_xlsx_and_the_weeks_plots(seeded, tmp_path, capsys):
    from openpyxl import load_workbook

    config = tmp_path / "c.yaml"
    config.write_text(f"pbx:\n  ami:\n    host: 127.0.0.1\n    username: u\n    secret_env: NOPE\n"
                      f"store:\n  url: {seeded}\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert main(["report", "daily", "--date", "2026-12-07", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "先挂断 hung up first" in printed and "未填话后 no wrap-up" in printed and "33%" in printed
    with (out / "daily-2026-12-07-agents.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [(r["agent"], r["calls_answered"], r["hung_up_first"], r["without_wrapup"]) for r in rows] == \
        [("1001", "2", "1", "1"), ("1002", "1", "0", "1")]
    with (out / "daily-2026-12-07-queues.csv").open(encoding="utf-8-sig") as f:
        queue_rows = list(csv.DictReader(f))
    assert [r["queue"] for r in queue_rows] == ["'=SUM(A1)", "support"]  # a formula-looking name stays text
    book = load_workbook(out / "daily-2026-12-07.xlsx")
    sheet = book["agents"]
    header = [c.value for c in sheet[1]]
    xlsx_rows = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    assert [(r["agent"], r["calls_answered"], r["talk_s"], r["asa_s"]) for r in xlsx_rows] == \
        [("1001", 2, 90.0, 12.5), ("1002", 1, 10.0, 3.0)]
    assert [c.value for c in book["queues"]["B"]][1:] == ["'=SUM(A1)", "support"]
    assert main(["report", "weekly", "--week", "2026-W50", "--config", str(config), "--out", str(out)]) == 0
    capsys.readouterr()
    for png in ("weekly-2026-W50-hours.png", "weekly-2026-W50-misses.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "weekly-2026-W50-agents.csv").open(encoding="utf-8-sig") as f:
        week = list(csv.DictReader(f))
    assert sorted((r["day"], r["agent"]) for r in week) == [("2026-12-07", "1001"), ("2026-12-07", "1002"),
                                                           ("2026-12-08", "1001")]


def test_a_week_that_is_not_one_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["report", "weekly", "--week", "2026-49", "--config", "x.yaml"])
    assert "not an ISO week" in capsys.readouterr().err
