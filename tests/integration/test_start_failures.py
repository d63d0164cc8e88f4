"""A start that cannot succeed ends at once, non-zero, saying what to change (issue 12, items 9 and 12).

Real processes and real listeners: another program holds the port the page (or the simulator) was
told to use.  Before, the daemon logged "could not start" and then never exited, deaf to SIGINT.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder.getsockname()[1]
    holder.close()


def telephony(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TELEPHONY_TEST_SECRET="start-failure-secret")
    return subprocess.run([sys.executable, "-m", "telephony.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_run_with_its_web_port_in_use_exits_at_once_naming_the_setting(tmp_path, taken_port):
    config = tmp_path / "centre.yaml"
    config.write_text(
        "pbx:\n  ami:\n    host: 127.0.0.1\n    port: 1\n    secret_env: TELEPHONY_TEST_SECRET\n"
        f"store:\n  url: sqlite:///{tmp_path / 'calls.db'}\n  journal: {tmp_path / 'journal.jsonl'}\n"
        f"web:\n  listen: 127.0.0.1:{taken_port}\n", encoding="utf-8")
    done = telephony("run", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert (f"could not start: cannot listen on 127.0.0.1:{taken_port} (Address already in use): another program "
            f"holds that address; set web.listen in {config} to a free HOST:PORT") in done.stderr


def test_the_demo_takes_free_ports_but_a_simulator_port_given_and_taken_is_an_error(tmp_path, taken_port):
    config = tmp_path / "demo.yaml"
    text = (ROOT / "config" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("listen: 127.0.0.1:0", f"listen: 127.0.0.1:{taken_port}")
    text = text.replace("sqlite:///var/demo.db", f"sqlite:///{tmp_path / 'demo.db'}")
    config.write_text(text, encoding="utf-8")
    done = telephony("demo", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{taken_port}" in done.stderr
    assert f"set sim.listen in {config}" in done.stderr
