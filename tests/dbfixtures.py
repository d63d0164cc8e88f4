"""Databases for tests: a temporary SQLite file, and a PostgreSQL database of this run's own.

tests/conftest.py loads this module as a pytest plugin, so any test may ask for these fixtures by
name; tests taking ``db_url``, ``empty_db_url`` or ``sync_store`` run once on SQLite and once on
PostgreSQL (marked ``postgres``).

PostgreSQL: the server on 127.0.0.1:5432 (user postgres, trust; override with the environment
variable ``TELEPHONY_TEST_PG``, a URL of a database to connect to for CREATE DATABASE).  The first
test that needs it creates ``telephony_test_<random>``; the end of the run drops it.  Each test gets
it with an empty ``public`` schema.  When the server cannot be reached those tests are skipped,
saying so.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url
from twisted.internet import task

from telephony.store.facade import SyncStore, open_store
from telephony.store.upgrade import upgrade

ADMIN_URL = os.environ.get("TELEPHONY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    u = make_url(url)
    parts = {"host": u.host, "port": u.port, "user": u.username, "password": u.password, "dbname": u.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def _admin_connection() -> psycopg.Connection:
    """A connection to the tests' PostgreSQL server; the test is skipped, saying why, without one."""
    try:
        return psycopg.connect(_libpq(ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {make_url(ADMIN_URL).render_as_string()} "
                    f"(set TELEPHONY_TEST_PG to another server; CI has one): {str(exc).strip()}")


@pytest.fixture
def admin_url() -> str:
    """The tests' PostgreSQL server, for a program that makes databases of its own (the benchmarks)."""
    _admin_connection().close()
    return ADMIN_URL


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database created for this test run (dropped at its end)."""
    admin = _admin_connection()
    name = f"telephony_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database: a SQLite file not yet created, or the run's PostgreSQL
    database with nothing in it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'telephony.db'}"
    url = request.getfixturevalue("postgres_database")
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """The URL of a database at the current schema, with no rows."""
    upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def store_clock() -> task.Clock:
    """The clock the ``sync_store`` reads "now" from (created/updated times); starts in 2026."""
    clock = task.Clock()
    clock.advance(1_795_000_000)
    return clock


@pytest.fixture
def sync_store(db_url: str, store_clock: task.Clock) -> Iterator[SyncStore]:
    """A synchronous store on ``db_url`` (so on SQLite and on PostgreSQL)."""
    with open_store(db_url, clock=store_clock.seconds) as store:
        yield store


def scratch_postgres(testcase) -> str:
    """For trial test cases (which cannot take pytest fixtures): a PostgreSQL database of the test's
    own, at the current schema, dropped by the test's cleanup; the test is skipped without a server."""
    from twisted.trial.unittest import SkipTest

    try:
        admin = psycopg.connect(_libpq(ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise SkipTest(f"PostgreSQL not reachable at {make_url(ADMIN_URL).render_as_string()}: {str(exc).strip()}")
    name = f"telephony_test_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    testcase.addCleanup(drop)
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def postgres_admin() -> "psycopg.Connection":
    """An autocommit connection to the server's admin database (to lock tables, refuse connections)."""
    return psycopg.connect(_libpq(ADMIN_URL), autocommit=True, connect_timeout=3)
