"""What every signed-in route is made of: the guarded resource (who asks, CSRF), JSON answers, request
bodies (JSON or a form) and the two refusals a route raises (:class:`BadRequest`, :class:`Denied`)."""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Protocol

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import resource, server

from .auth import Gate

log = logging.getLogger(__name__)

__all__ = ["ActionSender", "BadRequest", "Denied", "Guarded", "body_of", "record_id", "respond_json", "text_field"]

MAX_BODY = 64 * 1024


class BadRequest(Exception):
    """Input that cannot be taken; ``str()`` says which field and why (shown to the user)."""


class Denied(Exception):
    """A refusal with its HTTP code (401, 403, 404, 409, 503) and the reason shown to the user."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ActionSender(Protocol):
    def action(self, name: str, fields: Any = None, *, timeout: float | None = None) -> defer.Deferred: ...


def respond_json(request: server.Request, code: int, data: Any) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def body_of(request: server.Request) -> dict[str, Any]:
    """A POST's fields, from JSON or from a form (first value of each field)."""
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind == b"application/json":
        request.content.seek(0)
        raw = request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is larger than {MAX_BODY} bytes")
        try:
            data = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("the body is nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    return {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace") for k, v in (request.args or {}).items()
            if v}


class Guarded(resource.Resource):
    """A leaf resource for signed-in principals: ``handle_GET``/``handle_POST(request, principal)``
    are coroutines returning the body (bytes), or None when they finished the request themselves
    (an event stream stays open).  No principal: ``unauthenticated`` (401 JSON; pages redirect).
    A POST with a session must carry its CSRF token (403 otherwise)."""

    isLeaf = True

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    def render(self, request: server.Request) -> int | bytes:
        method = request.method.decode("ascii", "replace")
        handler = getattr(self, f"handle_{method}", None)
        if handler is None:
            request.setHeader(b"allow", b", ".join(m.encode() for m in ("GET", "POST") if hasattr(self, f"handle_{m}")))
            return respond_json(request, 405, {"error": f"{method} is not allowed here"})
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        async def run() -> bytes | None:
            principal = await self.gate.identify(request)
            if gone:  # the browser left while we asked who it is: nothing to answer, no stream to open
                return None
            if principal is None:
                return self.unauthenticated(request)
            if method == "POST" and not self.gate.csrf_ok(request, principal):
                return respond_json(request, 403, {"error": "the form is stale (CSRF token missing or wrong): reload"})
            try:
                return await handler(request, principal)
            except Denied as exc:
                return respond_json(request, exc.code, {"error": str(exc)})
            except BadRequest as exc:
                return respond_json(request, 400, {"error": str(exc)})

        def finish(body: bytes | None) -> None:
            if body is not None and not gone:
                request.write(body)
                request.finish()

        def failed(failure: Failure) -> None:
            log.error("%s %s failed", method, request.path.decode("ascii", "replace"),
                      exc_info=(failure.type, failure.value, failure.getTracebackObject()))
            if not gone and not request.startedWriting:
                request.write(respond_json(request, 500, {"error": "internal error"}))
                request.finish()

        defer.ensureDeferred(run()).addCallbacks(finish, failed)
        return server.NOT_DONE_YET

    def unauthenticated(self, request: server.Request) -> bytes:
        request.setHeader(b"www-authenticate", b'Bearer realm="telephony"')
        return respond_json(request, 401, {"error": "sign in first"})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")
_RECORD_ID = re.compile(r"[0-9]{1,18}")


def text_field(body: dict[str, Any], name: str, limit: int, *, lines: bool = False) -> str | None:
    """A text field, stripped; None when absent or empty.  Refused (400, naming the field): what is
    not text, longer than ``limit``, not encodable (a lone surrogate that JSON lets through: it would
    break every page and log that shows it), or with control characters — line breaks too unless
    ``lines`` (notes may have several; a reason or an order number is one line, and goes to AMI and logs)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: text expected")
    value = value.strip()
    if len(value) > limit:
        raise BadRequest(f"{name}: at most {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{name}: not valid text (a broken character)") from None
    if _CONTROL.search(value) or (not lines and _LINE_BREAK.search(value)):
        raise BadRequest(f"{name}: control characters{'' if lines else ' or line breaks'} are not allowed")
    return value or None


def record_id(text: str, what: str) -> int:
    """A numeric id from a path segment; anything else is a record that does not exist (404)."""
    if not _RECORD_ID.fullmatch(text):
        raise Denied(404, f"no such {what}")
    return int(text)
