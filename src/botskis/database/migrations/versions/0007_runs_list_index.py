"""runs: an index for an agent's runs of one status, newest first

Revision ID: 0007_runs_list_index
Revises: 0006_usage_ledger
Create Date: 2026-12-02 07:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_runs_list_index"
down_revision: str | None = "0006_usage_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_agent_id_status_created_at",
            ["agent_id", "status", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_agent_id_status_created_at")
