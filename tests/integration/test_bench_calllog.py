"""The call-log benchmark's machinery works end to end, tiny: its own PostgreSQL database, 2,000
calls through the real writer and store, the daily report over a day of 500.

Its figures are the benchmark's business (bench/calllog.py); this only checks that every call asked
for was stored with its offers, that the report covered the chosen day, that the database is gone
afterwards, and that the last line has the agreed form.  Skipped when PostgreSQL cannot be reached,
like the other PostgreSQL tests.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.dbfixtures import _libpq

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_tiny_run_stores_every_call_and_ends_with_the_agreed_line(admin_url: str):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "calllog.py"), "--calls", "2000", "--day-calls", "500",
                          "--chunk", "700", "--day", "2025-03-14", "--admin-url", admin_url],
                         check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    found = re.fullmatch(r"calllog rows=(\d+) writes_per_s=(\d+) daily_report_s=(\d+\.\d+)", lines[-1])
    assert found, lines[-1]
    assert int(found.group(1)) == 2000
    assert int(found.group(2)) > 0
    assert float(found.group(3)) > 0
    # four days of 500, the last the one asked for; every offer stored, nothing left to the journal
    assert "calls: 2000 over 4 day(s) 2025-03-11 … 2025-03-14" in run.stdout
    offers = int(re.search(r"; (\d+) offers \(", run.stdout).group(1))
    assert 2000 < offers <= 6000
    assert re.search(rf"^stored: 2000 calls, {offers} offers in ", run.stdout, re.MULTILINE), run.stdout
    assert "journal unused" in run.stdout
    assert "daily report 2025-03-14 (500 calls that day)" in run.stdout
    # the run's database is gone
    name = re.search(r"^database (bench_calllog_\w+)", run.stdout, re.MULTILINE).group(1)
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
