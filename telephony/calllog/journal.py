"""The call log's journal: writes the store could not take, kept in a local file, oldest first.

A JSON Lines file (one write a line: ``{"kind": …, "data": …}``), readable only by the daemon's
user (it holds phone numbers and names).  The writer appends to it when its in-memory backlog is
full and when it stops with writes not stored; it takes writes back, in order, once the store works
again and at the next start.  A line is removed only once every line before it is stored: after a
crash the whole file is written again, which the store's idempotent writes make harmless.

Its I/O is a few hundred bytes per write on a local disk, done on the reactor thread; the file only
exists while the store is failing or was failing when the daemon stopped.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

__all__ = ["Journal"]


class Journal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._taken = 0  #: bytes of the file already handed back to the writer

    @property
    def waiting(self) -> bool:
        """True while the file holds lines not yet taken back."""
        try:
            return self.path.stat().st_size > self._taken
        except FileNotFoundError:
            return False

    def count(self) -> int:
        """Lines not yet taken back (reads the file: for start-up and stop messages)."""
        if not self.waiting:
            return 0
        with self.path.open("rb") as f:
            f.seek(self._taken)
            return sum(1 for line in f if line.strip())

    def append(self, writes: Iterable[dict[str, Any]]) -> int:
        """Add writes at the end; returns how many."""
        lines = [json.dumps(w, ensure_ascii=False, separators=(",", ":")) + "\n" for w in writes]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())
        return len(lines)

    def take(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of the oldest writes not yet taken.  A line that is not a write (a torn last
        line after a crash) is logged by position, never by content, and skipped."""
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
                    write = json.loads(line)
                except ValueError:
                    log.error("call log journal %s: an unreadable line ending at byte %d skipped", self.path, self._taken)
                    continue
                taken.append(write)
        return taken

    def all_stored(self) -> None:
        """Everything taken so far is stored: drop those lines (the file goes once it is empty)."""
        if self._taken == 0:
            return
        with self.path.open("rb") as f:
            f.seek(self._taken)
            rest = f.read()
        self._taken = 0
        if rest.strip():
            self._replace(rest)
        else:
            self.path.unlink(missing_ok=True)

    def keep(self, unstored: Iterable[dict[str, Any]]) -> int:
        """On the way down: the file becomes ``unstored`` (older) followed by the lines not yet taken."""
        rest = b""
        if self.waiting:
            with self.path.open("rb") as f:
                f.seek(self._taken)
                rest = f.read()
        head = "".join(json.dumps(w, ensure_ascii=False, separators=(",", ":")) + "\n" for w in unstored).encode()
        self._taken = 0
        if head or rest.strip():
            self._replace(head + rest)
        else:
            self.path.unlink(missing_ok=True)
        return self.count()

    def _replace(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(self.path.name + ".new")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(scratch, self.path)
