"""`telephony replay --guard` runs the ring guard in observe mode over a real capture."""
from __future__ import annotations

import json

from telephony.cli import main
from tests.conftest import capture_path


def guard_lines(capsys, name: str) -> list[dict]:
    assert main(["replay", "--guard", str(capture_path(name))]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [line for line in lines if "type" in line]


def test_ring_no_answer_capture_reports_the_miss_at_the_third_ring(capsys):
    lines = guard_lines(capsys, "03-")
    deadline, missed, alert = lines
    assert deadline["type"] == "ring_deadline" and deadline["agent"] == "1001"
    # the phone started ringing at 0.118 s; the third ring passed 15.0 s later
    assert deadline["t0_s"] == 15.118 and deadline["action"] == "observe"
    assert (missed["type"], missed["misses_today"], missed["consecutive"]) == ("agent_missed", 1, 1)
    assert (alert["type"], alert["kind"], alert["caller"]) == ("supervisor_alert", "miss", "139****5678")
    assert all(line["t0_s"] == 15.118 for line in lines)


def test_guard_hangup_capture_is_observed_at_the_same_moment_the_rig_acted(capsys):
    lines = guard_lines(capsys, "16-")
    deadline = next(line for line in lines if line["type"] == "ring_deadline")
    # the rig sent its Hangup 15.0 s after AgentCalled (15.118 s); the ring itself began at 0.118 s
    assert deadline["t0_s"] == 15.118 and deadline["channel"] == "PJSIP/1001-00000003"


def test_a_quick_answer_gives_the_guard_nothing_to_say(capsys):
    assert guard_lines(capsys, "02-") == []


def test_busy_hour_misses_and_the_withheld_pause_of_the_only_sales_agent(capsys):
    lines = guard_lines(capsys, "21-")
    misses = [(line["agent"], line["t0_s"]) for line in lines if line["type"] == "agent_missed"]
    assert misses == [("1003", 20.89), ("1001", 34.133), ("1002", 39.2), ("1003", 51.506), ("1001", 86.951)]
    withheld = [line for line in lines if line.get("kind") == "pause_withheld"]
    assert len(withheld) == 1 and withheld[0]["agent"] == "1003"
    # the declined offer (603 after 11.6 s) is not a miss: it never rang three rings
    assert not any(line["t0_s"] == 34.504 for line in lines if line["type"] == "agent_missed")


def test_a_capture_cut_in_the_middle_prints_what_came_before_then_the_damage(tmp_path, capsys):
    data = capture_path("21-").read_bytes()
    cut = tmp_path / "cut.ami"
    cut.write_bytes(data[: len(data) // 2 + 17])  # mid-record: the rest of the file is gone
    assert main(["replay", str(cut)]) == 1
    out, err = capsys.readouterr()
    calls = [json.loads(line) for line in out.splitlines()]
    finished = [c for c in calls if c["outcome"] != "incomplete"]
    assert len(finished) >= 15, "every call completed before the damage is printed"
    assert [c for c in calls if c["outcome"] == "incomplete"], "those still open there are printed as incomplete"
    assert f"{cut}: byte " in err and "runs past the file" in err


def test_an_empty_capture_is_an_error(tmp_path, capsys):
    empty = tmp_path / "empty.ami"
    empty.write_bytes(b"")
    assert main(["replay", str(empty)]) == 1
    assert "the file is empty" in capsys.readouterr().err
