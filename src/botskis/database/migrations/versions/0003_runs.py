"""runs, run steps, workers, agent healing

Revision ID: 0003_runs
Revises: 0002_agents
Create Date: 2026-11-26 12:42:02.042084
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import botskis.database.base

revision: str = "0003_runs"
down_revision: str | None = "0002_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_heartbeat", botskis.database.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workers_last_heartbeat"), ["last_heartbeat"], unique=False
        )

    op.create_table(
        "agent_healing",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("probe_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("probe_run_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_healing_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_healing")),
    )
    with op.batch_alter_table("agent_healing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_healing_probe_at"), ["probe_at"], unique=False)

    op.create_table(
        "runs",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("template_slug", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("workflow", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_kind", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_step", sa.String(length=40), nullable=True),
        sa.Column("error_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("auto_healed", sa.Boolean(), nullable=False),
        sa.Column("stopped_reason", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("retry_of_id", sa.Uuid(), nullable=True),
        sa.Column("worker_id", sa.String(length=100), nullable=True),
        sa.Column(
            "lease_expires_at", botskis.database.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("queued_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", botskis.database.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", botskis.database.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_runs_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_runs_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["retry_of_id"], ["runs.id"], name=op.f("fk_runs_retry_of_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("agent_id", "event_id", name="uq_runs_agent_event_id"),
        sa.UniqueConstraint("agent_id", "idempotency_key", name="uq_runs_agent_idempotency_key"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_agent_id_created_at", ["agent_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_runs_error_fingerprint"), ["error_fingerprint"], unique=False
        )
        batch_op.create_index(
            "ix_runs_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_runs_status_created_at", ["status", "created_at"], unique=False)
        batch_op.create_index("ix_runs_worker_id_status", ["worker_id", "status"], unique=False)

    op.create_table(
        "run_steps",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error_kind", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("started_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", botskis.database.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_steps_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_steps")),
        sa.UniqueConstraint("run_id", "step_id", name="uq_run_steps_run_step"),
    )


def downgrade() -> None:
    op.drop_table("run_steps")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_worker_id_status")
        batch_op.drop_index("ix_runs_status_created_at")
        batch_op.drop_index("ix_runs_owner_id_created_at")
        batch_op.drop_index(batch_op.f("ix_runs_error_fingerprint"))
        batch_op.drop_index("ix_runs_agent_id_created_at")

    op.drop_table("runs")
    with op.batch_alter_table("agent_healing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_healing_probe_at"))

    op.drop_table("agent_healing")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workers_last_heartbeat"))

    op.drop_table("workers")
