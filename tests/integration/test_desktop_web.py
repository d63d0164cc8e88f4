"""The board over real HTTP on 127.0.0.1 (WebService on port 0, the real reactor, twisted.web's Agent):
the page, the JSON, static files and headers, fed with real AMI captures."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from twisted.internet import defer, reactor
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from telephony.bus import EventBus
from telephony.config import parse_config
from telephony.desktop.service import WebService
from telephony.live.model import LiveModel
from telephony.replay import calls_from_capture
from telephony.store import Store
from tests.amiscript import Pbx
from tests.conftest import capture_path
from tests.unit.test_desktop_snapshot import play

EVIL = "<img src=x onerror=alert(1)>"


class WebTestCase(unittest.TestCase):
    """A WebService on 127.0.0.1:0 over a fresh model and bus; HTTP through a pooled Agent."""

    timeout = 10
    store: Store | None = None
    sse_max_queued: int | None = None

    def setUp(self) -> None:
        self.model = LiveModel()
        self.bus = EventBus()
        self.web = WebService(host="127.0.0.1", port=0, model=self.model, bus=self.bus, clock=reactor,
                              store=self.store, pbx="default", sse_max_queued=self.sse_max_queued)
        self.web.startService()
        self.addCleanup(self.web.stopService)
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.agent = Agent(reactor, pool=self.pool)
        # cleanups run last-in first-out: the client's connections close before the server stops
        self.addCleanup(self.pool.closeCachedConnections)

    def url(self, path: str) -> bytes:
        host, port = self.web.address
        return f"http://{host}:{port}{path}".encode("ascii")

    @defer.inlineCallbacks
    def get(self, path: str, headers: dict[bytes, list[bytes]] | None = None, method: bytes = b"GET"):
        response = yield self.agent.request(method, self.url(path), Headers(headers or {}))
        body = yield readBody(response)
        return response, body

    def header(self, response, name: bytes) -> bytes | None:
        values = response.headers.getRawHeaders(name)
        return values[0] if values else None

    def play_until_now(self, name: str, until: float, ago: float) -> None:
        """Feed the capture's first ``until`` s so that its t=``until`` is ``ago`` s before now... and
        its events are timed on the reactor's clock (the page's "now")."""
        play(name, self.model, self.bus, until=until, base=reactor.seconds() - until - ago)


class BoardPageTests(WebTestCase):
    @defer.inlineCallbacks
    def test_page_shows_a_talking_and_a_ringing_call_from_capture_08_masked_in_chinese(self):
        # 1002 started ringing at 1.23 s of the capture; 6 s later it is on its second ring
        self.play_until_now("08-", until=3.0, ago=4.5)
        response, body = yield self.get("/")
        page = body.decode("utf-8")
        self.assertEqual(response.code, 200)
        self.assertEqual(self.header(response, b"content-type"), b"text/html; charset=utf-8")
        self.assertEqual(self.header(response, b"content-security-policy"), b"default-src 'self'")
        self.assertEqual(self.header(response, b"x-content-type-options"), b"nosniff")
        self.assertIn('<html lang="zh-CN">', page)
        self.assertIn('<tr data-linkedid="1795367100.16" class="call-talking"><td><span class="caller">'
                      '<span class="name">Zhou Jie</span><span class="number">138****1111</span>', page)
        self.assertIn('<span class="state call-talking">通话中</span></td><td>1001</td>', page)
        self.assertIn('<span class="name">Wu Fang</span><span class="number">138****2222</span>', page)
        self.assertIn('<span class="ring" data-ring-agent="1002">1002 第2声</span>', page)
        self.assertIn("等待中 1 位", page)
        for number in (b"13800001111", b"13800002222"):
            self.assertNotIn(number, body)

    @defer.inlineCallbacks
    def test_english_is_chosen_by_lang_and_remembered_in_a_cookie(self):
        self.play_until_now("08-", until=3.0, ago=0.0)
        response, body = yield self.get("/?lang=en")
        cookie = self.header(response, b"set-cookie")
        self.assertTrue(cookie.startswith(b"lang=en;"), cookie)
        self.assertIn(b"SameSite=lax", cookie)
        self.assertIn(b'<html lang="en">', body)
        self.assertIn("talking".encode(), body)
        self.assertIn(b"1002 ring 1", body)
        _, again = yield self.get("/", {b"cookie": [b"lang=en"]})
        self.assertIn(b'<html lang="en">', again)
        self.assertIn("Calls in progress".encode(), again)
        _, chinese = yield self.get("/")
        self.assertIn('当前通话'.encode(), chinese)

    @defer.inlineCallbacks
    def test_api_board_is_the_same_board_as_json_with_the_same_masking(self):
        self.play_until_now("08-", until=3.0, ago=4.5)
        response, body = yield self.get("/api/board")
        self.assertEqual(self.header(response, b"content-type"), b"application/json; charset=utf-8")
        board = json.loads(body)
        self.assertEqual([(c["caller"], c["state"]) for c in board["calls"]],
                         [("138****1111", "talking"), ("138****2222", "ringing")])
        self.assertEqual({a["agent"]: (a["state"], a["ring"]) for a in board["agents"]},
                         {"1001": ("talking", None), "1002": ("ringing", 2)})
        self.assertEqual(board["queues"][0]["waiting"][0]["caller"], "138****2222")
        self.assertNotIn(b"13800002222", body)

    @defer.inlineCallbacks
    def test_a_hostile_caller_name_is_only_ever_text_on_the_page(self):
        pbx = Pbx()
        caller, messages = pbx.caller("13912345678", EVIL)
        messages += pbx.join(caller, "support")
        _, ringing = pbx.offer(caller, "1001", "support")
        now = reactor.seconds()
        for message in messages + ringing:
            self.bus.publish_all(self.model.apply(message, now))
        _, body = yield self.get("/")
        page = body.decode("utf-8")
        self.assertNotIn("<img", page)
        self.assertIn('<span class="name">&lt;img src=x onerror=alert(1)&gt;</span><span class="number">139****5678</span>',
                      page)
        _, data = yield self.get("/api/board")
        self.assertEqual(json.loads(data)["calls"][0]["caller_name"], EVIL)  # data, for textContent

    @defer.inlineCallbacks
    def test_static_module_and_stylesheet_health_and_nothing_else(self):
        response, body = yield self.get("/static/board.js")
        self.assertEqual((response.code, self.header(response, b"content-type")), (200, b"text/javascript; charset=utf-8"))
        self.assertIn(b'new EventSource(body.dataset.stream || "/events")', body)
        for module in ("board", "agent", "supervisor", "login"):
            response, body = yield self.get(f"/static/{module}.js")
            self.assertEqual(response.code, 200, module)
            self.assertNotIn(b"innerHTML", body, module)  # caller data only ever becomes text
        response, body = yield self.get("/static/board.css")
        self.assertEqual((response.code, self.header(response, b"content-type")), (200, b"text/css; charset=utf-8"))
        response, body = yield self.get("/static/favicon.svg")
        self.assertEqual((response.code, self.header(response, b"content-type")), (200, b"image/svg+xml"))
        response, body = yield self.get("/healthz")
        self.assertEqual((response.code, body), (200, b"ok"))
        for path in ("/static/", "/static/nothing.js", "/static/../site.py", "/static/%2e%2e/site.py", "/api", "/nope"):
            response, _ = yield self.get(path)
            self.assertEqual(response.code, 404, path)
            self.assertEqual(self.header(response, b"content-security-policy"), b"default-src 'self'")
        response, _ = yield self.get("/", method=b"POST")
        self.assertEqual(response.code, 405)
        response, body = yield self.get("/events", method=b"HEAD")  # answered, and no stream left open
        self.assertEqual((response.code, body), (200, b""))
        self.assertEqual(self.web.site.feed.streams.clients, set())


class ServiceTests(WebTestCase):
    @defer.inlineCallbacks
    def test_from_config_serves_where_the_config_says_with_its_pbx_name_and_time_zone(self):
        probe = reactor.listenTCP(0, Factory(), interface="127.0.0.1")  # find a free port for the config
        port = probe.getHost().port
        yield probe.stopListening()
        config = parse_config(f"pbx: {{name: hq, ami: {{secret_env: X}}}}\ntimezone: Asia/Urumqi\n"
                              f"web: {{listen: '127.0.0.1:{port}'}}\n")
        self.model, self.bus = LiveModel(config.pbx.name), EventBus()
        self.web = WebService.from_config(config, model=self.model, bus=self.bus, clock=reactor, store=None)
        self.web.startService()
        self.addCleanup(self.web.stopService)
        self.assertEqual(self.web.address, ("127.0.0.1", port))
        play("02-", self.model, self.bus, base=1795366966.0)  # 张三 at 17:02:46 UTC: 23:02:46 in Urumqi
        _, body = yield self.get("/")
        self.assertIn("电话系统 hq".encode(), body)
        self.assertIn(b"<td>11-22 23:02:46</td>", body)

    @defer.inlineCallbacks
    def test_a_port_already_taken_stops_the_start_with_the_reason(self):
        host, port = self.web.address
        second = WebService(host=host, port=port, model=self.model, bus=self.bus, clock=reactor, store=None,
                            pbx="default")
        with self.assertLogs("telephony.desktop.service") as logs:
            self.assertRaises(CannotListenError, second.startService)
        self.assertIn(f"cannot listen on {host}:{port}", logs.output[0])
        self.assertFalse(second.running)
        response, body = yield self.get("/healthz")  # the first one still serves
        self.assertEqual(body, b"ok")


class LastCallsTests(WebTestCase):
    @defer.inlineCallbacks
    def test_a_call_that_ends_appears_in_last_calls_in_both_languages(self):
        play("02-", self.model, self.bus, base=1795366966.0)  # 张三, answered by 1001, ends at ~9.1 s
        _, body = yield self.get("/")
        page = body.decode("utf-8")
        row = page[page.index('<tbody id="recent-rows"'):]
        self.assertIn('<span class="name">张三</span><span class="number">138****8000</span>', row)
        self.assertIn("<td>support</td><td>1001</td><td>1</td><td>0:04</td><td>0:05</td>", row)
        self.assertIn('<span class="outcome">已接听</span>', row)
        self.assertNotIn("13800138000", page)
        _, body = yield self.get("/?lang=en")
        self.assertIn(b'<span class="outcome">answered</span>', body)


class StoredLastCallsTests(WebTestCase):
    """Last calls merge what the store holds (a real SQLite Store) with what ended since start."""

    def setUp(self) -> None:
        scratch = tempfile.mkdtemp(prefix="telephony-web-")
        self.addCleanup(shutil.rmtree, scratch)
        self.store = Store(f"sqlite:///{Path(scratch) / 'telephony.db'}", reactor=reactor, threads=1)
        self.store.startService()
        self.addCleanup(self.store.stopService)
        super().setUp()

    @defer.inlineCallbacks
    def test_stored_calls_and_calls_seen_since_start_are_shown_together_newest_first(self):
        (stored, t0), = calls_from_capture(capture_path("03-"))  # Wang Wei, 1002 answered after 1001 rang out
        yield self.store.save_call(stored)
        play("02-", self.model, self.bus, base=stored.ended_at + 60)  # 张三, ends a minute after
        _, body = yield self.get("/")
        page = body.decode("utf-8")
        rows = page[page.index('<tbody id="recent-rows"'):].split("<tr ")[1:]
        self.assertEqual(len(rows), 2)
        self.assertIn("张三", rows[0])
        self.assertIn("Wang Wei", rows[1])
        self.assertIn("139****5678", rows[1])
        self.assertIn("<td>1002</td><td>4</td><td>0:20</td><td>0:05</td>", rows[1])
        self.assertNotIn("13912345678", page)
