"""backfill the rollups with the runs that finished before they existed

Revision ID: 0011_backfill_rollups
Revises: 0010_accounts
Create Date: 2026-12-02 14:50:00.000000

Data only. Downgrading leaves the rollups as they are: they still add up to
the runs, and upgrading again adds nothing (see analytics/backfill.py).
"""

from collections.abc import Sequence

from alembic import op
from loguru import logger

from botskis.analytics.backfill import backfill_rollups
from botskis.config import get_settings

revision: str = "0011_backfill_rollups"
down_revision: str | None = "0010_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().as_sql:
        return  # offline SQL has no rows to read
    price = get_settings().llm_price_per_million_tokens
    added = backfill_rollups(op.get_bind(), price_per_million_tokens=price)
    logger.bind(runs=added).info("rollups backfilled")


def downgrade() -> None:
    pass
