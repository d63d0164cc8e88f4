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
    zero = {"ringing_gap": ("false_misses", "lost", "stored_twice"), "caller_left_in_gap": ("false_misses", "lost"),
            "stalled_link": ("hung_up_answered", "false_misses", "lost"),
            "talking_gap": ("lost",), "daemon_restart": ("lost", "stored_twice"), "pbx_restart": ("lost",)}
    for drill, keys in zero.items():
        assert drill in lines, run.stdout
        for key in keys:
            assert re.search(rf"\b{key}=0\b", lines[drill]), lines[drill]
    assert "misses=1 " in lines["ringing_gap"] and "answered_kept=1 " in lines["talking_gap"]
    assert "answers_kept=2 " in lines["daemon_restart"], "both calls keep the answer the first daemon saw"
    assert "stretch_s_max=0.000" in lines["caller_left_in_gap"] and "stretch_s_max=0.000" in lines["daemon_restart"]
