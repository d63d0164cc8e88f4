"""The live page in a real browser: headless Chromium opens the demo's board and shows the first
simulated caller's name, 张三, as text within 20 s (the CJK path from the simulated PBX through AMI,
the daemon and the event stream to the page's script).  The screenshot is the README's."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from tests.e2e.test_demo import READY, ROOT, lines_of, rest_of, stop, wait_for

SCREENSHOT = ROOT / "docs" / "screenshots" / "board.png"


def demo_config(tmp_path: Path) -> Path:
    """config/demo.yaml, with everything it writes under ``tmp_path`` and the page on any free port."""
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    config["store"] = {**config.get("store", {}),
                       "url": f"sqlite:///{tmp_path / 'demo.db'}",
                       "journal": str(tmp_path / "journal-{pbx}.jsonl"),
                       "live_state": str(tmp_path / "live-{pbx}.json")}
    config["web"] = {**config.get("web", {}), "listen": "127.0.0.1:0"}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_board_shows_the_first_callers_name_in_chromium(tmp_path, page):
    from playwright.sync_api import expect

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TELEPHONY_AMI_SECRET", None)
    # cwd: the demo makes var/ where it runs; keep that out of the repository too
    demo = subprocess.Popen([sys.executable, "-m", "telephony.cli", "demo", "--config", str(demo_config(tmp_path))],
                            cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lines_of, args=(demo.stdout, lines), daemon=True).start()
    try:
        port = int(wait_for(lines, READY, 60, seen).group(1))
        page.goto(f"http://127.0.0.1:{port}/", timeout=10_000)
        expect(page.get_by_text("张三", exact=True).first).to_be_visible(timeout=20_000)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        code = stop(demo, seen)
    rest = rest_of(lines)
    assert code == 0, "".join(seen[-20:] + rest)
    assert not any("Traceback" in line for line in seen + rest), "".join(seen + rest)
