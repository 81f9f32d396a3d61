"""usage ledger, backfilled for the current month from the runs that exist

Revision ID: 0006_usage_ledger
Revises: 0005_queue_index
Create Date: 2026-12-02 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import botskis.database.base

revision: str = "0006_usage_ledger"
down_revision: str | None = "0005_queue_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monthly_usage",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_monthly_usage_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "month", name=op.f("pk_monthly_usage")),
    )
    _backfill_current_month()


def _backfill_current_month() -> None:
    """Runs deleted before the ledger existed are gone; those that remain are the
    best count of this month so far. Earlier months start at zero."""
    start = botskis.database.base.utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    runs = sa.table(
        "runs",
        sa.column("owner_id", sa.Uuid()),
        sa.column("created_at", botskis.database.base.UTCDateTime(timezone=True)),
    )
    usage = sa.table(
        "monthly_usage",
        sa.column("user_id", sa.Uuid()),
        sa.column("month", sa.Date()),
        sa.column("runs", sa.Integer()),
        sa.column("tokens", sa.BigInteger()),
        sa.column("cost_micros", sa.BigInteger()),
    )
    counts = (
        sa.select(
            runs.c.owner_id,
            sa.literal(start.date(), sa.Date()),
            sa.func.count(),
            sa.literal(0, sa.BigInteger()),
            sa.literal(0, sa.BigInteger()),
        )
        .where(runs.c.created_at >= start)
        .group_by(runs.c.owner_id)
    )
    op.execute(
        usage.insert().from_select(["user_id", "month", "runs", "tokens", "cost_micros"], counts)
    )


def downgrade() -> None:
    op.drop_table("monthly_usage")
