"""The web site: the live board page, its JSON and event stream, static files, a health check.

``build_site(...)`` gives a ``twisted.web.server.Site`` whose feed is already listening on the bus
(so calls that end before anyone opens the page are in "last calls").  Routes:

* ``GET /`` — the board, rendered on the server (``?lang=en`` switches language and is remembered)
* ``GET /api/board`` — the board as JSON
* ``GET /events`` — Server-Sent Events: ``board`` first, then every domain event, ``alert`` lines,
  and a fresh ``board`` at most once a second while things change
* ``GET /static/<file>`` — the ES module and stylesheet (no build step, nothing from a CDN)
* ``GET /healthz`` — ``ok``

Every response carries ``Content-Security-Policy: default-src 'self'`` (no inline script can run,
so an unescaped caller name could not execute even if one slipped through), ``nosniff`` and
``X-Frame-Options: DENY``.  Phone numbers are masked everywhere when ``mask_numbers`` is true.

The site tracks its open connections: :meth:`BoardSite.close` stops the feed and closes them all,
SSE streams included, and fires when the last one is gone.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from typing import Any, Callable
from zoneinfo import ZoneInfo

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web import http, pages, resource, server

from telephony.bus import EventBus
from telephony.privacy import scrub
from telephony.live.model import LiveModel

from .api import Api, PresenceActions
from .auth import Gate
from .feed import BoardFeed, RecentCallSource
from .i18n import COOKIE, Catalog, choose_language
from .pop import AgentFeeds
from .render import board_page
from .screens import AgentPage, LoginPage, LogoutResource, SupervisorPage

log = logging.getLogger(__name__)

__all__ = ["BoardSite", "build_site"]

STATIC = Path(__file__).parent / "static"
_YEAR = str(365 * 24 * 3600).encode("ascii")  # how long the language choice is remembered
_CONTENT_TYPES = {".js": b"text/javascript; charset=utf-8", ".css": b"text/css; charset=utf-8",
                  ".svg": b"image/svg+xml"}
_SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)


#: the largest request body taken (a form, a wrap-up, an announcement); twisted.web would otherwise
#: buffer any size and parse a form body on the reactor before a resource is even asked
MAX_REQUEST_BODY = 1 << 20


class _Request(server.Request):
    def process(self) -> None:
        for name, value in _SECURITY_HEADERS:
            self.setHeader(name, value)
        super().process()

    def gotLength(self, length: int | None) -> None:
        self._body_bytes = 0
        if length is not None and length > MAX_REQUEST_BODY:
            self._refuse_body(length)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        self._body_bytes = getattr(self, "_body_bytes", 0) + len(data)
        if self._body_bytes > MAX_REQUEST_BODY:  # a chunked body that never says its length
            self._refuse_body(self._body_bytes)
            return
        super().handleContentChunk(data)

    def _refuse_body(self, size: int) -> None:
        log.warning("web: a request body of %d bytes refused (at most %d)", size, MAX_REQUEST_BODY)
        self.channel.transport.write(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
                                     b"Content-Length: 0\r\n\r\n")
        self.channel.transport.loseConnection()


class _Channel(http.HTTPChannel):
    """An HTTP/1.1 channel that tells its site when it opens and closes (for a clean stop)."""

    def connectionMade(self) -> None:
        super().connectionMade()
        self.site.channel_opened(self)

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.site.channel_closed(self)


class BoardSite(server.Site):
    """The site with its feed (``site.feed``) and its open connections (``site.channels``)."""

    protocol = _Channel
    noisy = False  # "Starting factory" on every listen says nothing the service's own log line does not

    def __init__(self, root: resource.Resource, feed: BoardFeed, reactor: IReactorTime) -> None:
        super().__init__(root, requestFactory=_Request, reactor=reactor)
        self.feed = feed
        self.agent_feeds: AgentFeeds | None = None  #: with the screens: every agent's pop feed
        self.on_close: list[Callable[[], None]] = []  #: more to stop with the site (the screens' parts)
        self.channels: set[_Channel] = set()
        self._all_closed: list[defer.Deferred[None]] = []

    def log(self, request: server.Request) -> None:
        """The access log, without what is personal: numbers in the path masked, no query string."""
        path = unquote(request.path.decode("latin-1"), errors="replace")
        address = request.getClientAddress()
        log.info('web: %s "%s %s" %d %s', getattr(address, "host", "-"), request.method.decode("latin-1"),
                 scrub(path), request.code, request.sentLength or "-")

    def channel_opened(self, channel: _Channel) -> None:
        self.channels.add(channel)

    def channel_closed(self, channel: _Channel) -> None:
        self.channels.discard(channel)
        if not self.channels:
            waiting, self._all_closed = self._all_closed, []
            for d in waiting:
                d.callback(None)

    def close(self) -> defer.Deferred[None]:
        """Stop the feed and abort every open connection; fires once all are closed.

        Aborting (not a graceful close) is deliberate: a client that stopped reading would
        otherwise hold the shutdown until TCP gave up on it.
        """
        self.feed.stop()
        for stop in self.on_close:
            stop()
        if not self.channels:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._all_closed.append(d)
        for channel in list(self.channels):
            channel.transport.abortConnection()
        return d


# -- resources ------------------------------------------------------------------------------------


class _Folder(resource.Resource):
    """A path level with named children only: anything else, the level itself included, is 404."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return pages.notFound()

    def render(self, request: server.Request) -> bytes:
        return pages.notFound().render(request)


