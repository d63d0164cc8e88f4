"""Reading and writing "AMI capture v1" files.

A capture is a sequence of records::

    #@ <seconds since capture start, 6 decimals> c<connection> <KIND> <length>\\n
    <exactly <length> raw bytes>\\n

``RECV`` holds bytes exactly as one ``recv()`` returned them from Asterisk, ``SENT`` what the
client wrote, ``OPEN``/``CLOSE`` mark a connection's life and ``NOTE`` carries text from the rig.
The format is described in ``tests/fixtures/ami-real/README.md``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator

__all__ = ["CaptureError", "Record", "CaptureWriter", "read_capture", "read_capture_prefix", "iter_records"]

KINDS = frozenset({"RECV", "SENT", "OPEN", "CLOSE", "NOTE"})


class CaptureError(ValueError):
    """The file is not a well-formed AMI capture; the message names the byte offset."""


@dataclass(frozen=True, slots=True)
class Record:
    t: float  #: seconds since the capture started
    connection: str  #: "c1", "c2"… ("c0" for capture-level notes)
    kind: str  #: RECV, SENT, OPEN, CLOSE or NOTE
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")


def iter_records(data: bytes, *, name: str = "<capture>") -> Iterator[Record]:
    """Yield the records of a capture held in memory; raise CaptureError where it is malformed."""
    pos, size = 0, len(data)
    while pos < size:
        end = data.find(b"\n", pos)
        if end < 0 or not data.startswith(b"#@ ", pos):
            raise CaptureError(f"{name}: byte {pos}: expected a '#@ ' record header")
        fields = data[pos + 3 : end].split(b" ")
        try:
            t_text, conn, kind, length_text = (f.decode("ascii") for f in fields)
            t, length = float(t_text), int(length_text)
        except ValueError:
            raise CaptureError(f"{name}: byte {pos}: record header {data[pos:end][:80]!r} is not "
                               "'#@ <seconds> c<n> <KIND> <length>'") from None
        if kind not in KINDS or length < 0:
            raise CaptureError(f"{name}: byte {pos}: unknown record kind {kind!r}")
        start, stop = end + 1, end + 1 + length
        if stop > size or data[stop : stop + 1] not in (b"\n", b""):
            raise CaptureError(f"{name}: byte {pos}: record of {length} bytes runs past the file "
                               "or is not followed by a newline")
        yield Record(t, conn, kind, data[start:stop])
        pos = stop + 1


def read_capture(path: str | os.PathLike[str]) -> list[Record]:
    with open(path, "rb") as f:
        return list(iter_records(f.read(), name=os.fspath(path)))


def read_capture_prefix(path: str | os.PathLike[str]) -> tuple[list[Record], CaptureError | None]:
    """Every record before the first damage (a file cut in the middle, a torn header), and the damage.

    An empty file is damage too: it holds no capture.  Raises OSError when the file cannot be read.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return [], CaptureError(f"{name}: the file is empty: no AMI capture records")
    records: list[Record] = []
    try:
        records.extend(iter_records(data, name=name))
    except CaptureError as exc:
        return records, exc
    return records, None


class CaptureWriter:
    """Writes records in the capture format, e.g. for the simulator's own traffic or a benchmark."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, t: float, connection: str, kind: str, payload: bytes) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        self._out.write(b"#@ %.6f %s %s %d\n" % (t, connection.encode(), kind.encode(), len(payload)))
        self._out.write(payload)
        self._out.write(b"\n")
