"""The daemon's services stop one after another, in reverse order of starting."""
from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from telephony.service import InOrder


class Recorded(Service):
    def __init__(self, name: str, log: list[str], stopping: Deferred | None = None) -> None:
        self.setName(name)
        self.log = log
        self.stopping = stopping

    def startService(self) -> None:
        super().startService()
        self.log.append(f"start {self.name}")

    def stopService(self):
        super().stopService()
        self.log.append(f"stop {self.name}")
        return self.stopping


def test_each_service_stops_only_after_the_one_started_after_it_has_stopped():
    log: list[str] = []
    writer_done = Deferred()
    root = InOrder()
    for service in (Recorded("store", log), Recorded("writer", log, writer_done), Recorded("ami", log)):
        service.setServiceParent(root)
    root.startService()
    stopped = root.stopService()
    assert log == ["start store", "start writer", "start ami", "stop ami", "stop writer"]
    assert not stopped.called
    writer_done.callback(None)
    assert log[-1] == "stop store" and stopped.called
