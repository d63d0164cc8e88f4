"""The ring-guard benchmark's machinery works end to end on a handful of calls.

Its figures are the benchmark's business (bench/ring_guard.py); this only checks that every call
was guarded once and that the last line has the agreed form.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_call_is_guarded_once_and_the_last_line_has_its_form():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "ring_guard.py"), "--calls", "8", "--spread-s", "1",
                          "--cycle-s", "0.3"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    last = run.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"ring_guard calls=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) max_ms=([\d.]+) "
                         r"reactor_lag_p99_ms=([\d.]+)", last)
    assert found, last
    assert int(found.group(1)) == 8
    assert "misses counted 8" in run.stdout
