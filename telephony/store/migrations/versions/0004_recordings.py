"""Recordings: one row per recording of a call, its file, its paused spans and its state; and an
index on ``offers.started_at``, so the day's reports read a day of offers, not the whole table
(bench/calllog.py: at a million calls the scan was most of the ring report's time).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
STATES = ("recording", "done", "failed", "deleted")


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("channel", sa.String(128), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(128), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("paused", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.CheckConstraint("state IN ({})".format(", ".join(f"'{s}'" for s in STATES)), name="ck_recordings_state"),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
    )
    op.create_index("ix_recordings_pbx_linkedid", "recordings", ["pbx", "linkedid"])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])
    op.create_index("ix_offers_started_at", "offers", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_offers_started_at", table_name="offers")
    op.drop_table("recordings")
