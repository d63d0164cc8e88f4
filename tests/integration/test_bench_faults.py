"""The fault drills (bench/faults.py) run end to end; one round each, and each says it lost nothing.

Their figures are the benchmark's business (the README quotes them); here only the machinery and
the things that must be zero are checked."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_round_of_every_drill_loses_nothing_and_invents_nothing():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "faults.py"), "--rounds", "1", "--outage-s", "1"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = {line.split()[1]: line for line in run.stdout.splitlines() if line.startswith("fault ")}
    assert set(lines) >= {"ringing_gap", "caller_left_in_gap", "talking_gap", "daemon_restart", "pbx_restart"}
    for line in lines.values():
        for key in ("lost", "false_misses", "stored_twice", "invented_answers"):
            found = re.search(rf"\b{key}=(\d+)", line)
            assert found is None or found.group(1) == "0", line
    assert "misses=1 " in lines["ringing_gap"] and "answered_kept=1 " in lines["talking_gap"]
