"""Initial schema: calls and their offers, customers, agent events (misses, pauses) and alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
CATEGORIES = ("潜在客户", "返利客户", "多次返利客户", "未沟通客户", "骚扰客户")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("caller_name", sa.String(255), nullable=True),
        sa.Column("entered_at", UTC, nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("rings_to_answer", sa.Integer(), nullable=False),
        sa.Column("apologise", sa.Boolean(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("hangup_by", sa.String(16), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("ended_at", UTC, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("transferred_to", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
    )
    op.create_index("ix_calls_caller", "calls", ["caller"])
    op.create_index("ix_calls_entered_at", "calls", ["entered_at"])
    op.create_index("ix_calls_pbx_entered_at", "calls", ["pbx", "entered_at"])

    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ring_started_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=False),
        sa.Column("rang_s", sa.Float(), nullable=False),
        sa.Column("rings", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_offers_call_id_calls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_offers"),
        sa.UniqueConstraint("call_id", "seq", name="uq_offers_call_id_seq"),
    )
    op.create_index("ix_offers_agent_started_at", "offers", ["agent", "started_at"])

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("company", sa.String(255), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint("category IN ({})".format(", ".join(f"'{c}'" for c in CATEGORIES)),
                           name="ck_customers_category"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("number", name="uq_customers_number"),
    )

    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_events"),
        sa.UniqueConstraint("pbx", "fact_key", name="uq_agent_events_pbx_fact_key"),
    )
    op.create_index("ix_agent_events_at", "agent_events", ["at"])
    op.create_index("ix_agent_events_pbx_agent_at", "agent_events", ["pbx", "agent", "at"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("caller_masked", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("pbx", "fact_key", name="uq_alerts_pbx_fact_key"),
    )
    op.create_index("ix_alerts_pbx_at", "alerts", ["pbx", "at"])


def downgrade() -> None:
    # Dropping a table drops its indexes; offers go before the calls they reference.
    for table in ("alerts", "agent_events", "customers", "offers", "calls"):
        op.drop_table(table)
