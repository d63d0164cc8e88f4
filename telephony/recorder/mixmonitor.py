"""The MixMonitor backend: every answered call recorded by Asterisk, started and muted over AMI.

When an agent answers (a queue call, a direct call, after a transfer) and the call is not recorded
yet, the daemon stores a recording row and sends ``MixMonitor`` on the caller's channel with the file
name the config's template gives (capture 07, 22: Asterisk answers ``Success``, then
``MixMonitorStart``).  The recording runs on the caller's channel, so it follows him through a
transfer and ends with the call; the row is then ``done`` with its size when the folder can be read
here (the daemon on the PBX host, or a mount).  The agent may pause it (``MixMonitorMute`` both
directions: the file keeps the paused time as silence, capture 22); the row keeps the spans.

The row is written before the action is sent: a recording the PBX refused is a ``failed`` row that
says why, never a file nobody knows of.  Every action is logged (numbers masked).
"""
from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from telephony.bus import EventBus
from telephony.config import Recording
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.privacy import mask_number

log = logging.getLogger(__name__)

__all__ = ["MixMonitorRecorder", "NotRecording", "file_name"]

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


class NotRecording(Exception):
    """The call has no running recording to pause or resume."""


class ActionSender(Protocol):
    def action(self, name: str, fields: Any = None, *, timeout: float | None = None) -> defer.Deferred: ...


def file_name(settings: Recording, *, at: float, tz: ZoneInfo, queue: str | None, agent: str, linkedid: str,
              pbx: str) -> str:
    """The file's full path: ``folder/template``, each value made safe for a file name (a queue named
    ``../x`` stays inside the folder)."""
    local = datetime.fromtimestamp(at, tz)
    values = {"date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H%M%S"), "queue": queue or "direct",
              "agent": agent, "linkedid": linkedid, "pbx": pbx}
    safe = {key: _UNSAFE.sub("_", value).strip(".") or "_" for key, value in values.items()}
    return os.path.join(settings.folder, settings.template.format(**safe))


def size_of(path: str) -> int | None:
    """The file's size, when it can be read from here (it is written on the PBX's host)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


class MixMonitorRecorder(Service):
    name = "recorder"

    def __init__(self, settings: Recording, bus: EventBus, ami: ActionSender, store: Any, clock: IReactorTime,
                 model: LiveModel, *, tz: str = "Asia/Shanghai") -> None:
        self.settings = settings
        self.bus = bus
        self.ami = ami
        self.store = store
        self.clock = clock
        self.model = model
        self.tz = ZoneInfo(tz)
        #: linkedid → (the row's id as it is being stored, the channel MixMonitor runs on)
        self._running: dict[str, tuple[defer.Deferred, str]] = {}
        self._unsubscribe = None

    def startService(self) -> None:
        super().startService()
        self._unsubscribe = self.bus.subscribe(self.on_event)

    def stopService(self) -> None:
        super().stopService()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_event(self, event: ev.DomainEvent) -> None:
        if isinstance(event, ev.CallAnswered) and event.linkedid not in self._running:
            self._start(event)
        elif isinstance(event, ev.CallEnded):
            if self._running.pop(event.call.linkedid, None) is not None:
                self.store.end_recordings(event.pbx, event.call.linkedid, event.call.ended_at, size_of).addErrback(
                    lambda f: log.warning("recording of %s: its end could not be stored (%s)", event.call.linkedid,
                                          f.getErrorMessage()))

    def _caller_channel(self, event: ev.CallAnswered) -> str | None:
        call = self.model.calls.get(event.linkedid)
        if call is None:
            return None
        return next((o.caller_channel for o in reversed(call.offers) if o.agent == event.agent and o.caller_channel),
                    None)

    def _start(self, event: ev.CallAnswered) -> None:
        channel = self._caller_channel(event)
        if channel is None:
            log.info("recording of %s not started: the caller's channel is not known (answered unseen?)",
                     event.linkedid)
            return
        path = file_name(self.settings, at=event.at, tz=self.tz, queue=event.queue, agent=event.agent,
                         linkedid=event.linkedid, pbx=event.pbx)
        stored = defer.maybeDeferred(self.store.start_recording, pbx=event.pbx, linkedid=event.linkedid,
                                     backend="mixmonitor", path=path, channel=channel, agent=event.agent,
                                     queue=event.queue, at=event.at)
        self._running[event.linkedid] = (stored, channel)
        stored.addCallback(self._send_start, event, channel, path)
        stored.addErrback(lambda f: log.error("recording of %s not started: its row could not be stored (%s)",
                                              event.linkedid, f.getErrorMessage()))

    def _send_start(self, recording_id: int, event: ev.CallAnswered, channel: str, path: str) -> int:
        log.info("recording: MixMonitor %s File=%s (call %s, agent %s, caller %s)", channel, path, event.linkedid,
                 event.agent, mask_number(event.caller))

        def refused(failure: Any) -> None:
            log.warning("recording of %s refused by the PBX: %s", event.linkedid, failure.getErrorMessage())
            self._running.pop(event.linkedid, None)
            defer.maybeDeferred(self.store.fail_recording, recording_id,
                                f"MixMonitor: {failure.getErrorMessage()}").addErrback(
                lambda f: log.warning("recording %d: its failure could not be stored (%s)", recording_id,
                                      f.getErrorMessage()))

        defer.maybeDeferred(self.ami.action, "MixMonitor", [("Channel", channel), ("File", path)]).addErrback(refused)
        return recording_id

    async def mute(self, linkedid: str, muted: bool, *, by: str) -> int:
        """Pause (``muted``) or resume the call's recording → its id; :class:`NotRecording` when none runs."""
        running = self._running.get(linkedid)
        if running is None:
            raise NotRecording(linkedid)
        stored, channel = running
        recording_id = await _copy(stored)
        log.info("recording: MixMonitorMute %s State=%d (call %s, asked by %s)", channel, int(muted), linkedid, by)
        await self.ami.action("MixMonitorMute", [("Channel", channel), ("Direction", "both"), ("State", muted)])
        await self.store.set_recording_muted(recording_id, muted, self.clock.seconds())
        return recording_id


def _copy(d: defer.Deferred) -> defer.Deferred:
    """A Deferred with ``d``'s result that leaves ``d``'s own chain as it was (several may wait on it)."""
    copy: defer.Deferred = defer.Deferred()

    def pass_on(result: Any) -> Any:
        (copy.errback if isinstance(result, Failure) else copy.callback)(result)
        return result

    d.addBoth(pass_on)
    return copy
