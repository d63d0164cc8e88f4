"""Sign-in for the screens: who a request comes from, sessions in cookies, CSRF, and rate limits.

* A person signs in at ``/login`` and gets the ``telephony_session`` cookie: HttpOnly (no script
  reads it), ``SameSite=Strict`` (no other site's page sends it), ``Secure`` when the site is served
  over TLS (``secure_cookies``), valid ``session_ttl_s`` (a shift, 12 h by default; the database
  row expires with it).
* A program sends ``Authorization: Bearer <token>`` (``telephony token add``).
* Every POST made with a session carries the session's CSRF token, as the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header.  The sign-in form itself, made before there is a
  session, is tied to a random ``telephony_login_csrf`` cookie (double submit): another site can
  make a browser post the form but cannot read or set that cookie.
* Failed sign-ins are counted (:class:`FailureLimit`) per user name from one address (5 in 5
  minutes), per user name from anywhere and per address (20 each, so nobody elsewhere locks a
  colleague out with five guesses); past a limit the form answers 429 with ``Retry-After`` until the
  window has passed, whether the password is right or not.  An attempt counts as failed from the
  moment it is made (and is forgiven if it succeeds), so a thousand attempts sent at once are not a
  thousand guesses; and at most ``max_signing_in`` passwords are checked at once (503 beyond): argon2
  is slow on purpose, and a flood of sign-ins must not starve the store's threads.

Everything that touches the database (argon2 verification included) runs in the store's threads;
the reactor only waits for Deferreds.
"""
from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict, deque
from datetime import timedelta
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.web.server import Request

from telephony.store.people import Principal

__all__ = ["FailureLimit", "Gate", "PrincipalSource", "SignInBusy", "LOGIN_CSRF_COOKIE", "MAX_PASSWORD",
           "SESSION_COOKIE"]

SESSION_COOKIE = b"telephony_session"
MAX_PASSWORD = 256  #: longer is no password anyone typed (``telephony user`` refuses longer too)


class SignInBusy(Exception):
    """Too many passwords are being checked right now; the form says to try again shortly."""
LOGIN_CSRF_COOKIE = b"telephony_login_csrf"


class PrincipalSource(Protocol):
    """What the gate needs of the store (``telephony.store.Store`` provides it)."""

    def sign_in(self, username: str, password: str, ttl: timedelta) -> defer.Deferred: ...
    def principal_for_session(self, token: str) -> defer.Deferred: ...
    def principal_for_token(self, token: str) -> defer.Deferred: ...
    def end_session(self, token: str) -> defer.Deferred: ...


class FailureLimit:
    """At most ``max_failures`` failed attempts per key within ``window_s``; memory bounded by
    ``max_keys`` (the keys idle longest are forgotten first, so a flood of made-up names cannot
    grow the daemon)."""

    def __init__(self, clock: IReactorTime, *, max_failures: int = 5, window_s: float = 300.0,
                 max_keys: int = 10_000) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        times = self._recent(key)
        if times is None or len(times) < self.max_failures:
            return None
        return max(1.0, times[0] + self.window_s - self.clock.seconds())

    def failed(self, key: str) -> None:
        times = self._recent(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.max_failures)
            while len(self._failures) > self.max_keys:
                self._forget_one()
        self._failures.move_to_end(key)
        times.append(self.clock.seconds())

    def forgive(self, key: str) -> None:
        """Take back the latest failure of ``key`` (the attempt counted in advance succeeded)."""
        times = self._failures.get(key)
        if times:
            times.pop()
            if not times:
                del self._failures[key]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _forget_one(self) -> None:
        # The key idle longest that is not held back now: a flood of made-up names must not erase
        # the count of the name it is really after.
        for key, times in self._failures.items():
            if len(times) < self.max_failures:
                del self._failures[key]
                return
        self._failures.popitem(last=False)

    def _recent(self, key: str) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = self.clock.seconds() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


