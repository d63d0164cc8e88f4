"""The AMI wire format, without I/O: bytes in, messages out; actions and events out as bytes.

AMI is a line protocol: a banner line (``Asterisk Call Manager/11.0.0``), then messages made of
``Key: Value`` lines ending in CRLF, each message closed by an empty line.  Nothing here imports the
reactor; :class:`Framer` is fed whatever a ``recv()`` returned, in any chunking, and gives back whole
messages.

Decisions that every caller relies on:

* **Keep what Asterisk sent.**  A :class:`Message` keeps header order, repeated headers
  (``Output:``, ``ChanVariable``) and the original spelling of each key; lookups ignore case.
* **Decode once, as UTF-8, with errors replaced** (U+FFFD).  Bytes that are not UTF-8 never raise;
  ``张三`` survives.
* **Parse lazily.**  A message is split into headers only when somebody reads a header, so the many
  events nobody subscribes to (``VarSet``, ``RTCPSent``) cost one split of the stream and no more.
* **Bounded memory.**  A line longer than ``max_line`` or a message longer than ``max_message``
  raises :class:`ProtocolError`; the caller logs it and ends the connection.
* **Classify by Event before Response** (``OriginateResponse`` carries both).
"""
from __future__ import annotations

from typing import Iterable, Iterator, Mapping

__all__ = [
    "BANNER_PREFIX",
    "Framer",
    "Message",
    "ProtocolError",
    "format_action",
    "format_message",
]

BANNER_PREFIX = "Asterisk Call Manager/"
CRLF = b"\r\n"
TERMINATOR = b"\r\n\r\n"
#: A single header line longer than this is not AMI.  Asterisk's own limit is 1 KiB per line
#: for actions; events with long AppData or channel variables stay far below 64 KiB.
DEFAULT_MAX_LINE = 64 * 1024
#: A whole message larger than this is not AMI either (the largest real read seen is 16 KiB and
#: holds many messages).
DEFAULT_MAX_MESSAGE = 1024 * 1024
DECODE_ERRORS = "replace"
#: b"\r\nKey: " for each key looked up, so a lookup costs one search of the raw bytes
_NEEDLES: dict[str, bytes] = {}


class ProtocolError(Exception):
    """The peer sent bytes that cannot be AMI; the connection must end.

    The message never contains header values, so it can be logged without leaking secrets.
    """


class Message:
    """One AMI message: an event, a response, or (server side) an action.

    ``Message(raw)`` keeps the raw bytes of the message without its closing empty line and
    parses them on first use.  ``Message.from_headers`` builds one from (key, value) pairs.
    """

    __slots__ = ("raw", "_headers", "_first", "_folded", "_event")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._headers: list[tuple[str, str]] | None = None
        self._first: dict[str, str] | None = None
        self._folded: dict[str, str] | None = None
        self._event: str | None | bool = False  # False: not looked at yet

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> "Message":
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        return cls(format_message(pairs)[: -len(TERMINATOR)])

    # -- classification, cheap: looks only at the first line when it can -------------------

    @property
    def event(self) -> str | None:
        """The ``Event`` name, or None for a response or an action."""
        name = self._event
        if name is not False:
            return name  # type: ignore[return-value]
        raw = self.raw
        if raw.startswith(b"Event: "):
            end = raw.find(CRLF)
            name = raw[7:end if end >= 0 else len(raw)].decode("utf-8", DECODE_ERRORS)
        elif raw.startswith((b"Response: ", b"Action: ")):
            name = None
        else:
            name = self.get("Event")
        self._event = name
        return name

    @property
    def response(self) -> str | None:
        """``Success``, ``Error``, ``Goodbye``… for a response; None for an event.

        An ``OriginateResponse`` event carries a ``Response`` header too: it is an event first,
        so this returns None for it and callers read ``msg.get("Response")`` explicitly.
        """
        if self.event is not None:
            return None
        return self.get("Response")

    @property
    def action(self) -> str | None:
        """The ``Action`` name of a message sent by a client (server side)."""
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    # -- headers ------------------------------------------------------------------------------

    @property
    def headers(self) -> list[tuple[str, str]]:
        """All headers, in the order sent, with their original case, repeats included."""
        if self._headers is None:
            self._parse()
        return self._headers  # type: ignore[return-value]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (case-insensitive), or ``default``.

        Before the message is parsed, a key spelt as Asterisk spells it is found with one byte
        search; anything else (another case, a missing key) parses the message once.
        """
        first = self._first
        if first is None:
            raw = self.raw
            needle = _NEEDLES.get(key)
            if needle is None:
                needle = _NEEDLES[key] = b"\r\n" + key.encode("utf-8") + b": "
            # the first line has no CRLF before it, and comes before any later repeat of the key
            at = -2 if raw.startswith(needle[2:]) else raw.find(needle)
            if at != -1:
                start = at + len(needle)
                end = raw.find(CRLF, start)
                return raw[start:end if end >= 0 else len(raw)].decode("utf-8", DECODE_ERRORS)
            self._parse()
            first = self._first
        value = first.get(key)  # type: ignore[union-attr]
        if value is not None:
            return value
        if self._folded is None:
            self._folded = {}
            for k, v in self.headers:
                self._folded.setdefault(k.lower(), v)
        return self._folded.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def getall(self, key: str) -> list[str]:
        """Every value of a repeated header, in order (``Output``, ``ChanVariable``)."""
        folded = key.lower()
        return [v for k, v in self.headers if k.lower() == folded]

    def as_dict(self) -> dict[str, str]:
        """First value per key, original case; for logging and JSON (mind the secrets)."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out

    def _parse(self) -> None:
        headers: list[tuple[str, str]] = []
        first: dict[str, str] = {}
        for line in self.raw.decode("utf-8", DECODE_ERRORS).split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                # "Key:" with nothing after it, or a bare line: keep it rather than lose it.
                key, _, value = line.partition(":")
            headers.append((key, value))
            if key not in first:
                first[key] = value
        self._headers = headers
        self._first = first

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        kind = self.event or self.response or self.action or "?"
        return f"<Message {kind} {len(self.raw)} bytes>"


