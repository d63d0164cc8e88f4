"""Schema migrations (Alembic): where the database stands, upgrading it, refusing a stale one.

The daemon never migrates a database behind the operator's back: :func:`open_database` refuses
a schema that is behind (or ahead of) this version's migrations with :class:`SchemaOutOfDate`,
whose message says what to run (``telephony db upgrade``).  The one exception is a SQLite file
that does not exist yet: it is created at the current schema, so the embedded default just works.

A new migration (e.g. the wrap-up fields) starts from the models: change ``model.py``, then
``python -c "from telephony.store.upgrade import new_revision; new_revision('add wrap-up fields')"``
writes ``migrations/versions/NNNN_add_wrap_up_fields.py`` from the difference; read and test it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine

from telephony.store.db import create_engine, describe, sqlite_path

__all__ = ["SchemaOutOfDate", "current_revision", "downgrade", "head_revision", "new_revision",
           "open_database", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database's schema is not the one this version of telephony was written for."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config for our migrations; ``migrations/env.py`` runs them on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration: the schema this code expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations in " + str(MIGRATIONS)
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's migration; None for an empty database (or one never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: str | URL | Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database up to ``revision``; returns (revision before, revision after).

    In one transaction on PostgreSQL and SQLite alike, so a failing migration leaves the database
    as it was.  ``target`` is a URL or an engine (an engine is left open).
    """
    return _migrate(target, command.upgrade, revision)


def downgrade(target: str | URL | Engine, revision: str) -> tuple[str | None, str | None]:
    """Migrate the database down to ``revision`` (``"base"``: no tables); like :func:`upgrade`."""
    return _migrate(target, command.downgrade, revision)


def _migrate(target: str | URL | Engine, step: Callable[[Config, str], None],
             revision: str) -> tuple[str | None, str | None]:
    engine = target if isinstance(target, Engine) else create_engine(target)
    try:
        with engine.begin() as connection:
            before = current_revision(connection)
            step(alembic_config(connection), revision)
            return before, current_revision(connection)
    finally:
        if engine is not target:
            engine.dispose()


def open_database(url: str | URL, **engine_kwargs: Any) -> Engine:
    """An engine on a database whose schema is this code's; creates a new SQLite file at head.

    Raises :class:`SchemaOutOfDate` (engine disposed) when the schema is behind or unknown, and the
    driver's error when the database cannot be reached.
    """
    path = sqlite_path(url)
    fresh = path is not None and not path.exists()
    engine = create_engine(url, **engine_kwargs)
    try:
        if fresh:
            upgrade(engine)
        else:
            _check(engine, url)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check(engine: Engine, url: str | URL) -> None:
    with engine.connect() as connection:
        current = current_revision(connection)
    head = head_revision()
    if current == head:
        return
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    where = describe(url)
    if current in known or current is None:
        state = f"at revision {current}" if current else "empty (no telephony tables)"
        raise SchemaOutOfDate(f"the database {where} is {state}; this version needs revision {head}. "
                              f"Back it up, then run: telephony db upgrade --url '{where}' (or --config FILE)")
    raise SchemaOutOfDate(f"the database {where} is at revision {current}, which this version of telephony "
                          f"does not know (newest known: {head}): it was upgraded by a newer version; "
                          "run that version")


def new_revision(message: str) -> Path:
    """Write the next migration from the difference between the models and the newest migration.

    Works on a throw-away SQLite database; returns the new file's path.  For developers.
    """
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/scratch.db")
        try:
            upgrade(engine)
            with engine.begin() as connection:
                config = alembic_config(connection)
                config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
                count = sum(1 for _ in ScriptDirectory.from_config(config).walk_revisions())
                script = command.revision(config, message, autogenerate=True, rev_id=f"{count + 1:04d}")
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)
