"""The signed-in screens over real HTTP on 127.0.0.1: sign-in (CSRF, cookies, rate limit, sign-out),
who may open which route (an agent never sees another agent's call, customer, feed or items), the
wrap-up and the customer card, presence sent to the PBX, and caller names as text.

A real store (SQLite file, argon2 hashes) behind a WebService on port 0, the real reactor, and
twisted.web's Agent with a cookie jar per person."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from telephony.bus import EventBus
from telephony.desktop.service import WebService
from telephony.desktop.site import Screens
from telephony.live import events as ev
from telephony.live.model import LiveModel
from telephony.store import Store
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade
from tests.amiscript import Pbx
from tests.integration.test_store_calls import summary
from tests.unit.test_desktop_snapshot import play

EVIL = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse"
PBX = "default"


class FakeAMI:
    """Takes actions and remembers them; a QueuePause reaches the live model as Asterisk's
    ``QueueMemberPause`` would (the agent is a member of ``support``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []
        self.model: LiveModel | None = None
        self.bus: EventBus | None = None
        self._waiting: list[defer.Deferred] = []

    def next_action(self) -> defer.Deferred:
        """Fires with the next action sent."""
        d: defer.Deferred = defer.Deferred()
        self._waiting.append(d)
        return d

    def action(self, name, fields=None, *, timeout=None):
        self.sent.append((name, list(fields or [])))
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(self.sent[-1])
        if name == "QueuePause" and self.model is not None:
            values = dict(fields)
            agent = values["Interface"].split("/")[1]
            self.bus.publish_all(self.model.apply(Pbx().pause("support", agent, values["Paused"], values["Reason"]),
                                                  reactor.seconds()))
        return defer.succeed(None)


class Person:
    """One browser: its own cookie jar over the shared connection pool."""

    def __init__(self, test: "ScreensTestCase") -> None:
        self.test = test
        self.cookies: dict[bytes, bytes] = {}
        self.agent = Agent(reactor, pool=test.pool)
        self.csrf: str | None = None

    @defer.inlineCallbacks
    def request(self, method: str, path: str, *, form: dict | None = None, data: dict | None = None,
                headers: dict[bytes, list[bytes]] | None = None, read: bool = True, raw: bytes | None = None):
        headers = dict(headers or {})
        body = raw
        if form is not None:
            headers[b"content-type"] = [b"application/x-www-form-urlencoded"]
            body = urlencode(form).encode()
        elif data is not None:
            headers[b"content-type"] = [b"application/json"]
            body = json.dumps(data).encode()  # lone surrogates stay \ud800 escapes, as a hostile client sends them
        if body is not None:
            from twisted.web.client import FileBodyProducer
            from io import BytesIO
            body = FileBodyProducer(BytesIO(body))
        if self.cookies:
            headers[b"cookie"] = [b"; ".join(b"=".join(item) for item in self.cookies.items())]
        response = yield self.agent.request(method.encode(), self.test.url(path), Headers(headers), body)
        for cookie in response.headers.getRawHeaders(b"set-cookie", []):
            name, _, rest = cookie.partition(b"=")
            value = rest.split(b";")[0]
            if value and b"max-age=0" not in cookie.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        if not read:
            return response, b""
        content = yield readBody(response)
        return response, content

    @defer.inlineCallbacks
    def login_form(self):
        response, body = yield self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
        return response, body, token

    @defer.inlineCallbacks
    def sign_in(self, username: str, password: str = PASSWORD):
        _, _, token = yield self.login_form()
        response, body = yield self.request("POST", "/login", form={"username": username, "password": password,
                                                                   "csrf_token": token})
        if response.code == 303:
            home = response.headers.getRawHeaders(b"location")[0].decode()
            _, page = yield self.request("GET", home)
            found = re.search(rb'data-csrf="([^"]+)"', page)
            self.csrf = found.group(1).decode() if found else None
        return response, body

    def post(self, path: str, data: dict, *, csrf: bool = True):
        headers = {b"x-csrf-token": [self.csrf.encode()]} if csrf and self.csrf else {}
        return self.request("POST", path, data=data, headers=headers)

    @defer.inlineCallbacks
    def get_json(self, path: str):
        response, body = yield self.request("GET", path)
        return response.code, (json.loads(body) if body else None)


class ScreensTestCase(unittest.TestCase):
    timeout = 30
    announcements_required = False

    @classmethod
    def setUpClass(cls) -> None:
        # users are made once (argon2 is slow on purpose); each test gets a copy of the database
        cls.template = Path(tempfile.mkdtemp(prefix="screens-"))
        url = f"sqlite:///{cls.template / 'template.db'}"
        upgrade(url)
        with open_store(url) as store:
            store.add_user("agent1001", "agent", PASSWORD, extension="1001")
            store.add_user("agent1002", "agent", PASSWORD, extension="1002")
            store.add_user("boss", "supervisor", PASSWORD, extension="1009")
            store.add_user("ops", "ops", PASSWORD)
            cls.crm_token = store.add_token("crm", "supervisor")
            cls.desk_token = store.add_token("crm1001", "agent", extension="1001")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.template, ignore_errors=True)

    def setUp(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="screens-test-"))
        self.addCleanup(shutil.rmtree, folder, True)
        shutil.copy(self.template / "template.db", folder / "t.db")
        self.store = Store(f"sqlite:///{folder / 't.db'}", reactor=reactor, threads=2)
        self.store.startService()
        self.addCleanup(self.store.stopService)
        self.model = LiveModel(PBX)
        self.bus = EventBus()
        self.ami = FakeAMI()
        self.ami.model, self.ami.bus = self.model, self.bus
        for agent in ("1001", "1002", "1003"):
            self.model.apply(Pbx().member_status("support", agent), reactor.seconds())
        screens = Screens(store=self.store, ami=self.ami, wrapup_s=60,
                          announcements_required=self.announcements_required)
        self.web = WebService(host="127.0.0.1", port=0, model=self.model, bus=self.bus, clock=reactor,
                              store=self.store, pbx=PBX, screens=screens)
        self.web.startService()
        self.addCleanup(self.web.stopService)
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.addCleanup(self.pool.closeCachedConnections)

    def url(self, path: str) -> bytes:
        host, port = self.web.address
        return f"http://{host}:{port}{path}".encode()

    @defer.inlineCallbacks
    def signed_in(self, username: str):
        person = Person(self)
        response, _ = yield person.sign_in(username)
        self.assertEqual(response.code, 303, username)
        return person

    def ring(self, linkedid: str, agent: str, caller: str, ring: int = 1, name: str = "张三") -> None:
        self.bus.publish(ev.AgentRinging(
            pbx=PBX, at=reactor.seconds(), linkedid=linkedid, offer_id=f"{linkedid}-{agent}", agent=agent,
            interface=f"PJSIP/{agent}", queue="support", channel=f"PJSIP/{agent}-1", caller_channel=None,
            caller=caller, caller_name=name, ring=ring, ring_started_at=reactor.seconds(),
            call_entered_at=reactor.seconds()))

    def answer(self, linkedid: str, agent: str, caller: str) -> None:
        self.bus.publish(ev.CallAnswered(
            pbx=PBX, at=reactor.seconds(), linkedid=linkedid, agent=agent, interface=f"PJSIP/{agent}",
            queue="support", channel=f"PJSIP/{agent}-1", caller=caller, caller_name="张三", wait_s=3.0,
            rings_to_answer=1, apologise=False))


class SignInTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_the_form_signs_an_agent_in_to_his_desk_with_a_strict_http_only_cookie(self):
        person = Person(self)
        response, body, token = yield person.login_form()
        self.assertEqual(response.code, 200)
        self.assertIn(b'name="username"', body)
        self.assertIn('登录'.encode(), body)
        response, _ = yield person.request("POST", "/login", form={"username": "agent1001", "password": PASSWORD,
                                                                    "csrf_token": token})
        self.assertEqual((response.code, response.headers.getRawHeaders(b"location")), (303, [b"/agent"]))
        cookie = next(c for c in response.headers.getRawHeaders(b"set-cookie") if c.startswith(b"telephony_session="))
        for flag in (b"HttpOnly", b"SameSite=strict", b"Path=/", b"Max-Age=43200"):
            self.assertIn(flag.lower(), cookie.lower())
        response, page = yield person.request("GET", "/agent")
        self.assertEqual(response.code, 200)
        self.assertIn(b'data-ext="1001"', page)
        self.assertIn("请在第三声前接起".encode(), page)
        response, _ = yield person.request("GET", "/supervisor")
        self.assertEqual(response.code, 403)

    @defer.inlineCallbacks
    def test_a_supervisor_lands_on_the_board_and_ops_on_the_public_page(self):
        person = Person(self)
        response, _ = yield person.sign_in("boss")
        self.assertEqual(response.headers.getRawHeaders(b"location"), [b"/supervisor"])
        response, page = yield person.request("GET", "/supervisor")
        self.assertEqual(response.code, 200)
        self.assertIn(b'data-stream="/api/v1/board/events"', page)
        response, _ = yield Person(self).sign_in("ops")
        self.assertEqual(response.headers.getRawHeaders(b"location"), [b"/"])

    @defer.inlineCallbacks
    def test_a_wrong_password_and_an_unknown_name_get_the_same_401(self):
        answers = []
        for username, password in (("agent1001", "wrong password"), ("nobody", PASSWORD)):
            response, body = yield Person(self).sign_in(username, password)
            answers.append((response.code, "用户名或密码不正确" in body.decode()))
        self.assertEqual(answers, [(401, True), (401, True)])

    @defer.inlineCallbacks
    def test_a_form_without_its_csrf_token_is_refused(self):
        person = Person(self)
        yield person.login_form()
        response, _ = yield person.request("POST", "/login", form={"username": "agent1001", "password": PASSWORD,
                                                                    "csrf_token": "forged" * 8})
        self.assertEqual(response.code, 403)
        stranger = Person(self)  # a page on another site: no login cookie at all
        response, _ = yield stranger.request("POST", "/login", form={"username": "agent1001", "password": PASSWORD})
        self.assertEqual(response.code, 403)

    @defer.inlineCallbacks
    def test_after_five_failures_even_the_right_password_waits(self):
        for _ in range(5):
            response, _ = yield Person(self).sign_in("agent1002", "guess guess")
            self.assertEqual(response.code, 401)
        response, body = yield Person(self).sign_in("agent1002")
        self.assertEqual(response.code, 429)
        self.assertGreater(int(response.headers.getRawHeaders(b"retry-after")[0]), 0)
        response, _ = yield Person(self).sign_in("agent1001")  # another name from the same address still may
        self.assertEqual(response.code, 303)

    @defer.inlineCallbacks
    def test_signing_out_ends_the_session(self):
        person = yield self.signed_in("agent1001")
        code, _ = yield person.get_json("/api/v1/agents/1001/tasks")
        self.assertEqual(code, 200)
        response, _ = yield person.request("POST", "/logout", form={"csrf_token": person.csrf})
        self.assertEqual((response.code, response.headers.getRawHeaders(b"location")), (303, [b"/login"]))
        code, _ = yield person.get_json("/api/v1/agents/1001/tasks")
        self.assertEqual(code, 401)
        response, _ = yield person.request("GET", "/agent")
        self.assertEqual((response.code, response.headers.getRawHeaders(b"location")), (303, [b"/login"]))


