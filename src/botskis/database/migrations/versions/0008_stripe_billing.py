"""billing accounts, invoices and stripe events

Revision ID: 0008_stripe_billing
Revises: 0007_runs_list_index
Create Date: 2026-12-02 07:12:19.768986
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import botskis.database.base

revision: str = "0008_stripe_billing"
down_revision: str | None = "0007_runs_list_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", botskis.database.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stripe_events_pending", ["applied_at", "next_attempt_at"], unique=False
        )

    op.create_table(
        "billing_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_status", sa.String(length=32), nullable=True),
        sa.Column("subscription_plan", sa.String(length=32), nullable=True),
        sa.Column(
            "current_period_end", botskis.database.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column(
            "past_due_since", botskis.database.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("state_created", sa.BigInteger(), nullable=False),
        sa.Column("state_terminal", sa.Boolean(), nullable=False),
        sa.Column("state_period_end", sa.BigInteger(), nullable=False),
        sa.Column("created_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_billing_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_billing_accounts")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_billing_accounts_stripe_customer_id")
        ),
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hosted_invoice_url", sa.String(length=2048), nullable=True),
        sa.Column("created", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_billing_invoices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_invoices")),
    )
    with op.batch_alter_table("billing_invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billing_invoices_user_id_created", ["user_id", "created"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_invoices_user_id_created")

    op.drop_table("billing_invoices")
    op.drop_table("billing_accounts")
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.drop_index("ix_stripe_events_pending")

    op.drop_table("stripe_events")
