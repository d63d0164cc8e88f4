"""`scripts/demo` — the README's first command — starts, shows a simulated call on its live page within
20 s of being set up, and stops cleanly on Ctrl-C.

The demo needs no fixed port: this test holds 8080 (when nothing else does) and 5038, as a machine
running Asterisk and another web server would, and follows the page to where the demo says it is."""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"live page on http://127\.0\.0\.1:(\d+)/")


def hold(port: int) -> socket.socket | None:
    """Listen on ``port`` for the test's length, unless something already does."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
    except OSError:
        holder.close()
        return None
    holder.listen()
    return holder


def lines_of(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


def wait_for(lines: queue.Queue, pattern: re.Pattern, timeout: float, seen: list[str]) -> re.Match:
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if line is None:
            raise AssertionError("the demo exited:\n" + "".join(seen[-30:]))
        seen.append(line)
        found = pattern.search(line)
        if found:
            return found


def stop(process: subprocess.Popen, seen: list[str], timeout: float = 15.0) -> int:
    """Ctrl-C (SIGINT) to the demo → its exit code; fails when it does not end within ``timeout``."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        raise AssertionError(f"the demo did not stop within {timeout:g} s of SIGINT:\n" + "".join(seen[-30:])) from None


def rest_of(lines: queue.Queue) -> list[str]:
    """What the demo printed that was not read yet, up to its end."""
    rest = []
    while (line := lines.get(timeout=5)) is not None:
        rest.append(line)
    return rest


def test_demo_shows_a_simulated_call_within_20_seconds_and_stops_on_ctrl_c():
    holders = [h for h in (hold(8080), hold(5038)) if h is not None]
    try:
        _run_the_demo()
    finally:
        for holder in holders:
            holder.close()


def _run_the_demo() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TELEPHONY_AMI_SECRET", None)
    demo = subprocess.Popen([str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lines_of, args=(demo.stdout, lines), daemon=True).start()
    try:
        port = int(wait_for(lines, READY, 600, seen).group(1))  # set-up (virtualenv, packages) happens before
        ready_at = time.monotonic()
        assert port != 8080, "8080 is held: the page must have moved, and said where"
        # Follow the live feed until the simulator's first call reaches the daemon.
        feed = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        feed.request("GET", "/events")
        events = feed.getresponse()
        assert events.status == 200 and events.getheader("Content-Type").startswith("text/event-stream")
        while True:
            line = events.fp.readline().decode()
            assert line, "the event stream ended"
            if line.startswith("event: call_offered"):
                break
            assert time.monotonic() - ready_at < 20, "no call within 20 s"
        feed.close()
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        page.request("GET", "/api/board")
        board = json.loads(page.getresponse().read())
        calls = board["calls"] + [w for q in board["queues"] for w in q["waiting"]]
        assert calls or board.get("recent"), board
        page.request("GET", "/")
        html = page.getresponse().read().decode()
        assert time.monotonic() - ready_at < 20
        assert '<html lang="zh-CN">' in html and "****" in html, "a masked caller number is on the page"
        assert not any(c["caller"] and c["caller"].isdigit() for c in board["calls"]), "numbers are masked"
    finally:
        code = stop(demo, seen, timeout=20)
    rest = rest_of(lines)
    assert code == 0, "".join(seen[-20:] + rest)
    assert not any("Traceback" in line for line in seen + rest), "".join(seen + rest)
