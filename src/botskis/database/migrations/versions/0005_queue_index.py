"""runs: partial indexes over queued and running runs replace (status, created_at)

Revision ID: 0005_queue_index
Revises: 0004_realtime
Create Date: 2026-12-02 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_queue_index"
down_revision: str | None = "0004_realtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("status = 'queued'")
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_created_at")
        batch_op.create_index(
            "ix_runs_queue",
            ["queued_at", "id"],
            unique=False,
            postgresql_where=QUEUED,
            sqlite_where=QUEUED,
        )
        batch_op.create_index(
            "ix_runs_running",
            ["owner_id", "agent_id"],
            unique=False,
            postgresql_where=RUNNING,
            sqlite_where=RUNNING,
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_running", postgresql_where=RUNNING, sqlite_where=RUNNING)
        batch_op.drop_index("ix_runs_queue", postgresql_where=QUEUED, sqlite_where=QUEUED)
        batch_op.create_index("ix_runs_status_created_at", ["status", "created_at"], unique=False)