class Framer:
    """Turns a byte stream into :class:`Message` objects, whatever the chunking.

    ``expect_banner`` is for the client side: the first line of the stream is the greeting
    (``Asterisk Call Manager/11.0.0``), available as :attr:`banner` once received.
    :meth:`feed` raises :class:`ProtocolError` for an over-long line or message; after that the
    framer must not be fed again.
    """

    __slots__ = ("banner", "_buffer", "_need_banner", "max_line", "max_message")

    def __init__(
        self,
        *,
        expect_banner: bool = True,
        max_line: int = DEFAULT_MAX_LINE,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.banner: str | None = None
        self._buffer = b""
        self._need_banner = expect_banner
        self.max_line = max_line
        self.max_message = max_message

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer + data if self._buffer else data
        if self._need_banner:
            end = buffer.find(CRLF)
            if end < 0:
                if len(buffer) > self.max_line:
                    raise ProtocolError(f"no AMI banner in the first {len(buffer)} bytes")
                self._buffer = buffer
                return []
            self.banner = buffer[:end].decode("utf-8", DECODE_ERRORS)
            self._need_banner = False
            buffer = buffer[end + 2 :]
        parts = buffer.split(TERMINATOR)
        rest = parts.pop()
        self._check_partial(rest)
        self._buffer = rest
        max_line = self.max_line
        messages = []
        for part in parts:
            if len(part) > max_line:
                self._check_whole(part)
            if part[:2] == CRLF:
                # stray empty lines between messages
                part = part.lstrip(b"\r\n")
            if part:
                messages.append(Message(part))
        return messages

    def _check_partial(self, rest: bytes) -> None:
        if len(rest) > self.max_message:
            raise ProtocolError(f"message longer than {self.max_message} bytes")
        if len(rest) > self.max_line and len(rest) - rest.rfind(CRLF) - 2 > self.max_line:
            raise ProtocolError(f"line longer than {self.max_line} bytes")

    def _check_whole(self, part: bytes) -> None:
        if len(part) > self.max_message:
            raise ProtocolError(f"message longer than {self.max_message} bytes")
        if any(len(line) > self.max_line for line in part.split(CRLF)):
            raise ProtocolError(f"line longer than {self.max_line} bytes")


def _pairs(fields: Iterable[tuple[str, object]] | Mapping[str, object] | None) -> Iterator[tuple[str, str]]:
    if fields is None:
        return
    items = fields.items() if isinstance(fields, Mapping) else fields
    for key, value in items:
        if value is None:
            continue
        text = value if isinstance(value, str) else _text(value)
        if "\r" in key or "\n" in key or ":" in key or not key:
            raise ValueError(f"AMI header name {key!r} is not a single word")
        if "\r" in text or "\n" in text:
            raise ValueError(f"AMI header {key} would contain a line break")
        yield key, text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_message(headers: Iterable[tuple[str, object]] | Mapping[str, object]) -> bytes:
    """Encode headers as one AMI message, closing empty line included.

    Values that are None are left out; booleans become ``true``/``false``.  A key or value with
    a line break raises ValueError: a caller-controlled string must never inject a header.
    """
    out = [f"{key}: {value}\r\n" for key, value in _pairs(headers)]
    out.append("\r\n")
    return "".join(out).encode("utf-8")


def format_action(
    action: str,
    fields: Iterable[tuple[str, object]] | Mapping[str, object] | None = None,
    *,
    action_id: str,
) -> bytes:
    """Encode an action: ``Action`` first, then ``ActionID``, then the fields in order."""
    return format_message([("Action", action), ("ActionID", action_id), *_pairs(fields)])
