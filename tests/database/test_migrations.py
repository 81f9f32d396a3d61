"""Alembic builds the whole schema, tears it down, and matches the models."""

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from botskis.database import migrate
from botskis.database.models import Base
from tests.databases import sync_url, throwaway_database


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(sync_url(url))
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    with throwaway_database(tmp_path, "mig") as url:
        migrate.upgrade(url)
        assert _tables(url) == set(Base.metadata.tables)
        migrate.downgrade(url, "base")
        assert _tables(url) == set()
        migrate.upgrade(url)
        assert _tables(url) == set(Base.metadata.tables)


def test_autogenerate_finds_no_difference(tmp_path: Path) -> None:
    with throwaway_database(tmp_path, "diff") as url:
        migrate.upgrade(url)
        engine = sa.create_engine(sync_url(url))
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
                assert migrate.current_revisions(conn) == migrate.head_revisions()
        finally:
            engine.dispose()


def test_alembic_cli_works_from_repo_root(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    with throwaway_database(tmp_path, "cli") as url:
        env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        alembic = [sys.executable, "-m", "alembic"]
        for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"], ["check"]):
            result = subprocess.run(
                [*alembic, *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, result.stderr
