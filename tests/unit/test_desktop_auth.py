"""Sign-in limits on a Clock with a store the test answers: attempts sent at once, a name guessed
from elsewhere, a flood of made-up names, an absurd password; and presence timers that undo only
their own pause."""
from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from telephony.desktop.api import WRAPUP_REASON, PresenceActions
from telephony.desktop.auth import MAX_PASSWORD, FailureLimit, Gate, SignInBusy
from telephony.live.model import LiveModel
from telephony.store.people import Principal
from tests.amiscript import Pbx


class Passwords:
    """sign_in answers when the test says; the right password is 'right one'."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, defer.Deferred]] = []

    def sign_in(self, username, password, ttl):
        d: defer.Deferred = defer.Deferred()
        self.pending.append((password, d))
        return d

    def answer_all(self) -> None:
        pending, self.pending = self.pending, []
        for password, d in pending:
            d.callback(("token", Principal("wang", "agent", "1001", "csrf", 1)) if password == "right one" else None)


@pytest.fixture
def gate():
    clock = Clock()
    clock.advance(1_000_000)
    return Gate(Passwords(), clock, max_failures=5, failure_window_s=300, max_signing_in=2)


class LoginRequest(DummyRequest):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.cookies_set: list = []

    def addCookie(self, name, value, **attributes):
        self.cookies_set.append((name, value, attributes))


def attempt(gate: Gate, password: str, username: str = "wang", address: str = "10.0.0.1"):
    outcome: list = []
    gate.sign_in(LoginRequest([b"login"]), username, password, address).addBoth(outcome.append)
    return outcome


def test_attempts_sent_at_once_are_checked_two_at_a_time_and_each_counts_at_once(gate):
    outcomes = [attempt(gate, f"guess {n}") for n in range(10)]
    busy = [o for o in outcomes if o and o[0].check(SignInBusy)]
    assert len(busy) == 8 and len(gate.store.pending) == 2
    gate.store.answer_all()
    for _ in range(3):
        attempt(gate, "another guess")
        gate.store.answer_all()
    assert gate.throttled("wang", "10.0.0.1") is not None  # five counted, the right one must wait now
    assert gate.throttled("li", "10.0.0.1") is None


def test_five_wrong_guesses_from_one_address_do_not_lock_the_name_out_elsewhere(gate):
    for _ in range(5):
        attempt(gate, "guess", address="203.0.113.9")
        gate.store.answer_all()
    assert gate.throttled("wang", "203.0.113.9") is not None
    assert gate.throttled("wang", "10.0.0.1") is None  # the real wang at his desk
    outcome = attempt(gate, "right one")
    gate.store.answer_all()
    assert outcome[0].name == "wang"


def test_the_window_passes(gate):
    for _ in range(5):
        attempt(gate, "guess")
        gate.store.answer_all()
    wait = gate.throttled("wang", "10.0.0.1")
    gate.clock.advance(wait + 0.1)
    assert gate.throttled("wang", "10.0.0.1") is None


def test_a_password_longer_than_any_typed_is_a_failure_without_hashing(gate):
    outcome = attempt(gate, "x" * (MAX_PASSWORD + 1))
    assert outcome == [None] and gate.store.pending == []


def test_a_flood_of_made_up_names_does_not_erase_a_held_back_name():
    clock = Clock()
    limit = FailureLimit(clock, max_failures=2, window_s=300, max_keys=5)
    limit.failed("wang")
    limit.failed("wang")
    for n in range(50):
        limit.failed(f"made-up-{n}")
    assert limit.retry_after("wang") is not None


class Ami:
    def __init__(self, model: LiveModel, clock: Clock) -> None:
        self.model, self.clock, self.sent = model, clock, []

    def action(self, name, fields=None, *, timeout=None):
        values = dict(fields)
        self.sent.append((name, values["Paused"], values["Reason"]))
        self.model.apply(Pbx().pause("support", "1001", values["Paused"], values["Reason"]), self.clock.seconds())
        return defer.succeed(None)


class Requests:
    def request_pause_change(self, *args, **kwargs):
        return defer.succeed(1)


def presence_rig():
    clock, model = Clock(), LiveModel()
    model.apply(Pbx().member_status("support", "1001"), 0.0)
    ami = Ami(model, clock)
    return clock, model, ami, PresenceActions(ami, Requests(), clock, model, "default", wrapup_s=30)


def test_wrap_up_ends_by_itself_after_its_time():
    clock, model, ami, presence = presence_rig()
    defer.ensureDeferred(presence.set("1001", "wrapup", None, "agent"))
    clock.advance(30)
    assert ami.sent == [("QueuePause", True, WRAPUP_REASON), ("QueuePause", False, "")]


def test_the_wrap_up_timer_does_not_undo_a_pause_that_came_meanwhile():
    clock, model, ami, presence = presence_rig()
    defer.ensureDeferred(presence.set("1001", "wrapup", None, "agent"))
    model.apply(Pbx().pause("support", "1001", True, "振铃未接"), 10.0)  # the guard, or the phone's own button
    clock.advance(30)
    assert ami.sent == [("QueuePause", True, WRAPUP_REASON)]
