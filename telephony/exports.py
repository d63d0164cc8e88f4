"""Report files: CSV and XLSX with the same numbers, and PNG plots of a week.

A cell of text that begins with ``=``, ``+``, ``-`` or ``@`` is written with a leading ``'`` (OWASP's
advice against formula injection): a caller or agent name such as ``=HYPERLINK(...)`` must stay text
in the supervisor's spreadsheet.  Numbers stay numbers.  Plots use matplotlib's Agg backend (no
display) with a CJK font when the machine has one (``fonts-noto-cjk``).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["neutralised", "plot_week", "report_sheets", "write_csv", "write_report_files", "write_xlsx"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as out:  # the BOM: Excel then reads the Chinese right
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else neutralised(row.get(c)) for c in columns])
    return path


def write_xlsx(path: Path, sheets: dict[str, tuple[Sequence[str], list[dict[str, Any]]]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, (columns, rows) in sheets.items():
        sheet = book.create_sheet(title[:31])
        sheet.append(list(columns))
        for row in rows:
            sheet.append([neutralised(row.get(c)) for c in columns])
    book.save(path)
    return path


def report_sheets(report: dict[str, Any]) -> dict[str, tuple[Sequence[str], list[dict[str, Any]]]]:
    """A work report (``telephony.store.workday.work_report``) as the XLSX's sheets."""
    from telephony.store.workday import AGENT_FIELDS, HOUR_FIELDS, QUEUE_FIELDS

    return {"agents": (AGENT_FIELDS, report["agents"]), "queues": (QUEUE_FIELDS, report["queues"]),
            "hours": (HOUR_FIELDS, report["hours"])}


def write_report_files(folder: Path, stem: str, report: dict[str, Any], *, plots: bool) -> list[Path]:
    """A work report's files in ``folder``: the agents' and queues' CSV, the XLSX, and with ``plots``
    the week's two PNGs → their paths.  Slow (openpyxl, matplotlib): call it off the reactor."""
    folder.mkdir(parents=True, exist_ok=True)
    sheets = report_sheets(report)
    written = [write_csv(folder / f"{stem}-{name}.csv", *sheets[name]) for name in ("agents", "queues")]
    written.append(write_xlsx(folder / f"{stem}.xlsx", sheets))
    if plots:
        misses: dict[str, int] = {}
        for row in report["agents"]:
            misses[row["agent"]] = misses.get(row["agent"], 0) + row["misses"]
        written += plot_week(folder, stem, report["hours"], misses)
    return written


def plot_week(folder: Path, stem: str, hours: list[dict[str, Any]], misses: dict[str, int]) -> list[Path]:
    """Two PNGs: callers and service level per hour of day; misses per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name or "Noto Sans SC" in f.name]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], "DejaVu Sans"]
    written = []
    figure, calls_axis = plt.subplots(figsize=(9, 4))
    calls_axis.bar([h["hour"] for h in hours], [h["callers"] for h in hours], color="#5b8def", label="来电 callers")
    calls_axis.set_xlabel("时 hour of day")
    calls_axis.set_ylabel("来电 callers")
    level_axis = calls_axis.twinx()
    points = [(h["hour"], h["service_level"] * 100) for h in hours if h["service_level"] is not None]
    if points:
        level_axis.plot(*zip(*points), color="#d9534f", marker="o", label="三声内接听率 %")
    level_axis.set_ylim(0, 105)
    level_axis.set_ylabel("三声内接听率 answered within 3 rings %")
    calls_axis.set_title("每小时来电与服务水平 callers and service level per hour")
    figure.tight_layout()
    written.append(folder / f"{stem}-hours.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(9, 4))
    names = sorted(misses)
    axis.bar(names, [misses[n] for n in names], color="#f0ad4e")
    axis.set_xlabel("坐席 agent")
    axis.set_ylabel("振铃未接 misses")
    axis.set_title("每位坐席的振铃未接 misses per agent")
    figure.tight_layout()
    written.append(folder / f"{stem}-misses.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)
    return written