class AccessTests(ScreensTestCase):
    """Each route with an id, asked by the agent whose it is, by another agent, by a supervisor, by ops
    staff, by a program with a token and by nobody."""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        # 1002 rang out, 1001... no: capture-like call answered by 1002 (offers 1001 no_answer, 1002 answered)
        yield self.store.save_call(summary(linkedid="c-1002", pbx=PBX, caller="13912345678", caller_name="王伟"))
        yield self.store.save_call(summary(linkedid="c-other", pbx=PBX, caller="13700001111", caller_name="李娜",
                                           offers=(), answered_by="1005"))
        self.people = {}
        for name in ("agent1001", "agent1002", "boss", "ops"):
            self.people[name] = yield self.signed_in(name)
        self.people["nobody"] = Person(self)

    @defer.inlineCallbacks
    def codes(self, path: str, method: str = "GET", data: dict | None = None):
        out = {}
        for name, person in self.people.items():
            if method == "GET":
                response, _ = yield person.request("GET", path, read=not path.endswith("/events"))
                if path.endswith("/events"):
                    response.deliverBody(_Discard())  # a stream: the headers say enough
            else:
                response, _ = yield person.post(path, data or {})
            out[name] = response.code
        return out

    @defer.inlineCallbacks
    def test_a_stored_call(self):
        codes = yield self.codes(f"/api/v1/calls/{PBX}/c-1002")
        # 1001 was offered the call (it rang out at his desk), 1002 took it
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 200, "boss": 200, "ops": 404, "nobody": 401})
        codes = yield self.codes(f"/api/v1/calls/{PBX}/c-other")
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 404, "boss": 200, "ops": 404, "nobody": 401})
        code, call = yield self.people["agent1002"].get_json(f"/api/v1/calls/{PBX}/c-other")
        self.assertNotIn("李娜", json.dumps(call, ensure_ascii=False))
        codes = yield self.codes(f"/api/v1/calls/{PBX}/no-such-call")  # the same answer as "not yours"
        self.assertEqual(codes["agent1001"], 404)

    @defer.inlineCallbacks
    def test_a_customer_card(self):
        codes = yield self.codes("/api/v1/customers/13700001111")
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 404, "boss": 200, "ops": 404, "nobody": 401})
        codes = yield self.codes("/api/v1/customers/+86%20139%201234%205678")  # his, written another way
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 200, "boss": 200, "ops": 404, "nobody": 401})
        codes = yield self.codes("/api/v1/customers/13700001111", "POST", {"notes": "mine now"})
        # ops staff have no page that gives them a form token: refused before the route is asked
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 404, "boss": 200, "ops": 403, "nobody": 401})
        code, body = yield self.people["agent1001"].get_json("/api/v1/customers/not-a-number")
        self.assertEqual(code, 400)
        self.assertIn("not a phone number", body["error"])

    @defer.inlineCallbacks
    def test_an_agents_feed_items_and_presence(self):
        codes = yield self.codes("/api/v1/agents/1001/events")
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 403, "boss": 200, "ops": 403, "nobody": 401})
        codes = yield self.codes("/api/v1/agents/1001/tasks")
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 403, "boss": 200, "ops": 403, "nobody": 401})
        codes = yield self.codes("/api/v1/agents/1001/presence", "POST", {"state": "ready"})
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 403, "boss": 200, "ops": 403, "nobody": 401})

    @defer.inlineCallbacks
    def test_a_wrap_up_is_written_only_by_the_agent_who_took_the_call(self):
        wrapup = {"problem_type": "咨询", "resolution": "resolved"}
        codes = yield self.codes(f"/api/v1/calls/{PBX}/c-1002/wrapup", "POST", wrapup)
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 200, "boss": 403, "ops": 403, "nobody": 401})

    @defer.inlineCallbacks
    def test_the_colleague_a_call_was_transferred_to_writes_his_wrap_up_too(self):
        from tests.integration.test_store_calls import offer

        yield self.store.save_call(summary(linkedid="c-xfer", pbx=PBX, answered_by="1002",
                                           offers=(offer("1002", 0.0, 3.0, 1, "answered"),
                                                   offer("1001", 60.0, 2.0, 1, "answered", queue=None))))
        codes = yield self.codes(f"/api/v1/calls/{PBX}/c-xfer/wrapup", "POST",
                                 {"problem_type": "求助", "resolution": "resolved"})
        self.assertEqual(codes, {"agent1001": 200, "agent1002": 200, "boss": 403, "ops": 403, "nobody": 401})

    @defer.inlineCallbacks
    def test_the_supervisors_board_and_listening(self):
        codes = yield self.codes("/api/v1/board")
        self.assertEqual(codes, {"agent1001": 403, "agent1002": 403, "boss": 200, "ops": 403, "nobody": 401})
        codes = yield self.codes("/api/v1/agents/1002/spy", "POST", {"mode": "listen"})
        self.assertEqual(codes, {"agent1001": 403, "agent1002": 403, "boss": 202, "ops": 403, "nobody": 401})
        self.assertEqual(self.ami.sent[-1][0], "Originate")
        self.assertIn(("Channel", "PJSIP/1009"), self.ami.sent[-1][1])
        self.assertIn(("Data", "PJSIP/1002,qE"), self.ami.sent[-1][1])

    @defer.inlineCallbacks
    def test_recordings_are_for_the_agent_who_took_the_call_and_supervisors_and_seek_with_range(self):
        audio = Path(tempfile.mkdtemp(prefix="recordings-"))
        self.addCleanup(shutil.rmtree, audio, True)
        wav = audio / "c-1002.wav"
        wav.write_bytes(b"RIFF" + bytes(range(256)) * 40)
        recording = yield self.store.start_recording(pbx=PBX, linkedid="c-1002", backend="mixmonitor",
                                                     path=str(wav), channel="PJSIP/carrier-1", agent="1002",
                                                     queue="support", at=reactor.seconds())
        codes = yield self.codes(f"/api/v1/calls/{PBX}/c-1002/recordings")
        # 1001 was rung for the call but did not take it: he hears nothing of it
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 200, "boss": 200, "ops": 404, "nobody": 401})
        code, listed = yield self.people["agent1002"].get_json(f"/api/v1/calls/{PBX}/c-1002/recordings")
        self.assertEqual([(r["id"], r["path"], r["state"], r["paused"]) for r in listed["recordings"]],
                         [(recording, str(wav), "recording", [])])
        codes = yield self.codes(f"/api/v1/recordings/{recording}")
        self.assertEqual(codes, {"agent1001": 404, "agent1002": 200, "boss": 200, "ops": 404, "nobody": 401})
        response, body = yield self.people["agent1002"].request(
            "GET", f"/api/v1/recordings/{recording}", headers={b"range": [b"bytes=4-13"]})
        self.assertEqual((response.code, body), (206, bytes(range(10))))
        self.assertEqual(response.headers.getRawHeaders(b"content-range"), [f"bytes 4-13/{4 + 256 * 40}".encode()])
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"audio/wav"])
        wav.unlink()
        response, body = yield self.people["boss"].request("GET", f"/api/v1/recordings/{recording}")
        self.assertEqual(response.code, 404)
        self.assertIn(b"not on this host", body)
        self.assertNotIn(str(audio).encode(), body)

    @defer.inlineCallbacks
    def test_each_queues_day_is_for_supervisors(self):
        codes = yield self.codes("/api/v1/queues/today")
        self.assertEqual(codes, {"agent1001": 403, "agent1002": 403, "boss": 200, "ops": 403, "nobody": 401})

    @defer.inlineCallbacks
    def test_a_program_with_a_bearer_token_reads_without_cookies_and_a_bad_token_is_401(self):
        program = Person(self)
        response, _ = yield program.request("GET", "/api/v1/agents/1001/events", read=False,
                                            headers={b"authorization": [f"Bearer {self.crm_token}".encode()]})
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"text/event-stream; charset=utf-8"])
        response.deliverBody(_Discard())
        response, _ = yield program.request("GET", "/api/v1/board",
                                            headers={b"authorization": [b"Bearer not-the-token"]})
        self.assertEqual(response.code, 401)

    @defer.inlineCallbacks
    def test_a_post_without_the_sessions_csrf_token_is_refused(self):
        response, body = yield self.people["agent1001"].post("/api/v1/agents/1001/presence", {"state": "ready"},
                                                            csrf=False)
        self.assertEqual(response.code, 403)
        self.assertEqual(self.ami.sent, [])


class DeskTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_a_wrap_up_is_saved_to_the_call_and_shows_in_the_customers_history(self):
        agent = yield self.signed_in("agent1001")
        self.ring("live-1", "1001", "13800138000")
        self.answer("live-1", "1001", "13800138000")
        response, body = yield agent.post(f"/api/v1/calls/{PBX}/live-1/wrapup", {
            "problem_type": "投诉", "order_no": "SO-1", "notes": "退款未到账", "resolution": "follow_up",
            "follow_up_due": "2026-12-08T10:00:00+08:00", "category": "返利客户"})
        self.assertEqual(response.code, 200, body)
        # the call log writes the call when it ends; the next pop of this customer shows both together
        yield self.store.save_call(summary(linkedid="live-1", pbx=PBX, caller="13800138000", answered_by="1001"))
        code, facts = yield agent.get_json("/api/v1/customers/013800138000")
        self.assertEqual(code, 200)
        self.assertEqual(facts["customer"]["category"], "返利客户")
        self.assertEqual([(h["problem_type"], h["order_no"], h["summary"]) for h in facts["history"]],
                         [("投诉", "SO-1", "退款未到账")])
        self.assertEqual([(c["kind"], c["due_at"]) for c in facts["callbacks"]],
                         [("follow_up", "2026-12-08T02:00:00+00:00")])
        code, tasks = yield agent.get_json("/api/v1/agents/1001/tasks")
        self.assertEqual(len(tasks["tasks"]), 1)

    @defer.inlineCallbacks
    def test_junk_in_a_wrap_up_is_refused_naming_the_field(self):
        agent = yield self.signed_in("agent1001")
        self.ring("live-2", "1001", "13800138000")
        self.answer("live-2", "1001", "13800138000")
        path = f"/api/v1/calls/{PBX}/live-2/wrapup"
        for data, field in (({"problem_type": "闲聊", "resolution": "resolved"}, "problem_type"),
                            ({"problem_type": "咨询", "resolution": "follow_up"}, "follow_up_due"),
                            ({"problem_type": "咨询", "resolution": "resolved", "follow_up_due": "tomorrow"},
                             "follow_up_due"),
                            ({"problem_type": "咨询", "resolution": "resolved", "category": "VIP"}, "category"),
                            ({"problem_type": "咨询", "resolution": "resolved", "order_no": "x" * 65}, "order_no")):
            response, body = yield agent.post(path, data)
            self.assertEqual(response.code, 400, data)
            self.assertIn(field, json.loads(body)["error"])
        response, body = yield agent.request("POST", path, headers={b"content-type": [b"application/json"],
                                                                   b"x-csrf-token": [agent.csrf.encode()]})
        self.assertEqual(response.code, 400)  # no body at all: the fields are missing

    @defer.inlineCallbacks
    def test_presence_goes_to_asterisk_as_queue_pause_with_the_reason(self):
        agent = yield self.signed_in("agent1001")
        response, _ = yield agent.post("/api/v1/agents/1001/presence", {"state": "paused", "reason": "培训"})
        self.assertEqual(response.code, 200)
        response, _ = yield agent.post("/api/v1/agents/1001/presence", {"state": "wrapup"})
        self.assertEqual(response.code, 200)
        response, _ = yield agent.post("/api/v1/agents/1001/presence", {"state": "ready"})
        self.assertEqual(response.code, 200)
        self.assertEqual([fields for _, fields in self.ami.sent], [
            [("Interface", "PJSIP/1001"), ("Paused", True), ("Reason", "培训")],
            [("Interface", "PJSIP/1001"), ("Paused", True), ("Reason", "话后处理")],
            [("Interface", "PJSIP/1001"), ("Paused", False), ("Reason", "")]])
        response, body = yield agent.post("/api/v1/agents/1001/presence", {"state": "paused"})
        self.assertEqual(response.code, 400)
        self.assertIn("reason", json.loads(body)["error"])
        response, _ = yield agent.request("POST", "/api/v1/agents/1001/presence",
                                          headers={b"content-type": [b"application/json"],
                                                   b"x-csrf-token": [agent.csrf.encode()]})
        self.assertEqual(response.code, 400)

    @defer.inlineCallbacks
    def test_a_hostile_caller_name_is_text_on_the_supervisors_board(self):
        yield self.store.save_call(summary(linkedid="evil", pbx=PBX, caller_name=EVIL))
        boss = yield self.signed_in("boss")
        _, page = yield boss.request("GET", "/supervisor")
        self.assertNotIn(EVIL.encode(), page)
        self.assertIn(b"&lt;img src=x onerror=alert(1)&gt;", page)
        self.assertIn(b"13912345678", page)  # signed in: numbers in full


class HostileInputTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_the_access_log_masks_the_numbers_in_paths_and_drops_query_strings(self):
        boss = yield self.signed_in("boss")
        with self.assertLogs("telephony.desktop.site", "INFO") as logged:
            yield boss.get_json("/api/v1/customers/13800138000")
            yield boss.get_json("/api/v1/faq?q=13912345678")
        text = "\n".join(r.getMessage() for r in logged.records)
        self.assertIn("/api/v1/customers/138****8000", text)
        for secret in ("13800138000", "13912345678", "q="):
            self.assertNotIn(secret, text)

    @defer.inlineCallbacks
    def test_a_body_too_large_is_refused_before_it_is_read(self):
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
        from twisted.internet.protocol import Protocol

        class Raw(Protocol):
            def __init__(self):
                self.received = b""
                self.closed = defer.Deferred()

            def dataReceived(self, data):
                self.received += data

            def connectionLost(self, reason):
                self.closed.callback(self.received)

        host, port = self.web.address
        raw = yield connectProtocol(TCP4ClientEndpoint(reactor, host, port), Raw())
        raw.transport.write(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                            b"Content-Length: 500000000\r\n\r\n" + b"a&" * 1000)
        answer = yield raw.closed
        self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer[:80])

    @defer.inlineCallbacks
    def test_junk_ids_numbers_and_text_get_400_or_404_never_500(self):
        agent, boss = (yield self.signed_in("agent1001")), (yield self.signed_in("boss"))
        for path in ("/api/v1/tasks/%C2%B2/done", "/api/v1/tasks/99999999999999999999/done",
                     "/api/v1/handovers/%C2%B2/ack", "/api/v1/announcements/9" + "9" * 40 + "/ack"):
            response, _ = yield agent.post(path, {})
            self.assertEqual(response.code, 404, path)
        for facts in ({"kind": "miss", "at": "NaN"}, {"kind": "miss", "at": 1e300}, {"kind": "miss"}):
            response, _ = yield boss.post("/api/v1/alerts/ack", facts)
            self.assertEqual(response.code, 400, facts)
        self.ring("live-9", "1001", "13800138000")
        self.answer("live-9", "1001", "13800138000")
        for wrapup in ({"problem_type": "咨询", "resolution": "follow_up", "follow_up_due": "0001-01-01T00:00+01:00"},
                       {"problem_type": "咨询", "resolution": "resolved", "notes": "\ud800"},
                       {"problem_type": "咨询", "resolution": "resolved", "order_no": "SO-1\nINFO forged"}):
            response, body = yield agent.post(f"/api/v1/calls/{PBX}/live-9/wrapup", wrapup)
            self.assertEqual(response.code, 400, (wrapup, body))
        response, _ = yield agent.request("POST", f"/api/v1/calls/{PBX}/live-9/wrapup",
                                          headers={b"content-type": [b"application/json"],
                                                   b"x-csrf-token": [agent.csrf.encode()]},
                                          raw=b"[" * 60000)
        self.assertEqual(response.code, 400)
        response, _ = yield agent.post("/api/v1/agents/1001/presence", {"state": "paused", "reason": "x\ny"})
        self.assertEqual(response.code, 400)
        self.assertEqual(self.ami.sent, [])
        response, _ = yield boss.post("/api/v1/announcements", {"title": "t", "body": None})
        self.assertEqual(response.code, 400)


class AroundTheCallTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_a_transfer_asks_the_caller_first_then_goes_to_asterisk_and_leaves_a_follow_up(self):
        play("08-", self.model, self.bus, until=3.0, base=reactor.seconds() - 3.0)  # 1001 talks with Zhou Jie
        talking = next(c for c in self.model.calls.values() if c.talking_with == "1001")
        path = f"/api/v1/calls/{PBX}/{talking.linkedid}/transfer"
        agent, other = (yield self.signed_in("agent1001")), (yield self.signed_in("agent1002"))
        response, body = yield agent.post(path, {"to": "1003", "note": "需要技术支持"})
        self.assertEqual(response.code, 400)
        self.assertIn("caller_agreed", json.loads(body)["error"])
        response, _ = yield other.post(path, {"to": "1003", "caller_agreed": True})
        self.assertEqual(response.code, 404)  # not his call
        response, body = yield agent.post(path, {"to": "1003", "note": "需要技术支持", "caller_agreed": True})
        self.assertEqual(response.code, 202, body)
        name, fields = self.ami.sent[-1]
        self.assertEqual(name, "BlindTransfer")
        self.assertEqual(dict(fields)["Context"], "agents")
        self.assertEqual(dict(fields)["Exten"], "1003")
        self.assertTrue(dict(fields)["Channel"].startswith("PJSIP/1001-"))
        _, tasks = yield agent.get_json("/api/v1/agents/1001/tasks")
        self.assertEqual([(t["kind"], t["text"]) for t in tasks["tasks"]], [("transfer", "→ 1003：需要技术支持")])
        response, body = yield agent.post(path, {"to": "4001", "how": "queue", "caller_agreed": True})
        self.assertEqual(response.code, 202, body)
        name, fields = self.ami.sent[-1]
        self.assertEqual((name, dict(fields)["Context"], dict(fields)["Exten"], dict(fields)["Priority"]),
                         ("Redirect", "from-carrier", "4001", 1))
        self.assertTrue(dict(fields)["Channel"].startswith("PJSIP/carrier-"))  # the caller's channel (23a)
        response, _ = yield agent.post(path, {"to": "4001", "how": "magic", "caller_agreed": True})
        self.assertEqual(response.code, 400)

    @defer.inlineCallbacks
    def test_a_handover_moves_the_open_items_and_waits_for_the_colleagues_acknowledgement(self):
        yield self.store.add_task("1001", "follow_up", "回电确认退款", customer="13800138000")
        leaving, coming = (yield self.signed_in("agent1001")), (yield self.signed_in("agent1002"))
        response, body = yield leaving.post("/api/v1/agents/1001/handover", {"to": "agent1009"})
        self.assertEqual(response.code, 400)
        self.assertIn("no agent named", json.loads(body)["error"])
        response, body = yield leaving.post("/api/v1/agents/1001/handover", {"to": "agent1002", "note": "张三的退款"})
        self.assertEqual(response.code, 200, body)
        handover = json.loads(body)
        self.assertEqual(handover["summary"]["day"]["calls_answered"], 0)
        self.assertEqual([i["text"] for i in handover["summary"]["items"]], ["回电确认退款"])
        _, mine = yield leaving.get_json("/api/v1/agents/1001/tasks")
        _, theirs = yield coming.get_json("/api/v1/agents/1002/tasks")
        self.assertEqual((mine["tasks"], [t["text"] for t in theirs["tasks"]]), ([], ["回电确认退款"]))
        _, pending = yield coming.get_json("/api/v1/agents/1002/handovers")
        self.assertEqual([(h["from"], h["note"]) for h in pending["handovers"]], [("1001", "张三的退款")])
        response, _ = yield leaving.post(f"/api/v1/handovers/{handover['id']}/ack", {})
        self.assertEqual(response.code, 404)  # not his to acknowledge
        response, _ = yield coming.post(f"/api/v1/handovers/{handover['id']}/ack", {})
        self.assertEqual(response.code, 200)
        _, pending = yield coming.get_json("/api/v1/agents/1002/handovers")
        self.assertEqual(pending["handovers"], [])

    @defer.inlineCallbacks
    def test_announcements_are_posted_by_supervisors_read_by_agents_and_the_faq_is_searchable(self):
        boss, agent = (yield self.signed_in("boss")), (yield self.signed_in("agent1001"))
        response, _ = yield agent.post("/api/v1/announcements", {"title": "x", "body": "y"})
        self.assertEqual(response.code, 403)
        response, body = yield boss.post("/api/v1/announcements", {"title": "双十二促销", "body": "满300减50"})
        self.assertEqual(response.code, 201)
        first = json.loads(body)["id"]
        yield boss.post("/api/v1/announcements", {"kind": "faq", "title": "退款多久到账", "body": "原路退回，3至5个工作日"})
        _, listed = yield agent.get_json("/api/v1/announcements")
        self.assertEqual([(a["title"], a["read"]) for a in listed["announcements"]], [("双十二促销", False)])
        response, body = yield agent.post(f"/api/v1/announcements/{first}/ack", {})
        self.assertEqual((response.code, json.loads(body)["unread"]), (200, 0))
        _, found = yield agent.get_json("/api/v1/faq?" + urlencode({"q": "退款"}))
        self.assertEqual([f["title"] for f in found["faq"]], ["退款多久到账"])
        _, found = yield agent.get_json("/api/v1/faq?" + urlencode({"q": "工作日"}))
        self.assertEqual(len(found["faq"]), 1)
        _, found = yield agent.get_json("/api/v1/faq?q=%25")  # a wildcard is a character, not "anything"
        self.assertEqual(found["faq"], [])

    @defer.inlineCallbacks
    def test_a_supervisor_acknowledges_a_guard_alert_by_what_the_board_shows_of_it(self):
        at = reactor.seconds() - 5
        yield self.store.record_alert(PBX, at, "miss", agent="1002", queue="support", linkedid="L9")
        boss, agent = (yield self.signed_in("boss")), (yield self.signed_in("agent1001"))
        facts = {"kind": "miss", "at": at, "agent": "1002", "queue": "support", "linkedid": "L9"}
        response, _ = yield agent.post("/api/v1/alerts/ack", facts)
        self.assertEqual(response.code, 403)
        response, _ = yield boss.post("/api/v1/alerts/ack", facts)
        self.assertEqual(response.code, 200)
        self.assertEqual((yield self.store.open_alerts(PBX)), [])
        response, _ = yield boss.post("/api/v1/alerts/ack", facts)
        self.assertEqual(response.code, 404)  # once is enough


class TodayTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_the_service_level_misses_and_abandons_of_today(self):
        now = reactor.seconds() - 60
        yield self.store.save_call(summary(linkedid="late", pbx=PBX, entered_at=now))  # answered at ring 5
        yield self.store.save_call(summary(linkedid="quick", pbx=PBX, entered_at=now, rings_to_answer=1, wait_s=3.0,
                                           offers=()))
        yield self.store.save_call(summary(linkedid="gone", pbx=PBX, entered_at=now, outcome="abandoned",
                                           answered_by=None, answered_at=None, wait_s=12.0, rings_to_answer=None,
                                           apologise=None, talk_s=None, offers=()))
        yield self.store.record_agent_event(PBX, "1001", "miss", now, "guard", queue="support", linkedid="late")
        boss = yield self.signed_in("boss")
        code, today = yield boss.get_json("/api/v1/queues/today")
        self.assertEqual(code, 200)
        support, = today["queues"]
        self.assertEqual({k: support[k] for k in ("queue", "calls", "answered_in_time", "misses", "abandoned",
                                                  "abandoned_mean_wait_s")},
                         {"queue": "support", "calls": 3, "answered_in_time": 1, "misses": 1, "abandoned": 1,
                          "abandoned_mean_wait_s": 12.0})
        self.assertAlmostEqual(support["service_level"], 1 / 3)


