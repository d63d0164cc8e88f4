"""Server-Sent Events over twisted.web: the wire format, and a fan-out whose memory is bounded.

Each client is an ``IPushProducer`` registered on its request, so the transport tells it when the
socket stops taking data (``pauseProducing``, once the transport holds 64 KiB unsent) and when it
drains (``resumeProducing``).  While paused, a client's messages wait in its own queue; when that
queue would pass ``max_queued`` bytes the client is dropped (connection aborted, one warning
logged): a browser tab that stopped reading costs the daemon at most ``max_queued`` plus the
transport's 64 KiB, never more.  A fast client is paused too during a burst, so ``max_queued`` must
exceed the largest burst of one reactor turn (the default, 1 MiB, holds fifty 20 kB boards).

Clients are forgotten when their connection ends, whichever side ends it.
"""
from __future__ import annotations

import json
import logging
import re
from collections import deque
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.web.server import Request
from zope.interface import implementer

log = logging.getLogger(__name__)

__all__ = ["Broadcaster", "EventStream", "format_event"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
DEFAULT_MAX_QUEUED = 1 << 20


def format_event(event: str, data: Any) -> bytes:
    """One SSE message: ``event: <event>`` then ``data:`` lines (``data`` JSON-encoded unless a str).

    Line breaks inside ``data`` become several ``data:`` lines, which the browser joins back with
    ``\\n``; ``event`` must be a single line (it names one of our event types).
    """
    if _LINE_BREAK.search(event):
        raise ValueError(f"an SSE event name is one line, not {event!r}")
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    lines = [f"event: {event}", *(f"data: {line}" for line in _LINE_BREAK.split(text))]
    # "replace": one broken character (a lone surrogate) must not cost a feed its event
    return ("\n".join(lines) + "\n\n").encode("utf-8", "replace")


@implementer(IPushProducer)
class EventStream:
    """One client's open ``text/event-stream`` response."""

    def __init__(self, request: Request, broadcaster: "Broadcaster") -> None:
        self.request = request
        self._broadcaster = broadcaster
        self._paused = False
        self._queue: deque[bytes] = deque()
        self.queued = 0  #: bytes waiting because the transport is full
        self.open = True

    @property
    def peer(self) -> str:
        address = self.request.getClientAddress()
        return f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"

    def send(self, message: bytes) -> None:
        if not self.open:
            return
        if not self._paused:
            self.request.write(message)
            return
        if self.queued + len(message) > self._broadcaster.max_queued:
            log.warning("SSE client %s dropped: it stopped reading with %d bytes waiting (limit %d)",
                        self.peer, self.queued + len(message), self._broadcaster.max_queued)
            self.close()
            return
        self._queue.append(message)
        self.queued += len(message)

    def close(self) -> None:
        """Abort the connection now: what is queued is thrown away, nothing waits for the peer."""
        if not self.open:
            return
        self.open = False
        self._queue.clear()
        self.queued = 0
        self._broadcaster.forget(self)
        self.request.transport.abortConnection()

    # IPushProducer: called by the HTTP channel on behalf of the transport

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        if self._queue and self.open:
            waiting, self.queued = b"".join(self._queue), 0
            self._queue.clear()
            self.request.write(waiting)

    def stopProducing(self) -> None:
        self.ended()

    def ended(self, reason: object = None) -> None:
        """The connection is gone (either side): forget the client and what waited for it."""
        self.open = False
        self._queue.clear()
        self.queued = 0
        self._broadcaster.forget(self)


class Broadcaster:
    """The open event streams; :meth:`send` encodes a message once and gives it to every client."""

    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED, *, retry_ms: int = 3000) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be positive, not {max_queued}")
        self.max_queued = max_queued
        self.retry_ms = retry_ms
        self.clients: set[EventStream] = set()

    def open(self, request: Request, first: bytes = b"") -> EventStream:
        """Start the event stream on ``request`` (the resource then returns ``NOT_DONE_YET``).

        ``first`` goes to this client only, before anything broadcast later.
        """
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        stream = EventStream(request, self)
        request.registerProducer(stream, True)
        request.notifyFinish().addBoth(stream.ended)
        self.clients.add(stream)
        # "retry" sets how long the browser waits before reconnecting after the daemon went away
        request.write(f"retry: {self.retry_ms}\n\n".encode("ascii") + first)
        return stream

    def send(self, event: str, data: Any) -> None:
        if not self.clients:
            return
        message = format_event(event, data)
        for client in list(self.clients):
            client.send(message)

    def forget(self, stream: EventStream) -> None:
        self.clients.discard(stream)

    def close_all(self) -> None:
        for client in list(self.clients):
            client.close()
