"""The report downloads of the supervisor's board (mixed into :class:`telephony.desktop.api.Api`):

=======  ======================================  ==========================================================
GET      reports/daily/{YYYY-MM-DD}.{csv|xlsx}   当日工作数据统计 (the CSV: the agents' table)
GET      reports/weekly/{YYYY-Www}.{csv|xlsx}    the week's record
=======  ======================================  ==========================================================

The same figures and files as ``telephony report daily|weekly`` (:mod:`telephony.commands.report`),
computed again from the stored facts at each download; supervisors only.  The files are made in a
thread (openpyxl is slow), never on the reactor.
"""
from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from twisted.internet import threads
from twisted.web import server

from telephony.store.people import Principal

from .guarded import Denied

__all__ = ["ReportRoutes"]

_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(csv|xlsx)$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})\.(csv|xlsx)$")
_TYPES = {"csv": b"text/csv; charset=utf-8",
          "xlsx": b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ReportRoutes:
    """Route methods; the class using it provides ``store``, ``pbx``, ``tz``, ``rings_allowed`` and
    ``wrapup_s``."""

    def report_routes(self) -> list[tuple[str, tuple[str, ...], Any]]:
        return [("GET", ("reports", "*", "*"), self.report_file)]

    async def report_file(self, request: server.Request, who: Principal, kind: str, name: str) -> bytes:
        if not who.is_supervisor:
            raise Denied(403, "supervisors only")
        first, days, kind_ext = _period(kind, name)
        report = await self.store.work_report(first, days, tz=self.tz, pbx=self.pbx, rings_allowed=self.rings_allowed,
                                              wrapup_s=self.wrapup_s)
        body = await threads.deferToThread(_file_bytes, report, kind_ext)
        request.setHeader(b"content-type", _TYPES[kind_ext])
        request.setHeader(b"content-disposition", f'attachment; filename="{kind}-{name}"'.encode("ascii"))
        request.setHeader(b"cache-control", b"private, no-store")
        return body


def _period(kind: str, name: str) -> tuple[date, int, str]:
    try:
        if kind == "daily" and (found := _DAY.match(name)):
            return date.fromisoformat(found.group(1)), 1, found.group(2)
        if kind == "weekly" and (found := _WEEK.match(name)):
            return date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1), 7, found.group(3)
    except ValueError:
        pass
    raise Denied(404, "no such report: reports/daily/2026-12-07.xlsx or reports/weekly/2026-W49.csv")


def _file_bytes(report: dict[str, Any], ext: str) -> bytes:
    from telephony.exports import report_sheets, write_csv, write_xlsx

    sheets = report_sheets(report)
    with tempfile.TemporaryDirectory(prefix="telephony-report-") as folder:
        path = Path(folder) / f"report.{ext}"
        if ext == "csv":
            write_csv(path, *sheets["agents"])
        else:
            write_xlsx(path, sheets)
        return path.read_bytes()
