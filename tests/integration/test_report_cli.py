"""`telephony report rings --date D` over a real SQLite call log filled from real captures."""
from __future__ import annotations

import json

from telephony.cli import main
from telephony.replay import calls_from_capture
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade
from tests.conftest import capture_path


def config_for(tmp_path, url: str) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(f"pbx:\n  name: default\n  ami:\n    secret_env: X\nstore:\n  url: {url}\ntimezone: UTC\n",
                    encoding="utf-8")
    return str(path)


def busy_hour_log(tmp_path) -> str:
    """A call log holding the 40 calls of the busy-hour capture; its URL."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    with open_store(url) as store:
        for call, _ in calls_from_capture(capture_path("21-")):
            store.save_call(call)
    return url


def test_ring_report_for_the_busy_hour(tmp_path, capsys):
    url = busy_hour_log(tmp_path)
    with open_store(url) as store:
        store.record_agent_event("default", "1003", "miss", 1795914536.0, "guard", queue="sales", linkedid="x")
    config = config_for(tmp_path, url)
    assert main(["report", "rings", "--date", "2026-11-29", "--config", config, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)  # one JSON document, not lines
    assert (document["date"], document["timezone"], document["rings_allowed"]) == \
        ("2026-11-29", "UTC", {"default": 3, "queues": {}})
    rows = document["rows"]
    sales = next(r for r in rows if r["queue"] == "sales" and r["agent"] is None)
    support = next(r for r in rows if r["queue"] == "support" and r["agent"] is None)
    assert sales["calls"] + support["calls"] == 40
    assert sales["misses"] == 1
    agents = {r["agent"]: r for r in rows if r["agent"]}
    assert sum(r["calls"] for r in agents.values()) == 33, "answered calls are counted on the agent who answered"
    assert main(["report", "rings", "--date", "2026-11-29", "--config", config]) == 0
    table = capsys.readouterr().out
    assert "三声之内必有应答" in table and "sales" in table and "1003" in table
    assert "local day in UTC (00:00–24:00)" in table, "whose midnight cuts the day is said"
    assert "offers≤N" in table and "calls≤N" in table and "each time a phone rang" in table


def test_a_reader_that_goes_away_ends_the_report_quietly(tmp_path):
    """`telephony report rings … | head -1` ended in a BrokenPipeError traceback."""
    import subprocess
    import sys

    config = config_for(tmp_path, busy_hour_log(tmp_path))
    report = subprocess.Popen([sys.executable, "-m", "telephony.cli", "report", "rings", "--date", "2026-11-29",
                               "--config", config, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    report.stdout.close()  # the reader is gone before the first line is written
    _, err = report.communicate(timeout=60)
    assert report.returncode == 0
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


def test_a_bad_date_is_refused_with_the_form_to_use(tmp_path, capsys):
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    try:
        main(["report", "rings", "--date", "29/11/2026", "--config", config])
    except SystemExit as exit:
        assert exit.code == 2
    assert "write YYYY-MM-DD" in capsys.readouterr().err


def test_a_queue_that_allows_fewer_rings_is_judged_by_its_own_rule(tmp_path, capsys):
    base = config_for(tmp_path, busy_hour_log(tmp_path))
    strict = tmp_path / "strict.yaml"
    strict.write_text(open(base, encoding="utf-8").read() + "queues:\n  sales:\n    rings:\n      allowed: 1\n",
                      encoding="utf-8")

    def sales_row(config: str) -> dict:
        assert main(["report", "rings", "--date", "2026-11-29", "--config", config, "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)["rows"]
        return next(r for r in rows if r["queue"] == "sales" and r["agent"] is None)

    lenient, strict_row = sales_row(base), sales_row(str(strict))
    assert strict_row["answered_within"] < lenient["answered_within"]
    assert strict_row["offers"] == lenient["offers"]
