"""The live model's shell: feeds it AMI events and snapshots, lets time produce ring events, and
publishes every domain event on the bus.

Time comes from the injected clock (the reactor in the daemon, a ``task.Clock`` in tests and in
``telephony replay``); the model itself never reads it.  While the AMI link is down the model counts
no rings, so nothing ticks until the next snapshot.
"""
from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from telephony.ami.protocol import Message
from telephony.bus import EventBus

from .model import LiveModel


class LiveService(Service):
    def __init__(self, model: LiveModel, bus: EventBus, clock: IReactorTime) -> None:
        self.model = model
        self.bus = bus
        self.clock = clock
        self._tick: IDelayedCall | None = None
        self._tick_at: float | None = None

    def on_ami_event(self, message: Message, received_at: float) -> None:
        self.bus.publish_all(self.model.apply(message, received_at))
        self._schedule()

    def on_snapshot(self, channels: list[Message], queue_status: list[Message], at: float) -> None:
        self.bus.publish_all(self.model.resync(channels, queue_status, at))
        self._schedule()

    def on_link_lost(self, reason: str, last_heard_at: float | None) -> None:
        """The AMI link is down: publish ``PbxLink`` and stop counting rings until the resync."""
        self.bus.publish_all(self.model.link_lost(self.clock.seconds(), reason, last_heard_at=last_heard_at))
        self._schedule()

    def finish(self) -> None:
        """End every open call as ``incomplete`` (a replay whose capture stops first)."""
        self.bus.publish_all(self.model.finish(self.clock.seconds()))
        self._schedule()

    def stopService(self) -> None:
        if self._tick is not None and self._tick.active():
            self._tick.cancel()
        self._tick = self._tick_at = None
        return super().stopService()

    def _schedule(self) -> None:
        due = self.model.next_due()
        if due == self._tick_at:
            return
        if self._tick is not None and self._tick.active():
            self._tick.cancel()
        self._tick, self._tick_at = None, due
        if due is not None:
            self._tick = self.clock.callLater(max(0.0, due - self.clock.seconds()), self._on_tick)

    def _on_tick(self) -> None:
        self._tick = self._tick_at = None
        self.bus.publish_all(self.model.advance(self.clock.seconds()))
        self._schedule()
