"""The store: calls, offers, customers, agent facts and alerts in SQLite or PostgreSQL.

``model`` holds the tables, ``calls``/``customers``/``agents``/``alerts``/``report`` the repository
functions (each takes a Session and returns frozen dataclasses), ``migrations`` the Alembic
history, ``upgrade`` the schema checks, ``facade`` the :class:`Store` service that runs repository
functions in a thread pool, and :func:`open_store` the same synchronously.
"""
from telephony.store.agents import AgentEvent
from telephony.store.alerts import Alert
from telephony.store.calls import StoredCall, StoredOffer
from telephony.store.customers import Customer
from telephony.store.db import DEFAULT_URL
from telephony.store.facade import Store, SyncStore, open_store
from telephony.store.report import RingReportRow
from telephony.store.upgrade import SchemaOutOfDate

__all__ = ["DEFAULT_URL", "AgentEvent", "Alert", "Customer", "RingReportRow", "SchemaOutOfDate", "Store",
           "StoredCall", "StoredOffer", "SyncStore", "open_store"]
