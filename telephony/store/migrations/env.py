"""Alembic's entry point: run the migrations on the connection ``upgrade.py`` hands over.

Called only through ``telephony.store.upgrade`` (``config.attributes["connection"]``), never with
a URL of its own, so engines are always built by ``telephony.store.db`` with the same settings
the daemon uses.  SQLite alters tables in batch mode (copy and rename), the only way it can.
"""
from alembic import context

from telephony.store.model import UTCDateTime, metadata


def _render_item(kind, obj, autogen_context):
    # A migration must not import the models it freezes: write our column type as the plain type
    # it creates in the database.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through telephony.store.upgrade (or `telephony db upgrade`)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
