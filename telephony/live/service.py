"""The live model's shell: feeds it AMI events and snapshots, lets time produce ring events, and
publishes every domain event on the bus.

Time comes from the injected clock (the reactor in the daemon, a ``task.Clock`` in tests and in
``telephony replay``); the model itself never reads it.  While the AMI link is down the model counts
no rings, so nothing ticks until the next snapshot.

With ``state_path`` the calls under way survive a restart of the daemon (:mod:`.persist`): written
at stop, taken back at start, the file removed once the first snapshot has judged them.  Features
that decided something about those calls keep it in the same file (``keepers``: the ring guard
keeps which offers it judged, so a phone still ringing is not missed twice).  It holds numbers and
names, so only the daemon's user may read it.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Protocol

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from telephony.ami.protocol import Message
from telephony.bus import EventBus
from telephony.privacy import write_private

from . import persist
from .model import LiveModel

log = logging.getLogger(__name__)


class Keeper(Protocol):
    """A feature's decisions about the calls under way, kept across a restart with them."""

    def kept(self) -> Any: ...
    def take_back(self, kept: Any) -> None: ...


class LiveService(Service):
    def __init__(self, model: LiveModel, bus: EventBus, clock: IReactorTime, *,
                 state_path: str | os.PathLike[str] | None = None, keepers: Mapping[str, Keeper] = {}) -> None:
        self.model = model
        self.bus = bus
        self.clock = clock
        self.state_path = Path(state_path) if state_path is not None else None
        self.keepers = dict(keepers)
        self._tick: IDelayedCall | None = None
        self._tick_at: float | None = None
        self._taken_back = False

    def startService(self) -> None:
        super().startService()
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
            calls = persist.load(self.model, saved["live"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("live state %s not taken back (%s: %s); starting from the next snapshot alone",
                      self.state_path, type(exc).__name__, exc)
            return
        for name, keeper in self.keepers.items():
            keeper.take_back(saved.get(name, {}))
        self._taken_back = True
        log.warning("took back %d call(s) the last run left open; the time since it stopped is judged as a gap",
                    calls)

    def on_ami_event(self, message: Message, received_at: float) -> None:
        self.bus.publish_all(self.model.apply(message, received_at))
        self._schedule()

    def on_snapshot(self, channels: list[Message], queue_status: list[Message], at: float) -> None:
        self.bus.publish_all(self.model.resync(channels, queue_status, at))
        self._schedule()
        if self._taken_back and self.state_path is not None:
            self._taken_back = False
            self.state_path.unlink(missing_ok=True)  # judged: what it held is in the model or ended

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
        if self.state_path is not None and self.model.last_heard_at is not None and not self._taken_back:
            self._keep_state()
        return super().stopService()

    def _keep_state(self) -> None:
        assert self.state_path is not None
        saved = {"live": persist.dump(self.model), **{name: k.kept() for name, k in self.keepers.items()}}
        try:
            write_private(self.state_path, json.dumps(saved, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            log.error("live state not kept in %s (%s): calls under way that end before the next start will "
                      "not be stored", self.state_path, exc.strerror)
            return
        log.info("kept %d call(s) under way in %s for the next start", len(self.model.calls), self.state_path)

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
