"""Shared fixtures: the real AMI captures shipped with the tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from telephony.ami.capture import Record, read_capture

# the database fixtures (SQLite and PostgreSQL) for any test that asks for them by name
pytest_plugins = ["tests.dbfixtures"]

CAPTURES = Path(__file__).parent / "fixtures" / "ami-real"


def capture_path(name: str) -> Path:
    matches = sorted(CAPTURES.glob(f"{name}*.ami"))
    if len(matches) != 1:
        raise LookupError(f"no single capture named {name!r} in {CAPTURES}")
    return matches[0]


def all_captures() -> list[Path]:
    return sorted(CAPTURES.glob("*.ami"))


def recv_chunks(records: list[Record], connection: str) -> list[bytes]:
    return [r.payload for r in records if r.kind == "RECV" and r.connection == connection]


@pytest.fixture(scope="session")
def captures() -> dict[str, list[Record]]:
    return {p.name: read_capture(p) for p in all_captures()}
