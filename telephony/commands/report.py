"""``telephony report rings --date D``: the ring guard's service level for one local day;
``telephony report daily --date D`` and ``weekly --week 2026-W49``: 当日工作数据统计 and the week's record.

**daily / weekly** print each agent's figures (calls answered, outbound, talk time, average handle
and answer times, rings to answer, misses, pauses and their time, follow-ups done, calls he hung up
before the customer, calls without a wrap-up) and each queue's (offered, answered, within the rings
allowed, service level, abandoned and their mean wait, longest wait), and write the same numbers as
CSV and XLSX under ``--out`` (default ``var/reports``); the week adds two PNG plots (callers and service
level per hour of day; misses per agent).  See ``telephony.store.workday`` for what each figure counts.

**rings**:

Two different things are counted, and the report keeps them apart:

* **per offer** (each time a phone rang; one call may ring several phones): how many offers an
  agent's phone got, how many it answered within the allowed rings, how many it missed;
* **per call** (each caller once): how many callers came in, how many were answered within the
  allowed rings of entering the queue, that share, and the average speed of answer.

``--date`` is a day of the call centre's own calendar (``timezone`` in the config), midnight to
midnight there, whatever the clock of the machine running the report says.  What was not seen
(calls answered while the daemon was not watching, offers that ended in a gap of its AMI link) is
in no figure and counted in ``left out``.  ``--format json`` prints one JSON document; ``csv`` one
row per line with a header.  Computed again from the stored facts each time.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Sequence

from sqlalchemy.exc import SQLAlchemyError

from telephony.commands.run import CONFIG_HELP, load_or_explain
from telephony.privacy import describe_error
from telephony.store.facade import open_store
from telephony.store.report import RingReportRow
from telephony.store.workday import AGENT_FIELDS, QUEUE_FIELDS
from telephony.store.upgrade import SchemaOutOfDate

COLUMNS = [  # (field, heading zh-CN / en)
    ("queue", "队列 queue"), ("agent", "坐席 agent"),
    ("offers", "振铃 offers"), ("answered_within", "N声内接起 offers≤N"), ("misses", "未接 misses"),
    ("calls", "来电 calls"), ("answered_in_time", "N声内接通 calls≤N"), ("share_in_time", "接通率 share≤N"),
    ("asa_s", "平均应答秒 ASA s"), ("calls_left_out", "未计来电 calls left out"),
    ("offers_left_out", "未计振铃 offers left out"),
]
LEGEND = (
    "振铃/offers: 每次话机振铃 each time a phone rang (one call may ring several phones); "
    "来电/calls: 每位来电者一次 each caller once; 接通率/share = calls≤N ÷ calls; "
    "未计/left out: 未看到的 not seen (answered while the daemon was not watching, or ended in a gap of its link)"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="reports from the call log")
    kinds = report.add_subparsers(dest="report_kind", metavar="REPORT", required=True)
    rings = kinds.add_parser("rings", help="three-ring service level for a day",
                             description="Offers (each ring of a phone) and calls (each caller) of one day of "
                                         "the call centre's calendar.")
    rings.add_argument("--date", required=True, type=_day,
                       help="the day, YYYY-MM-DD, in the call centre's time zone (config 'timezone')")
    rings.add_argument("--config", required=True, help=CONFIG_HELP)
    rings.add_argument("--format", choices=("table", "csv", "json"), default="table",
                       help="table (default), csv (a header, then a row per line) or json (one JSON document)")
    rings.set_defaults(func=run_rings)
    daily = kinds.add_parser("daily", help="当日工作数据统计: each agent's and each queue's day, with CSV and XLSX files")
    daily.add_argument("--date", required=True, type=_day,
                       help="the day, YYYY-MM-DD, in the call centre's time zone (config 'timezone')")
    weekly = kinds.add_parser("weekly", help="the week's record (Monday to Sunday), with CSV, XLSX and PNG plots")
    weekly.add_argument("--week", required=True, type=_week, help="the ISO week, e.g. 2026-W49")
    for parser in (daily, weekly):
        parser.add_argument("--config", required=True, help=CONFIG_HELP)
        parser.add_argument("--out", default="var/reports", help="folder for the CSV, XLSX (and PNG) files "
                                                                 "(default var/reports)")
        parser.set_defaults(func=run_work)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: write YYYY-MM-DD, e.g. 2026-11-29") from None


def _week(text: str) -> date:
    """The Monday of an ISO week ``YYYY-Www``."""
    try:
        year, week = text.upper().split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO week: write YYYY-Www, e.g. 2026-W49") from None


#: each row field's heading (zh-CN / en); the fields and their order are the report's own
#: (``telephony.store.workday``), so the table, the CSV and the XLSX cannot drift apart
HEADINGS = {
    "day": "日期 day", "agent": "坐席 agent", "calls_answered": "接听 answered", "outbound": "外呼 outbound",
    "talk_s": "通话秒 talk s", "aht_s": "平均处理秒 AHT s", "asa_s": "平均应答秒 ASA s",
    "avg_rings": "平均振铃 rings", "misses": "未接 misses", "pauses": "暂停 pauses",
    "pause_s": "暂停秒 pause s", "follow_ups_done": "跟进完成 follow-ups",
    "hung_up_first": "先挂断 hung up first", "without_wrapup": "未填话后 no wrap-up",
    "queue": "队列 queue", "offered": "来电 offered", "answered": "接听 answered",
    "answered_in_time": "N声内 within N", "service_level": "服务水平 service level",
    "abandoned": "放弃 abandoned", "abandoned_mean_wait_s": "放弃前平均等待秒 wait s",
    "longest_wait_s": "最长等待秒 longest wait s",
}


def run_work(args: argparse.Namespace) -> int:
    from telephony.exports import write_report_files

    config = load_or_explain(args.config)
    if config is None:
        return 2
    weekly = args.report_kind == "weekly"
    first = args.week if weekly else args.date
    days = 7 if weekly else 1
    stem = f"weekly-{first.isocalendar().year}-W{first.isocalendar().week:02d}" if weekly else f"daily-{first}"
    try:
        with open_store(config.store.url) as store:
            report = store.work_report(first, days, tz=config.timezone, pbx=config.pbx.name,
                                       rings_allowed=lambda queue: config.ring_policy(queue).allowed,
                                       wrapup_s=config.web.wrapup_s)
    except (SQLAlchemyError, SchemaOutOfDate) as exc:
        print(f"cannot read the call log: {describe_error(exc) if isinstance(exc, SQLAlchemyError) else exc}",
              file=sys.stderr)
        return 1
    span = f"{first} – {first + timedelta(days=6)}" if weekly else str(first)
    print(f"{config.pbx.name} {span} — {config.timezone} — 坐席 agents")
    _print_table(AGENT_FIELDS, report["agents"])
    print(f"{config.pbx.name} {span} — 队列 queues (N = rings allowed; service level = within N ÷ offered)")
    _print_table(QUEUE_FIELDS, report["queues"])
    folder = Path(args.out)
    try:
        written = write_report_files(folder, stem, report, plots=weekly)
    except OSError as exc:
        print(f"cannot write the report files in {folder}: {exc.strerror}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def _print_table(columns: Sequence[str], rows: list[dict]) -> None:
    if not rows:
        print("  (none / 无)")
        return
    headings = [HEADINGS[f] for f in columns]
    table = [["-" if row.get(f) is None else (f"{row[f]:.0%}" if f == "service_level" else str(row[f]))
              for f in columns] for row in rows]
    widths = [max(_width(h), *(_width(r[i]) for r in table)) for i, h in enumerate(headings)]
    for line in [headings, *table]:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths)).rstrip())


def _cell(field: str, value: object) -> str:
    if value is None:
        return "全部 all" if field == "agent" else ("直拨 direct" if field == "queue" else "-")
    if field == "share_in_time":
        return f"{value:.0%}"
    if field == "asa_s":
        return f"{value:.1f}"
    return str(value)


def run_rings(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    try:
        with open_store(config.store.url) as store:
            rows = store.ring_report(args.date, tz=config.timezone, pbx=config.pbx.name,
                                     rings_allowed=lambda queue: config.ring_policy(queue).allowed)
    except (SQLAlchemyError, SchemaOutOfDate) as exc:
        print(f"cannot read the call log: {describe_error(exc) if isinstance(exc, SQLAlchemyError) else exc}",
              file=sys.stderr)
        return 1
    allowed = {q: config.ring_policy(q).allowed for q in config.queues
               if config.ring_policy(q).allowed != config.rings.allowed}
    if args.format == "json":
        print(json.dumps({
            "pbx": config.pbx.name, "date": args.date.isoformat(), "timezone": config.timezone,
            "rings_allowed": {"default": config.rings.allowed, "queues": allowed},
            "rows": [{k: v for k, v in asdict(row).items() if k != "day"} for row in rows],
        }, ensure_ascii=False, indent=2))
        return 0
    table = [[_cell(f, getattr(row, f)) for f, _ in COLUMNS] for row in rows]
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([f for f, _ in COLUMNS])
        writer.writerows(table)
        return 0
    print(f"{config.pbx.name} {args.date} — 当地日 local day in {config.timezone} (00:00–24:00) — "
          f"三声之内必有应答, N = {config.rings.allowed}" + "".join(f", {q}: {n}" for q, n in sorted(allowed.items())))
    if not table:
        print("no calls that day / 当日无来电")
        return 0
    headings = [h for _, h in COLUMNS]
    widths = [max(_width(h), *(_width(r[i]) for r in table)) for i, h in enumerate(headings)]
    for line in [headings, *table]:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths)).rstrip())
    print(LEGEND)
    _left_out_note(rows)
    return 0


def _left_out_note(rows: list[RingReportRow]) -> None:
    queue_rows = [r for r in rows if r.agent is None]
    calls, offers = sum(r.calls_left_out for r in queue_rows), sum(r.offers_left_out for r in queue_rows)
    if calls or offers:
        print(f"未计入 left out of every figure: {calls} call(s), {offers} offer(s) the daemon did not see end to end")


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)