def _language(request: server.Request) -> Catalog:
    query = request.args.get(b"lang", [None])[0]
    lang, remember = choose_language(query, request.getCookie(COOKIE))
    if remember:
        request.addCookie(COOKIE, lang.encode("ascii"), path=b"/", max_age=_YEAR, sameSite="lax")
    return Catalog(lang)


def _deferred_render(request: server.Request, d: defer.Deferred, produce: Callable[[Any], bytes]) -> int:
    """Finish ``request`` with ``produce(result)`` once ``d`` fires (the page waits for the store);
    a request whose client went away meanwhile is left alone."""
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))

    def write(result: Any) -> None:
        body = produce(result)
        if not gone:
            request.write(body)
            request.finish()

    def failed(failure: Failure) -> None:
        log.error("rendering %s failed", request.path.decode("ascii", "replace"),
                  exc_info=(failure.type, failure.value, failure.getTracebackObject()))
        if not gone:
            request.setResponseCode(500)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(b"internal error\n")
            request.finish()

    d.addCallback(write).addErrback(failed)
    return server.NOT_DONE_YET


class BoardPage(resource.Resource):
    isLeaf = True

    def __init__(self, feed: BoardFeed, tz: ZoneInfo) -> None:
        super().__init__()
        self.feed = feed
        self.tz = tz

    def render_GET(self, request: server.Request) -> int:
        t = _language(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        board = self.feed.board()
        return _deferred_render(request, self.feed.recent_calls(), lambda recent: board_page(
            t, board=board, recent=recent, alerts=self.feed.alerts(), tz=self.tz, link_up=self.feed.link_up,
            recent_limit=self.feed.finished.limit, alert_limit=self.feed.alert_limit))


class BoardJSON(resource.Resource):
    isLeaf = True

    def __init__(self, feed: BoardFeed) -> None:
        super().__init__()
        self.feed = feed

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(self.feed.board(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class EventsResource(resource.Resource):
    isLeaf = True

    def __init__(self, feed: BoardFeed) -> None:
        super().__init__()
        self.feed = feed

    def render_GET(self, request: server.Request) -> int:
        self.feed.open_stream(request)
        return server.NOT_DONE_YET

    def render_HEAD(self, request: server.Request) -> bytes:
        # A HEAD must not open a stream that would never end (twisted.web would fake it with GET).
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        return b""


class StaticFiles(_Folder):
    """The files of ``static/``, read once at start: no directory listing, no path outside it."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        for path in sorted(folder.iterdir()):
            if path.suffix in _CONTENT_TYPES:
                self.putChild(path.name.encode("utf-8"), _StaticFile(path.read_bytes(), _CONTENT_TYPES[path.suffix]))


class _StaticFile(resource.Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", b"no-cache")
        return self.body


class Health(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"ok"


def build_site(*, model: LiveModel, bus: EventBus, clock: IReactorTime, store: RecentCallSource | None, pbx: str,
               mask_numbers: bool = True, tz: str = "Asia/Shanghai", recent_limit: int = 20,
               sse_max_queued: int | None = None, screens: "Screens | None" = None) -> BoardSite:
    """The board site for one PBX, its feed subscribed to ``bus`` from now on.

    ``clock`` times the board ("now" for waits and ring counts), the snapshot throttle and the
    HTTP timeouts.  ``store`` gives stored calls for "last calls" (None: only calls seen since
    start).  ``sse_max_queued`` caps the bytes queued per event-stream client that stopped
    reading (default 1 MiB, see :mod:`telephony.desktop.sse`).  ``screens`` adds sign-in, the
    agent's desk with its pop feed, the supervisor's board and the API (``/login``, ``/agent``,
    ``/supervisor``, ``/api/v1``).  Call :meth:`BoardSite.close` to stop.
    """
    feed = BoardFeed(model=model, bus=bus, clock=clock, store=store, pbx=pbx, mask_numbers=mask_numbers,
                     recent_limit=recent_limit, max_queued=sse_max_queued)
    root = _Folder()
    root.putChild(b"", BoardPage(feed, ZoneInfo(tz)))
    api = _Folder()
    api.putChild(b"board", BoardJSON(feed))
    root.putChild(b"api", api)
    root.putChild(b"events", EventsResource(feed))
    root.putChild(b"static", StaticFiles(STATIC))
    root.putChild(b"healthz", Health())
    site = BoardSite(root, feed, clock)
    feed.start()
    if screens is not None:
        _add_screens(root, site, screens, model=model, bus=bus, clock=clock, pbx=pbx, zone=ZoneInfo(tz),
                     recent_limit=recent_limit, sse_max_queued=sse_max_queued)
    return site


@dataclass(frozen=True)
class Screens:
    """What the signed-in screens need: the store (accounts, pops, wrap-ups), the AMI link for
    presence and listening (None: those answer 503), and the web settings."""

    store: Any
    ami: Any = None
    session_ttl_s: float = 12 * 3600
    secure_cookies: bool = False
    login_max_failures: int = 5
    login_window_s: float = 300.0
    wrapup_s: float = 30.0
    transfer_context: str = "agents"
    queue_context: str = "from-carrier"
    announcements_required: bool = False
    #: rings allowed per queue (the service level counts answers within them)
    rings_allowed: Any = 3
    #: the recorder the agent pauses a recording through (None: calls are not recorded here)
    recorder: Any = None


def _add_screens(root: resource.Resource, site: BoardSite, screens: Screens, *, model: LiveModel, bus: EventBus,
                 clock: IReactorTime, pbx: str, zone: ZoneInfo, recent_limit: int,
                 sse_max_queued: int | None) -> None:
    gate = Gate(screens.store, clock, session_ttl_s=screens.session_ttl_s, secure_cookies=screens.secure_cookies,
                max_failures=screens.login_max_failures, failure_window_s=screens.login_window_s)
    queued = {} if sse_max_queued is None else {"max_queued": sse_max_queued}
    feeds = AgentFeeds(bus=bus, clock=clock, facts=screens.store, pbx=pbx, model=model, **queued)
    # the supervisor's board: the same feed as the public one, numbers in full
    full = BoardFeed(model=model, bus=bus, clock=clock, store=screens.store, pbx=pbx, mask_numbers=False,
                     recent_limit=recent_limit, max_queued=sse_max_queued)
    presence = PresenceActions(screens.ami, screens.store, clock, model, pbx, screens.wrapup_s)
    root.children[b"api"].putChild(b"v1", Api(gate, store=screens.store, feeds=feeds, presence=presence,
                                              board=full.board, open_board_stream=full.open_stream,
                                              ami=screens.ami, pbx=pbx, model=model, tz=zone.key,
                                              transfer_context=screens.transfer_context,
                                              queue_context=screens.queue_context,
                                              announcements_required=screens.announcements_required,
                                              rings_allowed=screens.rings_allowed, recorder=screens.recorder,
                                              wrapup_s=screens.wrapup_s))
    root.putChild(b"login", LoginPage(gate, zone, _language))
    root.putChild(b"logout", LogoutResource(gate))
    root.putChild(b"agent", AgentPage(gate, zone, _language, pbx))
    root.putChild(b"supervisor", SupervisorPage(gate, zone, _language, full))
    feeds.start()
    full.start()
    sweeper = task.LoopingCall(_sweep_sessions, screens.store)
    sweeper.clock = clock
    sweeper.start(SESSION_SWEEP_S, now=False)
    site.agent_feeds = feeds
    site.on_close += [feeds.stop, full.stop, presence.stop, sweeper.stop]


SESSION_SWEEP_S = 3600.0  #: expired sessions sign nobody in; this only keeps their table small


def _sweep_sessions(store: Any) -> defer.Deferred:
    d = defer.maybeDeferred(store.sweep_sessions)
    d.addCallback(lambda count: log.info("web: %d expired sessions removed", count) if count else None)
    d.addErrback(lambda failure: log.warning("web: expired sessions not removed: %s", failure.getErrorMessage()))
    return d
