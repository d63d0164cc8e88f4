"""What a new user meets first: the package builds without setuptools' warnings and carries its data
files, and every command-line option says what it is for (issue 12, item 17)."""
from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

from telephony.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_builds_without_warnings_and_carries_its_pages_and_migrations(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path), "-v"],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "would be ignored" not in built.stdout + built.stderr, "a data folder setuptools does not know"
    (wheel,) = tmp_path.glob("telephony-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"telephony/desktop/static/board.js", "telephony/desktop/static/board.css",
            "telephony/store/migrations/script.py.mako"} <= names


def _actions(parser: argparse.ArgumentParser, path: str = "telephony"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_of_every_command_has_help_text():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in _actions(build_parser()) if not a.help]
    assert missing == []
