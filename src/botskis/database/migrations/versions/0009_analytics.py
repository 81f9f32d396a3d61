"""analytics rollups, retention indexes, minutes saved

Revision ID: 0009_analytics
Revises: 0008_stripe_billing
Create Date: 2026-12-02 06:15:41.260407
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import botskis.database.base

revision: str = "0009_analytics"
down_revision: str | None = "0008_stripe_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "error_fingerprints",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("error_kind", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("template_slug", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_error_fingerprints")),
    )
    op.create_table(
        "account_rollups",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("bucket", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("cancelled", sa.BigInteger(), nullable=False),
        sa.Column("auto_healed", sa.BigInteger(), nullable=False),
        sa.Column("duration_count", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_max_ms", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("d00", sa.BigInteger(), nullable=False),
        sa.Column("d01", sa.BigInteger(), nullable=False),
        sa.Column("d02", sa.BigInteger(), nullable=False),
        sa.Column("d03", sa.BigInteger(), nullable=False),
        sa.Column("d04", sa.BigInteger(), nullable=False),
        sa.Column("d05", sa.BigInteger(), nullable=False),
        sa.Column("d06", sa.BigInteger(), nullable=False),
        sa.Column("d07", sa.BigInteger(), nullable=False),
        sa.Column("d08", sa.BigInteger(), nullable=False),
        sa.Column("d09", sa.BigInteger(), nullable=False),
        sa.Column("d10", sa.BigInteger(), nullable=False),
        sa.Column("d11", sa.BigInteger(), nullable=False),
        sa.Column("d12", sa.BigInteger(), nullable=False),
        sa.Column("d13", sa.BigInteger(), nullable=False),
        sa.Column("d14", sa.BigInteger(), nullable=False),
        sa.Column("d15", sa.BigInteger(), nullable=False),
        sa.Column("d16", sa.BigInteger(), nullable=False),
        sa.Column("d17", sa.BigInteger(), nullable=False),
        sa.Column("d18", sa.BigInteger(), nullable=False),
        sa.Column("d19", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_account_rollups_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "owner_id", "granularity", "bucket", name=op.f("pk_account_rollups")
        ),
    )
    op.create_table(
        "agent_rollups",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("bucket", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("succeeded", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("cancelled", sa.BigInteger(), nullable=False),
        sa.Column("auto_healed", sa.BigInteger(), nullable=False),
        sa.Column("duration_count", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_max_ms", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("d00", sa.BigInteger(), nullable=False),
        sa.Column("d01", sa.BigInteger(), nullable=False),
        sa.Column("d02", sa.BigInteger(), nullable=False),
        sa.Column("d03", sa.BigInteger(), nullable=False),
        sa.Column("d04", sa.BigInteger(), nullable=False),
        sa.Column("d05", sa.BigInteger(), nullable=False),
        sa.Column("d06", sa.BigInteger(), nullable=False),
        sa.Column("d07", sa.BigInteger(), nullable=False),
        sa.Column("d08", sa.BigInteger(), nullable=False),
        sa.Column("d09", sa.BigInteger(), nullable=False),
        sa.Column("d10", sa.BigInteger(), nullable=False),
        sa.Column("d11", sa.BigInteger(), nullable=False),
        sa.Column("d12", sa.BigInteger(), nullable=False),
        sa.Column("d13", sa.BigInteger(), nullable=False),
        sa.Column("d14", sa.BigInteger(), nullable=False),
        sa.Column("d15", sa.BigInteger(), nullable=False),
        sa.Column("d16", sa.BigInteger(), nullable=False),
        sa.Column("d17", sa.BigInteger(), nullable=False),
        sa.Column("d18", sa.BigInteger(), nullable=False),
        sa.Column("d19", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_rollups_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_agent_rollups_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "granularity", "bucket", name=op.f("pk_agent_rollups")),
    )
    with op.batch_alter_table("agent_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_rollups_owner_id_granularity_bucket",
            ["owner_id", "granularity", "bucket"],
            unique=False,
        )

    op.create_table(
        "error_rollups",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("bucket", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sample_run_id", sa.Uuid(), nullable=False),
        sa.Column("sample_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_error_rollups_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_error_rollups_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agent_id", "granularity", "bucket", "fingerprint", name=op.f("pk_error_rollups")
        ),
    )
    with op.batch_alter_table("error_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_error_rollups_owner_id_granularity_bucket",
            ["owner_id", "granularity", "bucket"],
            unique=False,
        )

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("minutes_saved_per_run", sa.Double(), server_default="5", nullable=False)
        )

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_owner_id_unfinished",
            ["owner_id", "status"],
            unique=False,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.create_index(
            "ix_runs_retry_of_id",
            ["retry_of_id"],
            unique=False,
            postgresql_where=sa.text("retry_of_id IS NOT NULL"),
            sqlite_where=sa.text("retry_of_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_runs_retry_of_id",
            postgresql_where=sa.text("retry_of_id IS NOT NULL"),
            sqlite_where=sa.text("retry_of_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_runs_owner_id_unfinished",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        )

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("minutes_saved_per_run")

    with op.batch_alter_table("error_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_error_rollups_owner_id_granularity_bucket")

    op.drop_table("error_rollups")
    with op.batch_alter_table("agent_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_rollups_owner_id_granularity_bucket")

    op.drop_table("agent_rollups")
    op.drop_table("account_rollups")
    op.drop_table("error_fingerprints")