class Gate:
    """Identifies requests and signs people in and out (see the module doc)."""

    def __init__(self, store: PrincipalSource, clock: IReactorTime, *, session_ttl_s: float = 12 * 3600,
                 secure_cookies: bool = False, max_failures: int = 5, failure_window_s: float = 300.0,
                 max_signing_in: int = 2) -> None:
        self.store = store
        self.clock = clock
        self.ttl = timedelta(seconds=session_ttl_s)
        self.secure = secure_cookies
        self.by_pair = FailureLimit(clock, max_failures=max_failures, window_s=failure_window_s)
        self.by_user = FailureLimit(clock, max_failures=max_failures * 4, window_s=failure_window_s)
        self.by_address = FailureLimit(clock, max_failures=max_failures * 4, window_s=failure_window_s)
        self.max_signing_in = max_signing_in
        self.signing_in = 0

    # -- who is asking ------------------------------------------------------------------------------

    def identify(self, request: Request) -> defer.Deferred[Principal | None]:
        """The principal behind ``request`` (bearer token first, else the session cookie), or None."""
        authorization = request.getHeader(b"authorization")
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return defer.succeed(None)
            return self.store.principal_for_token(token.strip())
        cookie = request.getCookie(SESSION_COOKIE)
        if not cookie:
            return defer.succeed(None)
        return self.store.principal_for_session(cookie.decode("ascii", "replace"))

    @staticmethod
    def csrf_ok(request: Request, principal: Principal) -> bool:
        """A POST's CSRF token matches the session's (always true for a bearer token)."""
        if principal.csrf_token is None:
            return True
        header = request.getHeader(b"x-csrf-token")
        given = header.decode("latin-1") if header is not None else _field(request, b"csrf_token") or ""
        return hmac.compare_digest(given.encode("utf-8"), principal.csrf_token.encode("utf-8"))

    # -- signing in and out -------------------------------------------------------------------------

    def login_csrf(self, request: Request) -> str:
        """The sign-in form's CSRF token: the browser's login cookie, made when it has none."""
        current = request.getCookie(LOGIN_CSRF_COOKIE)
        if current and len(current) >= 32:
            return current.decode("ascii", "replace")
        token = secrets.token_urlsafe(32)
        self._set_cookie(request, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return token

    def login_csrf_ok(self, request: Request) -> bool:
        cookie = request.getCookie(LOGIN_CSRF_COOKIE) or b""
        given = (_field(request, b"csrf_token") or "").encode("utf-8")
        return len(cookie) >= 32 and hmac.compare_digest(cookie, given)

    def throttled(self, username: str, address: str) -> float | None:
        """Seconds to wait when this name or this address failed too often, else None."""
        waits = [w for w in (self.by_pair.retry_after(_pair(username, address)), self.by_user.retry_after(username),
                             self.by_address.retry_after(address)) if w]
        return max(waits) if waits else None

    def sign_in(self, request: Request, username: str, password: str, address: str) -> defer.Deferred:
        """→ the Principal (the session cookie is set on ``request``), or None (a failure); fails with
        :class:`SignInBusy` when ``max_signing_in`` checks already run."""
        if self.signing_in >= self.max_signing_in:
            return defer.fail(SignInBusy())
        pair = _pair(username, address)
        for limit, key in ((self.by_pair, pair), (self.by_user, username), (self.by_address, address)):
            limit.failed(key)  # counted now: attempts made at once must not all pass the check above
        if len(password) > MAX_PASSWORD:
            return defer.succeed(None)

        def done(result: tuple[str, Principal] | None) -> Principal | None:
            if result is None:
                return None
            token, principal = result
            self.by_pair.succeeded(pair)
            self.by_user.forgive(username)
            self.by_address.forgive(address)
            self._set_cookie(request, SESSION_COOKIE, token, max_age=int(self.ttl.total_seconds()))
            return principal

        def over(result: Any) -> Any:
            self.signing_in -= 1
            return result

        self.signing_in += 1
        return self.store.sign_in(username, password, self.ttl).addBoth(over).addCallback(done)

    def sign_out(self, request: Request) -> defer.Deferred[Any]:
        cookie = request.getCookie(SESSION_COOKIE)
        self._set_cookie(request, SESSION_COOKIE, "", max_age=0)
        if not cookie:
            return defer.succeed(None)
        return self.store.end_session(cookie.decode("ascii", "replace"))

    def _set_cookie(self, request: Request, name: bytes, value: str, *, max_age: int) -> None:
        request.addCookie(name, value.encode("ascii"), path=b"/", max_age=str(max_age).encode("ascii"),
                          httpOnly=True, secure=self.secure, sameSite="strict")


def _pair(username: str, address: str) -> str:
    return f"{username}\x00{address}"


def _field(request: Request, name: bytes) -> str | None:
    """A form field of a POST (urlencoded or multipart, as twisted.web parsed it), as text."""
    values = (request.args or {}).get(name)
    if not values:
        return None
    return values[0].decode("utf-8", "replace")
