"""``telephony report rings --date D``: the ring guard's service level for one local day.

Per queue and agent: offers, answered within the allowed rings, misses, the share of callers
answered within the allowed rings of entering the queue, and the average speed of answer.
Computed again from the stored facts each time.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from datetime import date

from sqlalchemy.exc import SQLAlchemyError

from telephony.commands.run import load_or_explain
from telephony.store.facade import open_store

COLUMNS = [  # (field, heading zh-CN / en)
    ("queue", "队列 queue"), ("agent", "坐席 agent"), ("offers", "振铃次数 offers"),
    ("answered_within", "三声内接听 answered≤N"), ("misses", "未接 misses"), ("calls", "来电 calls"),
    ("share_in_time", "三声内接通率 share≤N"), ("asa_s", "平均应答秒 ASA s"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="reports from the call log")
    kinds = report.add_subparsers(dest="report_kind", metavar="REPORT", required=True)
    rings = kinds.add_parser("rings", help="three-ring service level for a day")
    rings.add_argument("--date", required=True, type=_day, help="the local day, YYYY-MM-DD")
    rings.add_argument("--config", required=True)
    rings.add_argument("--format", choices=("table", "csv", "json"), default="table")
    rings.set_defaults(func=run_rings)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: write YYYY-MM-DD, e.g. 2026-11-29") from None


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
    except SQLAlchemyError as exc:
        print(f"cannot read the call log: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        for row in rows:
            print(json.dumps(asdict(row), default=str, ensure_ascii=False))
        return 0
    table = [[_cell(f, getattr(row, f)) for f, _ in COLUMNS] for row in rows]
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([f for f, _ in COLUMNS])
        writer.writerows(table)
        return 0
    exceptions = {q: config.ring_policy(q).allowed for q in config.queues
                  if config.ring_policy(q).allowed != config.rings.allowed}
    print(f"{config.pbx.name} {args.date} ({config.timezone}) — 三声之内必有应答, N = {config.rings.allowed}"
          + "".join(f", {q}: {n}" for q, n in sorted(exceptions.items())))
    if not table:
        print("no calls that day / 当日无来电")
        return 0
    headings = [h for _, h in COLUMNS]
    widths = [max(_width(h), *(_width(r[i]) for r in table)) for i, h in enumerate(headings)]
    for line in [headings, *table]:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths)))
    return 0


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)
