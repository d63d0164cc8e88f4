from __future__ import annotations

import io

import pytest

from telephony.ami.capture import CaptureError, CaptureWriter, iter_records


def test_writer_and_reader_round_trip_binary_payloads():
    out = io.BytesIO()
    writer = CaptureWriter(out)
    writer.write(0.5, "c1", "RECV", b"Event: X\r\nName: \xe5\xbc\xa0\r\n\r\n")
    writer.write(1.25, "c1", "NOTE", "说明\nsecond line".encode())
    records = list(iter_records(out.getvalue()))
    assert [(r.t, r.connection, r.kind) for r in records] == [(0.5, "c1", "RECV"), (1.25, "c1", "NOTE")]
    assert records[1].text == "说明\nsecond line"


@pytest.mark.parametrize("data, where", [
    (b"garbage\n", "byte 0"),
    (b"#@ 0.1 c1 RECV 100\nshort\n", "runs past"),
    (b"#@ x c1 RECV 1\na\n", "is not"),
    (b"#@ 0.1 c1 BOGUS 1\na\n", "unknown record kind"),
])
def test_malformed_capture_says_where(data, where):
    with pytest.raises(CaptureError, match=where):
        list(iter_records(data, name="bad.ami"))
