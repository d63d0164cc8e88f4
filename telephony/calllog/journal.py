"""The call log's journal: writes the store could not take, kept in a local file, oldest first.

A JSON Lines file (one write a line: ``{"kind": …, "data": …}``), readable only by the daemon's
user (it holds phone numbers and names).  The writer appends to it when its in-memory backlog is
full and when it stops with writes not stored; it takes writes back, in order, once the store works
again and at the next start.

Stored lines are not cut out of the file (that would rewrite it at every refill): a small file
beside it, ``<journal>.stored``, says how many of its bytes are stored, and both go once everything
is.  The mark names the file it is about (its inode), so a mark left by a crash never applies to a
journal written after it; the mark goes before the file does.  After a crash the lines after the
mark are written again, which the store's idempotent writes make harmless.  A last line torn by a crash is closed before anything is appended after it, so the
next line is not glued onto it.

Its I/O is small (the writer appends a reactor turn's writes with one ``fsync``) and happens only
while the store is failing or was failing when the daemon stopped; errors are ``OSError`` for the
writer to handle.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from telephony.privacy import write_private

log = logging.getLogger(__name__)

__all__ = ["Journal"]


def _lines(writes: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(w, ensure_ascii=False, separators=(",", ":")) + "\n" for w in writes).encode("utf-8")


class Journal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._mark = self.path.with_name(self.path.name + ".stored")
        try:
            stat = self.path.stat()
            self._size, inode = stat.st_size, stat.st_ino
        except FileNotFoundError:
            self._size, inode = 0, None
        self._stored = self._read_mark(inode)  #: bytes known to be stored
        self._taken = self._stored  #: bytes handed back to the writer

    def _read_mark(self, inode: int | None) -> int:
        """The stored bytes the mark gives for this very file; 0 for a mark about another file."""
        try:
            marked_inode, offset = (int(part) for part in self._mark.read_text(encoding="ascii").split())
        except (FileNotFoundError, ValueError):
            return 0
        return offset if marked_inode == inode and offset <= self._size else 0

    @property
    def waiting(self) -> bool:
        """True while the file holds lines not yet taken back (no I/O: the journal keeps count)."""
        return self._size > self._taken

    def count(self) -> int:
        """Lines not yet taken back (reads the file: for start-up and stop messages)."""
        if not self.waiting:
            return 0
        with self.path.open("rb") as f:
            f.seek(self._taken)
            return sum(1 for line in f if line.strip())

    def append(self, writes: Iterable[dict[str, Any]]) -> int:
        """Add writes at the end, synced to disk; returns how many.  Raises OSError."""
        data = _lines(writes)
        if not data:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as f:
            if self._size and os.pread(f.fileno(), 1, self._size - 1) != b"\n":
                data = b"\n" + data  # a line torn by a crash: close it, so this one stands alone
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._size += len(data)
        return data.count(b"\n") - data.startswith(b"\n")

    def take(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of the oldest writes not yet taken.  A line that is not a write (a torn last
        line after a crash) is logged by position, never by content, and skipped.  Raises OSError."""
        if not self.waiting:
            return []
        taken: list[dict[str, Any]] = []
        with self.path.open("rb") as f:
            f.seek(self._taken)
            while len(taken) < limit:
                line = f.readline()
                if not line:
                    break
                self._taken += len(line)
                if not line.strip():
                    continue
                try:
                    taken.append(json.loads(line))
                except ValueError:
                    log.error("call log journal %s: an unreadable line ending at byte %d skipped", self.path, self._taken)
        return taken

    def all_stored(self) -> None:
        """Everything taken so far is stored: mark it so (the files go once nothing else is left)."""
        if self._taken == self._stored:
            return
        if self._taken >= self._size:
            self._mark.unlink(missing_ok=True)  # first: a crash in between leaves lines to write again, no more
            self.path.unlink(missing_ok=True)
            self._size = self._stored = self._taken = 0
        else:
            write_private(self._mark, f"{self.path.stat().st_ino} {self._taken}".encode("ascii"))
            self._stored = self._taken

    def keep(self, unstored: Iterable[dict[str, Any]]) -> int:
        """On the way down: the file becomes ``unstored`` (older) followed by the lines not yet taken.
        Returns how many writes it holds.  Raises OSError."""
        rest = b""
        if self.waiting:
            with self.path.open("rb") as f:
                f.seek(self._taken)
                rest = f.read()
        if rest and not rest.endswith(b"\n"):
            rest += b"\n"
        data = _lines(unstored) + rest
        self._mark.unlink(missing_ok=True)  # first: it is about the file being replaced
        if data.strip():
            write_private(self.path, data)
        else:
            self.path.unlink(missing_ok=True)
        self._size, self._stored, self._taken = (len(data) if data.strip() else 0), 0, 0
        return self.count()
