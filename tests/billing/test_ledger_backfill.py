"""The ledger's migration counts this month's existing runs per owner."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from botskis.billing.service import month_bounds, month_of
from botskis.database import migrate
from botskis.database.base import utcnow
from botskis.database.models import Base
from tests.databases import sync_url, throwaway_database


def _insert_user(conn: sa.Connection, user_id: uuid.UUID) -> None:
    now = utcnow()
    users = Base.metadata.tables["users"]
    # Only the columns the schema had at this revision (the model's later ones
    # carry Python-side defaults that an insert of the whole table would send).
    names = ("id", "email", "hashed_password", "full_name", "is_active", "is_superuser")
    names += ("plan", "token_version", "created_at", "updated_at")
    conn.execute(
        sa.insert(sa.table("users", *(sa.column(n, users.c[n].type) for n in names))),
        {
            "id": user_id,
            "email": f"{user_id.hex}@example.com",
            "hashed_password": "x",
            "full_name": "Backfilled",
            "is_active": True,
            "is_superuser": False,
            "plan": "starter",
            "token_version": 0,
            "created_at": now,
            "updated_at": now,
        },
    )


def _insert_runs(
    conn: sa.Connection, owner: uuid.UUID, agent: uuid.UUID, count: int, at: object
) -> None:
    conn.execute(
        Base.metadata.tables["runs"].insert(),
        [
            {
                "id": uuid.uuid4(),
                "agent_id": agent,
                "owner_id": owner,
                "template_slug": "report-generator",
                "trigger": "manual",
                "status": "succeeded",
                "input": {},
                "workflow": {"steps": []},
                "attempts": 1,
                "auto_healed": False,
                "queued_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for _ in range(count)
        ],
    )


def _insert_at_revision(conn: sa.Connection, name: str, row: dict[str, object]) -> None:
    """Insert a row with the model's types and scalar defaults, but only into the
    columns the database has at its current revision (later ones add more)."""
    existing = {column["name"] for column in sa.inspect(conn).get_columns(name)}
    model = Base.metadata.tables[name]
    columns = [c for c in model.columns if c.name in existing]
    values = {
        c.name: c.default.arg
        for c in columns
        if c.name not in row and c.default is not None and c.default.is_scalar
    }
    table = sa.table(name, *(sa.column(c.name, c.type) for c in columns))
    conn.execute(table.insert(), {**values, **row})


def test_backfill_counts_this_months_runs_per_owner(tmp_path: Path) -> None:
    busy, idle, quiet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    last_month = month_bounds(now)[0] - timedelta(seconds=1)
    with throwaway_database(tmp_path, "backfill") as url:
        migrate.upgrade(url, "0005_queue_index")
        engine = sa.create_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                agents = {}
                for user in (busy, idle, quiet):
                    _insert_user(conn, user)
                    agents[user] = uuid.uuid4()
                    _insert_at_revision(
                        conn,
                        "agents",
                        {
                            "id": agents[user],
                            "owner_id": user,
                            "template_slug": "report-generator",
                            "name": "a",
                            "config": {},
                            "trigger": {"type": "manual"},
                            "status": "active",
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
                _insert_runs(conn, busy, agents[busy], 3, now)
                _insert_runs(conn, busy, agents[busy], 2, last_month)
                _insert_runs(conn, idle, agents[idle], 1, now)
                _insert_runs(conn, quiet, agents[quiet], 4, last_month)
            migrate.upgrade(url)
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT user_id, month, runs FROM monthly_usage"))
                found = {(str(uuid.UUID(str(u))), str(m)[:10], r) for u, m, r in rows}
        finally:
            engine.dispose()
    month = month_of(now).isoformat()
    assert found == {(str(busy), month, 3), (str(idle), month, 1)}
