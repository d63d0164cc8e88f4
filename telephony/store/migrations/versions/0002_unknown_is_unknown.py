"""Unknown is unknown: what happened in a gap of the AMI link is stored as such.

* calls: ``wait_s``, ``rings_to_answer`` and ``apologise`` may be NULL (a call answered unseen);
  ``ended_unseen`` marks a call whose end fell in a gap (its times are lower bounds);
* offers: ``ended_unseen`` (its ``rang_s`` and ``rings`` are lower bounds; result ``unknown``);
* agent_events: ``unseen`` marks a pause or unpause found in a snapshot after a gap;
* pause_requests: who asked for a pause or unpause, so the call log can credit it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
UNKNOWN_COLUMNS = (("wait_s", sa.Float()), ("rings_to_answer", sa.Integer()), ("apologise", sa.Boolean()))


def upgrade() -> None:
    op.create_table(
        "pause_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(16), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pause_requests"),
    )
    op.create_index("ix_pause_requests_pbx_agent_at", "pause_requests", ["pbx", "agent", "at"])
    with op.batch_alter_table("agent_events") as batch:
        batch.add_column(sa.Column("unseen", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("ended_unseen", sa.Boolean(), server_default=sa.false(), nullable=False))
        for name, kind in UNKNOWN_COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=True)
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("ended_unseen", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    unknown = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM calls WHERE wait_s IS NULL OR rings_to_answer IS NULL OR apologise IS NULL")).scalar()
    if unknown:
        # 0001 cannot hold an unknown wait, and making one up would corrupt every report after it.
        raise RuntimeError(f"{unknown} stored calls have an unknown wait (answered unseen); revision 0001 cannot "
                           "hold them. Export or delete those calls first.")
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("ended_unseen")
    with op.batch_alter_table("calls") as batch:
        for name, kind in UNKNOWN_COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.drop_column("ended_unseen")
    with op.batch_alter_table("agent_events") as batch:
        batch.drop_column("unseen")
    op.drop_table("pause_requests")