class ReportDownloadTests(ScreensTestCase):
    @defer.inlineCallbacks
    def test_the_board_offers_the_daily_and_weekly_files_to_supervisors(self):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        yield self.store.save_call(summary(linkedid="r1", pbx=PBX, entered_at=reactor.seconds() - 60))
        today = datetime.fromtimestamp(reactor.seconds() - 60, ZoneInfo("Asia/Shanghai")).date()
        week = today.isocalendar()
        boss, agent = (yield self.signed_in("boss")), (yield self.signed_in("agent1001"))
        response, body = yield boss.request("GET", f"/api/v1/reports/daily/{today}.xlsx")
        self.assertEqual(response.code, 200)
        self.assertEqual(body[:2], b"PK")  # a zip: the XLSX
        self.assertIn(b"attachment", response.headers.getRawHeaders(b"content-disposition")[0])
        response, body = yield boss.request("GET", f"/api/v1/reports/weekly/{week.year}-W{week.week:02d}.csv")
        self.assertEqual(response.code, 200)
        self.assertIn(b"1002", body)  # the agent who answered that call
        response, _ = yield agent.request("GET", f"/api/v1/reports/daily/{today}.csv")
        self.assertEqual(response.code, 403)
        for junk in ("daily/2026-13-45.csv", "daily/today.csv", "weekly/2026-W99.xlsx", "monthly/2026-12.csv",
                     "daily/2026-12-07.exe"):
            response, _ = yield boss.request("GET", f"/api/v1/reports/{junk}")
            self.assertEqual(response.code, 404, junk)


class AnnouncementGateTests(ScreensTestCase):
    announcements_required = True

    @defer.inlineCallbacks
    def test_an_agent_with_unread_announcements_stays_paused_until_he_has_read_them(self):
        boss = yield self.signed_in("boss")
        _, body = yield boss.post("/api/v1/announcements", {"title": "新流程", "body": "投诉一律登记订单号"})
        announcement = json.loads(body)["id"]
        agent = yield self.signed_in("agent1001")
        paused = self.ami.next_action()
        response, _ = yield agent.request("GET", "/api/v1/agents/1001/events", read=False)
        response.deliverBody(_Discard())
        self.assertEqual((yield paused),
                         ("QueuePause", [("Interface", "PJSIP/1001"), ("Paused", True), ("Reason", "未读公告")]))
        response, body = yield agent.post("/api/v1/agents/1001/presence", {"state": "ready"})
        self.assertEqual(response.code, 409)
        self.assertIn("未读公告", json.loads(body)["error"])
        response, _ = yield agent.post(f"/api/v1/announcements/{announcement}/ack", {})
        self.assertEqual(response.code, 200)
        self.assertEqual(self.ami.sent[-1], ("QueuePause", [("Interface", "PJSIP/1001"), ("Paused", False),
                                                            ("Reason", "")]))


    @defer.inlineCallbacks
    def test_a_program_reading_his_feed_with_a_token_does_not_pause_him(self):
        boss = yield self.signed_in("boss")
        yield boss.post("/api/v1/announcements", {"title": "新流程", "body": "投诉一律登记订单号"})
        program = Person(self)
        response, _ = yield program.request("GET", "/api/v1/agents/1001/events", read=False,
                                            headers={b"authorization": [f"Bearer {self.desk_token}".encode()]})
        self.assertEqual(response.code, 200)
        response.deliverBody(_Discard())
        yield self.store.announcements_for("crm1001")
        yield self.store.announcements_for("crm1001")
        self.assertEqual(self.ami.sent, [])


class _Discard:
    """Reads and drops a streamed body, closing the connection (the test is done with it)."""

    def makeConnection(self, transport):
        transport.stopProducing()

    def dataReceived(self, data):
        pass

    def connectionLost(self, reason):
        pass
