"""The screens: who signs in, what agents write down after a call, what they owe; one form per number.

* users, sessions, api_tokens: sign-in for people and programs (hashes only, never a secret);
* wrapups: the agent's after-call record (problem type, order number, notes, resolution);
* tasks: follow-ups owed to customers; handovers: a shift's open items handed to a colleague;
* announcements (and FAQ entries) with who has read them;
* calls.caller_e164 and customers.number in E.164, so ``013800138000`` and ``+86 138 0013 8000`` are
  one customer.  Existing rows are converted here; a customer number that is not a valid phone number
  keeps its digits (nobody calls from it, so no pop can miss it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from telephony.numbers import e164_or_none

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
PROBLEM_TYPES = ("咨询", "投诉", "建议", "求助")
RESOLUTIONS = ("resolved", "follow_up", "transferred")
ROLES = ("agent", "supervisor", "ops")
BATCH = 5000


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("extension", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(_one_of("role", ROLES), name="ck_users_role"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("extension", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(_one_of("role", ROLES), name="ck_api_tokens_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("customer_e164", sa.String(32), nullable=True),
        sa.Column("problem_type", sa.String(8), nullable=False),
        sa.Column("order_no", sa.String(64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=False),
        sa.Column("follow_up_due", UTC, nullable=True),
        sa.Column("saved_at", UTC, nullable=False),
        sa.CheckConstraint(_one_of("problem_type", PROBLEM_TYPES), name="ck_wrapups_problem_type"),
        sa.CheckConstraint(_one_of("resolution", RESOLUTIONS), name="ck_wrapups_resolution"),
        sa.PrimaryKeyConstraint("id", name="pk_wrapups"),
        sa.UniqueConstraint("pbx", "linkedid", "agent", name="uq_wrapups_pbx_linkedid_agent"),
    )
    op.create_index("ix_wrapups_customer_e164_saved_at", "wrapups", ["customer_e164", "saved_at"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(64), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("customer_e164", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("due_at", UTC, nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_owner_status", "tasks", ["owner", "status"])
    op.create_index("ix_tasks_customer_e164_status", "tasks", ["customer_e164", "status"])
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_agent", sa.String(64), nullable=False),
        sa.Column("to_agent", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handovers"),
    )
    op.create_index("ix_handovers_to_agent_acknowledged_at", "handovers", ["to_agent", "acknowledged_at"])
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("posted_by", sa.String(64), nullable=False),
        sa.Column("posted_at", UTC, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(_one_of("kind", ("announcement", "faq")), name="ck_announcements_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_announcements"),
    )
    op.create_index("ix_announcements_kind_active", "announcements", ["kind", "active"])
    op.create_table(
        "announcement_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("read_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["announcement_id"], ["announcements.id"],
                                name="fk_announcement_reads_announcement_id_announcements", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_announcement_reads"),
        sa.UniqueConstraint("announcement_id", "username", name="uq_announcement_reads_announcement_id_username"),
    )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("caller_e164", sa.String(32), nullable=True))
    op.create_index("ix_calls_caller_e164_entered_at", "calls", ["caller_e164", "entered_at"])
    op.create_index("ix_calls_answered_by_entered_at", "calls", ["answered_by", "entered_at"])
    _normalise("calls", "caller", "caller_e164", keep_invalid=False)
    _normalise("customers", "number", "number", keep_invalid=True)


def _normalise(table: str, source: str, target: str, *, keep_invalid: bool) -> None:
    """Write ``target`` = E.164 of ``source`` for every row, in batches (a big call log must not be
    read into memory at once)."""
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id", sa.Integer()), sa.column(source, sa.String()),
                    sa.column(target, sa.String()))
    last = 0
    while True:
        batch = bind.execute(sa.select(rows.c.id, rows.c[source]).where(rows.c.id > last, rows.c[source].isnot(None))
                             .order_by(rows.c.id).limit(BATCH)).all()
        if not batch:
            return
        changes = []
        for row_id, number in batch:
            normal = e164_or_none(number)
            if normal is None and keep_invalid:
                continue
            changes.append({"row_id": row_id, "value": normal})
        if changes:
            bind.execute(rows.update().where(rows.c.id == sa.bindparam("row_id"))
                         .values({target: sa.bindparam("value")}), changes)
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_index("ix_calls_answered_by_entered_at", table_name="calls")
    op.drop_index("ix_calls_caller_e164_entered_at", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("caller_e164")
    # 0002 looked customers up by digits only: give them back digits (the E.164 digits, country
    # code included, since the form they were first written in is gone).
    op.execute("UPDATE customers SET number = substr(number, 2) WHERE number LIKE '+%'")
    op.drop_table("announcement_reads")
    op.drop_table("announcements")
    op.drop_table("handovers")
    op.drop_table("tasks")
    op.drop_table("wrapups")
    op.drop_table("api_tokens")
    op.drop_table("sessions")
    op.drop_table("users")
