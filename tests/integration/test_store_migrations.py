"""Each migration, up and down, on SQLite and PostgreSQL; the newest one gives exactly the models."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from telephony.store.db import create_engine
from telephony.store.model import metadata
from telephony.store.upgrade import alembic_config, current_revision, downgrade, head_revision, upgrade

REVISIONS = list(reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())))


def _tables(url: str) -> set[str]:
    return set(_schema(url))


def _schema(url: str) -> dict[str, tuple]:
    """Each telephony table's columns (name, type, nullable), indexes and unique constraints."""
    engine = create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            table: (
                sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            )
            for table in inspector.get_table_names() if table != "alembic_version"
        }
    finally:
        engine.dispose()


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()


def test_migrations_form_one_line_starting_at_0001():
    assert [s.revision for s in REVISIONS][0] == "0001"
    assert all(s.down_revision == prev.revision for prev, s in zip(REVISIONS, REVISIONS[1:]))
    assert REVISIONS[-1].revision == head_revision()


@pytest.mark.parametrize("script", REVISIONS, ids=[s.revision for s in REVISIONS])
def test_migration_up_and_down(empty_db_url, script):
    """Upgrading from the parent changes the schema; downgrading restores the parent's exactly."""
    parent = script.down_revision or "base"
    if parent != "base":
        upgrade(empty_db_url, parent)
    before = _schema(empty_db_url)
    assert upgrade(empty_db_url, script.revision)[1] == script.revision
    after = _schema(empty_db_url)
    assert after != before
    assert downgrade(empty_db_url, parent)[1] == script.down_revision
    assert _schema(empty_db_url) == before
    upgrade(empty_db_url, script.revision)
    assert _schema(empty_db_url) == after


def test_0001_creates_the_tables(empty_db_url):
    upgrade(empty_db_url, "0001")
    assert _tables(empty_db_url) == {"calls", "offers", "customers", "agent_events", "alerts"}


def test_head_schema_equals_the_models(empty_db_url):
    assert upgrade(empty_db_url) == (None, head_revision())
    assert _differences(empty_db_url) == []


def test_downgrade_to_base_leaves_no_telephony_table(empty_db_url):
    upgrade(empty_db_url)
    assert downgrade(empty_db_url, "base") == (head_revision(), None)
    assert _tables(empty_db_url) == set()
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) is None
    finally:
        engine.dispose()


def test_a_model_change_without_migration_is_seen(empty_db_url):
    """The comparison above can fail: a column the migrations lack shows up as a difference."""
    upgrade(empty_db_url)
    changed = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["calls"].append_column(sa.Column("wrapup_notes", sa.Text()))
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), changed)
    finally:
        engine.dispose()
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "wrapup_notes")]


def test_0003_puts_stored_callers_and_customers_in_one_normal_form(empty_db_url):
    """Calls and customers stored before 0003 are found by any spelling of the number afterwards."""
    upgrade(empty_db_url, "0002")
    engine = create_engine(empty_db_url)
    now = "2026-12-01 09:00:00"
    try:
        with engine.begin() as db:
            for linkedid, caller in (("a", "013800138000"), ("b", "1001"), ("c", None)):
                db.execute(sa.text(
                    "INSERT INTO calls (pbx, linkedid, caller, entered_at, queues, outcome, ended_at, direction, "
                    "transferred_to, created_at, updated_at) VALUES ('p', :l, :c, :t, '[]', 'answered', :t, "
                    "'inbound', '[]', :t, :t)"), {"l": linkedid, "c": caller, "t": now})
            for number in ("8613912345678", "10086"):
                db.execute(sa.text("INSERT INTO customers (number, created_at, updated_at) VALUES (:n, :t, :t)"),
                           {"n": number, "t": now})
        upgrade(empty_db_url)
        with engine.connect() as db:
            callers = dict(db.execute(sa.text("SELECT linkedid, caller_e164 FROM calls")).all())
            numbers = sorted(db.execute(sa.text("SELECT number FROM customers")).scalars())
    finally:
        engine.dispose()
    assert callers == {"a": "+8613800138000", "b": None, "c": None}
    assert numbers == ["+8613912345678", "10086"]  # not a phone number: kept as it was
