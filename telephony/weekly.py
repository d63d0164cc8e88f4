"""The week's record goes to the supervisors by itself before Friday's close (每周五下班之前递交主管).

At ``report.weekly_day`` ``report.weekly_time`` in the centre's time zone (Friday 16:30 by default)
the daemon computes the week so far (Monday to now), writes its CSV, XLSX and PNG files under
``report.folder`` (in a thread), tells the supervisors on the board (a ``weekly_report`` alert) and,
when ``report.smtp`` is set, mails the files with Twisted's own SMTP client.  A failure to mail is
logged loudly and leaves the files and the board notice in place.  Timed on the injected clock.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, time, timedelta
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from io import BytesIO
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from twisted.application.service import Service
from twisted.internet import defer, threads
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from telephony.bus import EventBus
from telephony.config import Report
from telephony.live import events as ev

log = logging.getLogger(__name__)

__all__ = ["WeeklyRecord", "next_run"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_run(now: float, settings: Report, tz: ZoneInfo) -> float:
    """The next moment after ``now`` that is the configured weekday and time, in epoch seconds."""
    local = datetime.fromtimestamp(now, tz)
    hour, minute = map(int, settings.weekly_time.split(":"))
    days_ahead = (_DAYS.index(settings.weekly_day) - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days_ahead), time(hour, minute), tz)
    if candidate.timestamp() <= now:
        candidate = datetime.combine(candidate.date() + timedelta(days=7), time(hour, minute), tz)
    return candidate.timestamp()


class WeeklyRecord(Service):
    name = "weekly-record"

    def __init__(self, settings: Report, *, store: Any, bus: EventBus, clock: IReactorTime, pbx: str, tz: str,
                 rings_allowed: Callable[[str | None], int], wrapup_s: float) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.clock = clock
        self.pbx = pbx
        self.tz = ZoneInfo(tz)
        self.rings_allowed = rings_allowed
        self.wrapup_s = wrapup_s
        self._timer: IDelayedCall | None = None
        self.last: defer.Deferred | None = None  #: the latest run, for tests and for a clean stop

    def startService(self) -> None:
        super().startService()
        self._schedule()

    def stopService(self) -> defer.Deferred | None:
        super().stopService()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        return self.last if self.last is not None and not self.last.called else None

    def _schedule(self) -> None:
        at = next_run(self.clock.seconds(), self.settings, self.tz)
        self._timer = self.clock.callLater(at - self.clock.seconds(), self._run)

    def _run(self) -> None:
        self._timer = None
        self.last = defer.ensureDeferred(self.make())
        self.last.addErrback(lambda f: log.error("weekly record not made: %s", f.getErrorMessage()))
        if self.running:
            self._schedule()

    async def make(self) -> list[Path]:
        """Compute and file the week so far; tell the board; mail it when SMTP is configured."""
        from telephony.exports import write_report_files

        today = datetime.fromtimestamp(self.clock.seconds(), self.tz).date()
        monday = today - timedelta(days=today.weekday())
        week = monday.isocalendar()
        stem = f"weekly-{week.year}-W{week.week:02d}"
        report = await self.store.work_report(monday, 7, tz=self.tz.key, pbx=self.pbx,
                                              rings_allowed=self.rings_allowed, wrapup_s=self.wrapup_s)
        folder = Path(self.settings.folder)
        # openpyxl and matplotlib are slow: not on the reactor
        written = await threads.deferToThread(write_report_files, folder, stem, report, plots=True)
        log.info("weekly record %s written: %s", stem, ", ".join(str(p) for p in written))
        self.bus.publish(ev.SupervisorAlert(
            pbx=self.pbx, at=self.clock.seconds(), kind="weekly_report", agent=None, queue=None, linkedid=None,
            caller=None, since=None, detail=f"{stem}: {folder}"))
        if self.settings.smtp is not None:
            await self._mail(stem, written)
        return written

    async def _mail(self, stem: str, files: list[Path]) -> None:
        from twisted.mail.smtp import sendmail

        smtp = self.settings.smtp
        assert smtp is not None
        message = MIMEMultipart()
        message["Subject"] = f"周报 weekly record {stem} ({self.pbx})"
        message["From"] = smtp.sender
        message["To"] = ", ".join(smtp.to)
        message["Date"] = formatdate(self.clock.seconds(), localtime=False)
        message["Message-ID"] = make_msgid()
        message.attach(MIMEText("本周工作数据统计见附件。The week's figures are attached.\n", "plain", "utf-8"))
        for path in files:
            part = MIMEApplication(path.read_bytes(), Name=path.name)
            part["Content-Disposition"] = f'attachment; filename="{path.name}"'
            message.attach(part)
        password = os.environ.get(smtp.password_env) if smtp.password_env else None
        try:
            await sendmail(smtp.host, smtp.sender, smtp.to, BytesIO(message.as_bytes()), port=smtp.port,
                           username=smtp.username, password=password, requireAuthentication=password is not None,
                           requireTransportSecurity=False)
        except Exception as exc:
            log.error("weekly record %s NOT mailed to %s via %s:%d: %s — the files are in %s", stem,
                      ", ".join(smtp.to), smtp.host, smtp.port, exc, self.settings.folder)
            return
        log.info("weekly record %s mailed to %s", stem, ", ".join(smtp.to))
