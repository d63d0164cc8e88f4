"""Database URLs and engines: the one place that knows SQLite from PostgreSQL.

* ``sqlite:///var/telephony.db`` is the embedded default; a relative path is relative to the
  working directory, and the file's folder is created when missing.
* PostgreSQL uses psycopg 3: ``postgresql://…`` and ``postgres://…`` are read as
  ``postgresql+psycopg://…``; a URL that names another driver is kept as written.

SQLite engines are set up for a thread pool: foreign keys on (offers go with their call), WAL so
readers do not wait for the writer, and every transaction begun with ``BEGIN IMMEDIATE`` so two
threads that both write queue on the lock instead of one failing with "database is locked" when its
read upgrades to a write.

Nothing waits without end, because a hung database must not hang the daemon: connecting gives up
after ``connect_timeout_s``; with ``statement_timeout_s`` (the daemon's store sets it; a migration
may take longer) a statement, a lock wait or SQLite's wait for its lock gives up after that long and
PostgreSQL's TCP keepalives notice a server that vanished; every pooled connection is pinged before
use.  Errors never carry the SQL parameters (``hide_parameters``): they
hold phone numbers and names, and errors reach logs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session

__all__ = ["DEFAULT_URL", "create_engine", "describe", "parse_url", "sqlite_path", "upsert"]

DEFAULT_URL = "sqlite:///var/telephony.db"

DEFAULT_CONNECT_TIMEOUT_S = 5.0
#: SQLite's wait for the write lock when no statement timeout is given (the command line)
_SQLITE_BUSY_TIMEOUT_S = 30.0


def parse_url(url: str | URL) -> URL:
    """Parse a SQLAlchemy URL, mapping a bare PostgreSQL scheme to psycopg 3.

    Raises ``sqlalchemy.exc.ArgumentError`` when the text is not a URL.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def describe(url: str | URL) -> str:
    """The URL as it may be shown to people and logs: the password hidden."""
    return parse_url(url).render_as_string(hide_password=True)


def create_engine(url: str | URL, *, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
                  statement_timeout_s: float | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see the module doc for what is set up per database).

    Creates the folder of a SQLite file; connecting does not happen here, so an unreachable
    server fails on first use, with the driver's error.
    """
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    connect_args = kwargs.setdefault("connect_args", {})
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("hide_parameters", True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "sqlite":
        connect_args.setdefault("timeout", statement_timeout_s or _SQLITE_BUSY_TIMEOUT_S)
    elif parsed.get_backend_name() == "postgresql":
        connect_args.setdefault("connect_timeout", max(1, round(connect_timeout_s)))
        if statement_timeout_s is not None:
            statement_ms = max(1, round(statement_timeout_s * 1000))
            connect_args.setdefault("options", f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms} "
                                               f"-c idle_in_transaction_session_timeout={statement_ms * 3}")
            connect_args.setdefault("keepalives", 1)
            connect_args.setdefault("keepalives_idle", 5)
            connect_args.setdefault("keepalives_interval", 2)
            connect_args.setdefault("keepalives_count", 3)
            connect_args.setdefault("tcp_user_timeout", statement_ms)
            kwargs.setdefault("pool_timeout", statement_timeout_s)
    engine = sqlalchemy.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module, which would otherwise begin transactions
    # lazily (deferred) behind SQLAlchemy's back; _sqlite_begin then begins them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def upsert(session: Session, entity: Any) -> Any:
    """``INSERT`` for ``entity`` that supports ``on_conflict_do_update/nothing`` on this database.

    Both SQLite and PostgreSQL speak ``INSERT … ON CONFLICT``; SQLAlchemy builds it per dialect.
    Raises ValueError for another database.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite_insert(entity)
    if dialect == "postgresql":
        return postgresql_insert(entity)
    raise ValueError(f"the store supports SQLite and PostgreSQL, not {dialect}")
