"""bench/ami_ingest.py on a few thousand events: the capture starts like a real connection and is
cut into read sizes of the real captures, every parser sees exactly its events, a re-run uses the
cache, and the last line has the agreed form.  Speed is the benchmark's business, never a test's."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import ami_ingest
from telephony.ami.capture import read_capture

EVENTS = 10_000  # past the first instant, when the 500 calls of the load scenario all arrive
LAST_LINE = re.compile(r"ami_ingest events_per_s=\d+ vs_panoramisk=\d+\.\d\d peak_rss_mb=\d+\.\d")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ami_ingest.Result:
    return ami_ingest.benchmark(events=EVENTS, seed=5, repeat=1, cache_dir=tmp_path_factory.mktemp("cache"),
                                log=lambda _: None)


def test_every_parser_sees_exactly_the_events_of_the_capture(result: ami_ingest.Result) -> None:
    capture = result.capture
    assert capture.events >= EVENTS
    assert capture.messages == capture.events + 1  # the answer to Login is the one response
    assert [row.name.split()[0] for row in result.rows] == ["telephony", "telephony", "panoramisk", "asterisk-ami"]
    assert {row.name: row.events for row in result.rows} == {row.name: capture.events for row in result.rows}
    assert result.counts_agree
    assert 0 < result.header_present < capture.events  # most events carry a Linkedid, not all


def test_the_capture_starts_like_a_real_connection_and_reads_have_real_sizes(result: ami_ingest.Result) -> None:
    records = read_capture(result.capture.path)
    kinds = [(r.connection, r.kind) for r in records[:6]]
    assert kinds == [("c0", "NOTE"), ("c0", "NOTE"), ("c1", "OPEN"), ("c1", "RECV"), ("c1", "SENT"), ("c1", "RECV")]
    assert records[3].payload == b"Asterisk Call Manager/11.0.0\r\n"
    assert records[4].payload.startswith(b"Action: Login\r\nActionID: login-1\r\n")
    assert records[5].payload.startswith(b"Response: Success\r\nActionID: login-1\r\n"
                                         b"Message: Authentication accepted\r\n\r\nEvent: FullyBooted\r\n")
    reads = result.capture.reads
    assert [chunk for _, chunk in reads[:2]] == [records[3].payload, records[5].payload]
    # every later read but the last has a size some real read had, and most end inside a message
    later = [chunk for _, chunk in reads[2:-1]]
    assert later and {len(chunk) for chunk in later} <= set(result.sizes)
    assert sum(not chunk.endswith(b"\r\n\r\n") for chunk in later) > len(later) / 2
    times = [t for t, _ in reads]
    assert times == sorted(times) and times[-1] > 0


def test_a_second_run_uses_the_cache_and_prints_the_last_line(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--events", str(EVENTS), "--repeat", "1", "--cache-dir", str(tmp_path)]
    assert ami_ingest.main(argv) == 0
    first = capsys.readouterr()
    assert ami_ingest.main([*argv, "--profile"]) == 0
    second = capsys.readouterr()

    assert "generated now" in first.err and "cached" in second.err
    assert [p.name for p in tmp_path.iterdir()] == [ami_ingest.capture_name(EVENTS, 1, ami_ingest.real_read_sizes())]
    for out in (first.out, second.out):
        assert LAST_LINE.fullmatch(out.rstrip("\n").splitlines()[-1])
        assert "panoramisk 1.4" in out and "asterisk-ami 0.1.7" in out
    assert "profile of one run of ours" in second.out and "ingest_ours" in second.out
