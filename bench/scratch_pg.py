"""A PostgreSQL database of a benchmark's own: made on the server of an admin URL, dropped at the end
(the machine's shared databases are never touched)."""
from __future__ import annotations

import os

__all__ = ["DEFAULT_ADMIN_URL", "create_database", "database_url", "drop_database", "libpq"]

#: a database to connect to for CREATE DATABASE (the tests' server)
DEFAULT_ADMIN_URL = os.environ.get("TELEPHONY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    parts = {"host": u.host, "port": u.port, "user": u.username, "password": u.password, "dbname": u.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def database_url(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
