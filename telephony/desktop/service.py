"""The web server as a long-lived service: listens where the config says (``web.listen``, default
127.0.0.1:8080) and serves the site from :func:`telephony.desktop.site.build_site`.

``startService`` starts listening, or raises ``CannotListenError`` (port taken, address not on
this machine) so the daemon stops at start-up with the reason instead of running without its page.
The demo, which needs no fixed port, asks for ``fallback``: a taken port is then replaced by any
free one on the same host, and a warning says where the page is.
``stopService`` returns a Deferred that fires once the port is closed and every connection, event
streams included, is gone.
"""
from __future__ import annotations

import logging
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.python.failure import Failure

from telephony.bus import EventBus
from telephony.config import Config
from telephony.live.model import LiveModel

from .feed import RecentCallSource
from .site import BoardSite, Screens, build_site

log = logging.getLogger(__name__)

__all__ = ["WebService"]


class WebService(Service):
    name = "web"

    def __init__(self, *, host: str, port: int, model: LiveModel, bus: EventBus, clock: IReactorTCP,
                 store: RecentCallSource | None, pbx: str, mask_numbers: bool = True, tz: str = "Asia/Shanghai",
                 sse_max_queued: int | None = None, fallback: bool = False, screens: Screens | None = None) -> None:
        """``clock`` is the reactor: it listens (IReactorTCP) and times the board (IReactorTime);
        ``screens``: serve sign-in, the agent's desk and the supervisor's board too."""
        self.host = host
        self.port = port
        self.fallback = fallback
        self._reactor = clock
        self._site_args: dict[str, Any] = dict(model=model, bus=bus, clock=clock, store=store, pbx=pbx,
                                               mask_numbers=mask_numbers, tz=tz, sse_max_queued=sse_max_queued,
                                               screens=screens)
        self.site: BoardSite | None = None
        self._port: IListeningPort | None = None

    @classmethod
    def from_config(cls, config: Config, *, model: LiveModel, bus: EventBus, clock: IReactorTCP,
                    store: RecentCallSource | None, mask_numbers: bool = True, fallback: bool = False,
                    ami: Any = None, recorder: Any = None) -> "WebService":
        """With a store, the signed-in screens are served too (``ami`` carries their actions)."""
        host, port = config.web.address
        web = config.web
        screens = None if store is None else Screens(
            store=store, ami=ami, session_ttl_s=web.session_ttl_s, secure_cookies=web.secure_cookies,
            login_max_failures=web.login_max_failures, login_window_s=web.login_window_s, wrapup_s=web.wrapup_s,
            transfer_context=web.transfer_context, queue_context=web.queue_context,
            announcements_required=config.announcements.required,
            rings_allowed=lambda queue: config.ring_policy(queue).allowed, recorder=recorder)
        return cls(host=host, port=port, model=model, bus=bus, clock=clock, store=store, pbx=config.pbx.name,
                   mask_numbers=mask_numbers, tz=config.timezone, fallback=fallback, screens=screens)

    def __repr__(self) -> str:
        return f"<WebService http://{self.host}:{self.port}/>"

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens once listening (the real port when ``port`` was 0)."""
        if self._port is None:
            return None
        host = self._port.getHost()
        return host.host, host.port

    def startService(self) -> None:
        site = build_site(**self._site_args)
        result = self._listen(site, self.port)
        if isinstance(result, Failure) and self.fallback and self.port != 0:
            log.warning("web: %s:%d is taken (%s); listening on a free port instead", self.host, self.port,
                        result.getErrorMessage())
            result = self._listen(site, 0)
        if isinstance(result, Failure):
            site.close()
            log.error("web: cannot listen on %s:%d: %s", self.host, self.port, result.getErrorMessage())
            result.raiseException()
        self.site, self._port = site, result
        super().startService()
        log.info("web: the board is on http://%s:%d/", *self.address)

    def _listen(self, site: BoardSite, port: int) -> IListeningPort | Failure:
        outcome: list[IListeningPort | Failure] = []
        # A TCP endpoint listens at once: its Deferred has fired by the time listen() returns.
        TCP4ServerEndpoint(self._reactor, port, interface=self.host).listen(site).addBoth(outcome.append)
        return outcome[0]

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            await port.stopListening()
        if self.site is not None:
            site, self.site = self.site, None
            await site.close()

