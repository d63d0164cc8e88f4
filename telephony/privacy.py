"""Personal data rules: phone numbers are masked wherever people who should not see them may look
(logs, alerts, the demo page), an error or a traceback that reaches a log is scrubbed of what looks
like a number or a name (:func:`describe_error`, :class:`ScrubbingFormatter`), and a file that holds
them is readable by its owner only (:func:`write_private`)."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (written beside it, synced, renamed),
    readable by its owner only.  Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".new")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(scratch, path)


def mask_number(number: str | None) -> str | None:
    """``13800138000`` → ``138****8000``: enough to tell calls apart, not enough to call back.

    Short numbers (extensions, up to 6 characters) are not personal and stay as they are.
    """
    if number is None:
        return None
    if len(number) <= 6:
        return number
    keep_head = 3 if len(number) >= 10 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - 4) + number[-4:]


#: seven digits or more, also written with spaces, dashes or a leading +; not part of a longer word
#: or a dotted id (a Linkedid such as 1795366966.0 names a call, not a person)
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[ \-]?\d){6,}(?![\w.])")
#: CJK ideographs: a caller's name, most likely
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_QUOTED = re.compile(r"""("[^"]*"|'[^']*'|\([^)]*\)=\([^)]*\))""")


def describe_error(exc: BaseException) -> str:
    """An exception as a log line may show it: what failed and why, never the values involved.

    Database errors carry the row they tried to write (SQLAlchemy's ``[parameters: …]``, PostgreSQL's
    ``DETAIL: Key (caller)=(13800138000)`` or ``Failing row contains (…)``): for those the driver's
    error class, its first line, its SQLSTATE and the constraint or table are kept.  Every message
    keeps its first line only, with quoted text dropped and long digit runs masked.
    """
    from sqlalchemy.exc import StatementError

    orig = exc.orig if isinstance(exc, StatementError) else None
    if orig is None:
        return f"{type(exc).__name__}: {_scrub(_first_line(exc))}"
    diag = getattr(orig, "diag", None)
    details = [_scrub(getattr(diag, "message_primary", None) or _first_line(orig))]
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        details.append(f"SQLSTATE {sqlstate}")
    for attr, label in (("constraint_name", "constraint"), ("table_name", "table")):
        value = getattr(diag, attr, None) if diag is not None else None
        if value:
            details.append(f"{label} {value}")
    return f"{type(orig).__name__}: " + "; ".join(d for d in details if d)


def _first_line(exc: BaseException) -> str:
    text = str(exc).split("\n[SQL", 1)[0].strip()
    return text.splitlines()[0] if text else ""


def scrub(text: str) -> str:
    """``text`` without what looks like a phone number (masked) or a Chinese name (dropped)."""
    digits = _PHONE.sub(lambda m: mask_number(re.sub(r"[ \-+]", "", m.group())) or "", text)
    return _CJK.sub("…", digits)


def _scrub(text: str) -> str:
    return scrub(_QUOTED.sub("…", text))


class ScrubbingFormatter(logging.Formatter):
    """Tracebacks quote the failing values; they are scrubbed (:func:`scrub`) before they reach a log."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return scrub(super().formatException(ei))
