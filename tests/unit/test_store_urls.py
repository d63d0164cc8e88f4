"""Database URLs and stored times: pure rules, no database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from telephony.store.db import describe, parse_url, sqlite_path
from telephony.store.model import UTCDateTime, as_utc
from telephony.store.report import day_bounds


@pytest.mark.parametrize("given, driver", [
    ("postgresql://postgres@127.0.0.1/telephony", "postgresql+psycopg"),
    ("postgres://postgres@127.0.0.1/telephony", "postgresql+psycopg"),
    ("postgresql+psycopg://postgres@127.0.0.1/telephony", "postgresql+psycopg"),
    ("postgresql+psycopg2://postgres@127.0.0.1/telephony", "postgresql+psycopg2"),
    ("sqlite:///var/telephony.db", "sqlite"),
])
def test_postgresql_means_psycopg_3(given, driver):
    assert parse_url(given).drivername == driver


def test_sqlite_paths():
    assert sqlite_path("sqlite:///var/telephony.db") == Path("var/telephony.db")
    assert sqlite_path("sqlite:////srv/telephony/telephony.db") == Path("/srv/telephony/telephony.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://postgres@127.0.0.1/telephony") is None


def test_describe_hides_the_password():
    assert describe("postgresql://telephony:s3cret@db.example/telephony") == \
        "postgresql+psycopg://telephony:***@db.example/telephony"


def test_epoch_seconds_become_aware_utc():
    assert as_utc(1_795_366_966.25) == datetime(2026, 11, 22, 17, 2, 46, 250000, tzinfo=timezone.utc)
    shanghai = datetime(2026, 11, 23, 1, 2, 46, 250000, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert as_utc(shanghai) == as_utc(1_795_366_966.25)
    assert as_utc(shanghai).tzinfo is timezone.utc
    with pytest.raises(ValueError, match="naive"):
        as_utc(datetime(2026, 11, 23, 9, 42))


@pytest.mark.parametrize("dialect, stored", [
    (sqlite.dialect(), datetime(2026, 11, 23, 1, 42, 46)),
    (postgresql.dialect(), datetime(2026, 11, 23, 1, 42, 46, tzinfo=timezone.utc)),
])
def test_utc_column_writes_utc_and_reads_aware_utc(dialect, stored):
    column = UTCDateTime()
    beijing = datetime(2026, 11, 23, 9, 42, 46, tzinfo=timezone(timedelta(hours=8)))
    assert column.process_bind_param(beijing, dialect) == stored
    back = column.process_result_value(stored, dialect)
    assert back == beijing and back.tzinfo is timezone.utc
    with pytest.raises(ValueError):
        column.process_bind_param(datetime(2026, 11, 23, 9, 42), dialect)


def test_a_local_day_in_utc():
    start, end = day_bounds(datetime(2026, 11, 20).date(), "Asia/Shanghai")
    assert (as_utc(start), as_utc(end)) == (datetime(2026, 11, 19, 16, tzinfo=timezone.utc),
                                            datetime(2026, 11, 20, 16, tzinfo=timezone.utc))
    start, end = day_bounds(datetime(2026, 3, 29).date(), "Europe/Berlin")
    assert as_utc(end) - as_utc(start) == timedelta(hours=23)  # the clocks went forward that night
