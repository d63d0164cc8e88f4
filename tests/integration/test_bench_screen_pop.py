"""The screen-pop benchmark's machinery works end to end, tiny: its own PostgreSQL database, a few
thousand history rows, ten agents with their SSE clients, twenty calls from the simulator.

Its figures are the benchmark's business (bench/screen_pop.py); this only checks that pops were
measured, that the clients read them with the caller's history, and that the last line has the
agreed form.  Skipped when PostgreSQL cannot be reached, like the other PostgreSQL tests.
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


def test_tiny_run_measures_pops_and_ends_with_the_agreed_line(admin_url: str):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "screen_pop.py"), "--history-rows", "2000",
                          "--customers", "500", "--agents", "10", "--calls", "20", "--seconds", "3",
                          "--warmup-s", "0", "--grace-s", "1", "--admin-url", admin_url],
                         check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    found = re.fullmatch(r"screen_pop calls=(\d+) history_rows=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", lines[-1])
    assert found, lines[-1]
    assert int(found.group(1)) > 0
    assert int(found.group(2)) == 2000
    assert float(found.group(3)) <= float(found.group(4))
    # every agent's client stayed connected, and the pops it read carried the caller's record
    assert "SSE clients 10 connected, 10 at the end" in run.stdout
    assert re.search(r"pops: with a customer 100%, history rows [1-9]", run.stdout), run.stdout
    # the run's database is gone
    name = re.search(r"^database (bench_screen_pop_\w+):", run.stdout, re.MULTILINE).group(1)
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
