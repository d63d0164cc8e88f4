"""The in-process event bus: domain events from the live model and the features, to subscribers.

Delivery is synchronous and in publication order, also when a subscriber publishes while being
called (the new event waits until the current one has reached everybody).  A subscriber that raises
is logged with its traceback and the others still get the event: one broken feature must not blind
the ring guard.  Several processes share events through a broker adapter (DESIGN.md) that
subscribes here and publishes what it receives.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Callable

from telephony.live.events import DomainEvent

log = logging.getLogger(__name__)

Subscriber = Callable[[DomainEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._pending: deque[DomainEvent] = deque()
        self._dispatching = False

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def publish(self, event: DomainEvent) -> None:
        self._pending.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for subscriber in list(self._subscribers):
                    try:
                        subscriber(current)
                    except Exception:
                        log.exception("subscriber %r failed on %s", subscriber, current.type)
        finally:
            self._dispatching = False

    def publish_all(self, events: list[DomainEvent]) -> None:
        for event in events:
            self.publish(event)
