"""The week's record by itself before Friday's close: the moment it is due, its files, the board's
notice, and the mail a local SMTP server of the test's own receives (Twisted's SMTP on both sides)."""
from __future__ import annotations

import email
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.mail import smtp
from twisted.trial import unittest
from zope.interface import implementer

from telephony.bus import EventBus
from telephony.config import Report
from telephony.live import events as ev
from telephony.store import Store
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade
from telephony.weekly import WeeklyRecord, next_run
from tests.integration.test_store_calls import summary

ZONE = ZoneInfo("Asia/Shanghai")


def test_the_record_is_due_on_friday_at_the_configured_time_in_the_centres_zone():
    settings = Report()
    wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=ZONE).timestamp()
    assert datetime.fromtimestamp(next_run(wednesday, settings, ZONE), ZONE) == datetime(2026, 12, 11, 16, 30,
                                                                                         tzinfo=ZONE)
    friday_evening = datetime(2026, 12, 11, 16, 30, tzinfo=ZONE).timestamp()
    assert datetime.fromtimestamp(next_run(friday_evening, settings, ZONE), ZONE) == datetime(2026, 12, 18, 16, 30,
                                                                                              tzinfo=ZONE)


@implementer(smtp.IMessage)
class _Message:
    def __init__(self, inbox: list[bytes]) -> None:
        self.inbox, self.lines = inbox, []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> defer.Deferred:
        self.inbox.append(b"\n".join(self.lines))
        return defer.succeed(None)

    def connectionLost(self) -> None:
        pass


@implementer(smtp.IMessageDelivery)
class _Delivery:
    def __init__(self, inbox: list[bytes]) -> None:
        self.inbox = inbox

    def receivedHeader(self, helo, origin, recipients) -> bytes:
        return b"Received: by the test's own SMTP server"

    def validateFrom(self, helo, origin):
        return origin

    def validateTo(self, user):
        return lambda: _Message(self.inbox)


class WeeklyRecordTests(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="weekly-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        url = f"sqlite:///{self.folder / 't.db'}"
        upgrade(url)
        self.monday = datetime(2026, 12, 7, 10, 0, tzinfo=ZONE).timestamp()
        with open_store(url) as store:
            store.save_call(summary(linkedid="w1", entered_at=self.monday))
        self.store = Store(url, reactor=reactor, threads=1)
        self.store.startService()
        self.addCleanup(self.store.stopService)
        self.inbox: list[bytes] = []
        factory = smtp.SMTPFactory()
        delivery = _Delivery(self.inbox)

        self.mail_closed: defer.Deferred = defer.Deferred()
        closed = self.mail_closed

        class Server(smtp.ESMTP):
            def connectionMade(self) -> None:
                self.delivery = delivery
                super().connectionMade()

            def connectionLost(self, reason) -> None:  # the client said QUIT: the test may end
                super().connectionLost(reason)
                if not closed.called:
                    closed.callback(None)

        factory.protocol = Server
        self.smtp_port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(self.smtp_port.stopListening)

    @defer.inlineCallbacks
    def test_friday_brings_the_files_the_board_notice_and_the_mail(self):
        settings = Report(folder=str(self.folder / "reports"), smtp={
            "host": "127.0.0.1", "port": self.smtp_port.getHost().port, "sender": "telephony@example.cn",
            "to": ["zhuguan@example.cn"]})
        clock, bus, seen = Clock(), EventBus(), []
        clock.advance(self.monday)
        bus.subscribe(seen.append)
        weekly = WeeklyRecord(settings, store=self.store, bus=bus, clock=clock, pbx="default", tz="Asia/Shanghai",
                              rings_allowed=lambda queue: 3, wrapup_s=30)
        weekly.startService()
        self.addCleanup(weekly.stopService)
        clock.advance(4 * 86400 + 6.5 * 3600 - 1)  # Friday 16:29:59
        self.assertIsNone(weekly.last)
        clock.advance(1)  # the clock of the centre strikes 16:30
        written = yield weekly.last
        yield self.mail_closed
        self.assertEqual(sorted(p.name for p in written),
                         ["weekly-2026-W50-agents.csv", "weekly-2026-W50-hours.png", "weekly-2026-W50-misses.png",
                          "weekly-2026-W50-queues.csv", "weekly-2026-W50.xlsx"])
        self.assertIn("1002", (self.folder / "reports" / "weekly-2026-W50-agents.csv").read_text(encoding="utf-8-sig"))
        notices = [e for e in seen if isinstance(e, ev.SupervisorAlert)]
        self.assertEqual([(n.kind, n.detail.split(":")[0]) for n in notices], [("weekly_report", "weekly-2026-W50")])
        (mail,) = self.inbox
        message = email.message_from_bytes(mail)
        self.assertEqual(message["To"], "zhuguan@example.cn")
        attached = sorted(part.get_filename() for part in message.walk() if part.get_filename())
        self.assertEqual(attached, sorted(p.name for p in written))
        self.assertTrue(clock.getDelayedCalls())  # next Friday is already set
