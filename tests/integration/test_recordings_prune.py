"""`telephony recordings prune`: old recordings go (their rows stay, marked), recent ones and those of
calls with an open complaint stay; --dry-run deletes nothing."""
from __future__ import annotations

from datetime import datetime, timezone

from telephony.cli import main
from telephony.store.casework import WrapUp
from telephony.store.facade import open_store
from telephony.store.upgrade import upgrade

DAY = 86400.0
NOW = 1_796_000_000.0


def test_prune_keeps_recent_recordings_and_open_complaints(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 't.db'}"
    upgrade(url)
    config = tmp_path / "c.yaml"
    config.write_text(f"pbx:\n  ami:\n    host: 127.0.0.1\n    username: u\n    secret_env: NOPE\n"
                      f"store:\n  url: {url}\nrecording:\n  folder: {tmp_path}\n  retention_days: 30\n"
                      f"  queues:\n    sales:\n      retention_days: 365\n", encoding="utf-8")
    files = {}
    with open_store(url, clock=lambda: NOW) as store:
        for name, queue, age_days in (("old", "support", 40), ("recent", "support", 5), ("complaint", "support", 90),
                                      ("sales", "sales", 90), ("gone", "support", 60)):
            path = tmp_path / f"{name}.wav"
            if name != "gone":
                path.write_bytes(b"RIFF")
            files[name] = path
            rid = store.start_recording(pbx="p", linkedid=name, backend="mixmonitor", path=str(path), channel=None,
                                        agent="1001", queue=queue, at=NOW - age_days * DAY)
            store.end_recordings("p", name, NOW - age_days * DAY + 60, lambda p: None)
            files[name + "-id"] = rid
        store.save_wrapup("p", "complaint", "1001", "13800138000",
                          WrapUp("投诉", "follow_up", follow_up_due=datetime.fromtimestamp(NOW + DAY, timezone.utc)))
    monkeypatch.setattr("time.time", lambda: NOW)  # the command's "now"
    assert main(["recordings", "prune", "--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("would delete\t") == 2 and "kept 1 of calls with an open complaint" in out
    assert all(files[n].exists() for n in ("old", "recent", "complaint", "sales"))
    assert main(["recordings", "prune", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 recording(s); kept 1 of calls with an open complaint; 1 file(s) were already gone" in out
    assert (files["old"].exists(), files["recent"].exists(), files["complaint"].exists(), files["sales"].exists()) \
        == (False, True, True, True)
    with open_store(url) as store:
        states = {name: store.get_recording(files[name + "-id"])["state"]
                  for name in ("old", "recent", "complaint", "sales", "gone")}
    assert states == {"old": "deleted", "recent": "done", "complaint": "done", "sales": "done", "gone": "deleted"}
