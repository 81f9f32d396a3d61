"""`botskis` command line: serve, worker, worker-health, migrate, create-user,
rotate-credentials, openapi."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import NoReturn

import click
from pydantic import ValidationError

from botskis.config import Settings, get_settings, settings_error_line

# Exit codes: 2 for bad input or configuration, 1 for a database (or worker) that cannot serve.
USAGE_ERROR = 2
UNAVAILABLE = 1


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    click.echo(f"botskis: {message}", err=True)
    sys.exit(code)


def _load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        _fail(settings_error_line(exc))


@contextmanager
def _database_errors(settings: Settings) -> Iterator[None]:
    """An unmigrated or unreachable database, before or during the command, is one
    line and exit code 1, not a driver traceback."""
    from sqlalchemy.exc import DBAPIError

    from botskis.database.readiness import DatabaseNotReady, unreachable

    try:
        yield
    except DatabaseNotReady as exc:
        _fail(str(exc), UNAVAILABLE)
    except (DBAPIError, OSError) as exc:
        _fail(str(unreachable(settings.database_url, exc)), UNAVAILABLE)


def _require_schema(settings: Settings) -> None:
    from botskis.database.readiness import require_schema

    with _database_errors(settings):
        asyncio.run(require_schema(settings))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Botskis: a self-hostable platform for AI automation agents."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: PORT or 8000).")
@click.option("--workers", type=int, default=1, show_default=True, help="Uvicorn processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP and WebSocket API."""
    settings = _load_settings()
    _require_schema(settings)
    from botskis.core import metrics

    metrics.remove_stale_multiprocess_dirs()
    samples = metrics.prepare_multiprocess_dir() if workers > 1 else None
    try:
        _run_uvicorn(settings, host, port, workers)
    finally:
        if samples is not None:
            metrics.remove_multiprocess_dir(samples)


def _run_uvicorn(settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "botskis.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        # Client frames are small commands; a huge one is closed with 1009.
        ws_max_size=64 * 1024,
        # Events are small JSON; compression would cost ~100 KB of zlib state per socket.
        ws_per_message_deflate=False,
        # Sans-I/O protocol: keepalive on timers instead of three tasks per socket, cheap sends.
        ws="websockets-sansio",
    )


@main.command()
@click.option(
    "--concurrency", type=int, default=None, help="Runs at once (default: WORKER_CONCURRENCY)."
)
def worker(concurrency: int | None) -> None:
    """Execute queued runs, fire schedules and heal agents until stopped (SIGTERM/SIGINT)."""
    from botskis.queue.worker import run_worker_process

    settings = _load_settings()
    _require_schema(settings)
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": max(1, concurrency)})
    # The same event loop as `serve` (uvicorn picks uvloop): a worker is loop-bound.
    try:
        import uvloop
    except ImportError:
        asyncio.run(run_worker_process(settings))
    else:
        uvloop.run(run_worker_process(settings))


@main.command("worker-health")
def worker_health() -> None:
    """Exit 0 when a `botskis worker` on this host sent a heartbeat within
    WORKER_LEASE_SECONDS, else 1 (a container's health check)."""
    import socket

    from botskis.database.base import utcnow
    from botskis.database.connection import Database
    from botskis.queue.worker import last_heartbeat_on

    settings = _load_settings()
    _require_schema(settings)
    hostname = socket.gethostname()

    async def _last() -> datetime | None:
        database = Database(settings)
        try:
            return await last_heartbeat_on(database, hostname)
        finally:
            await database.dispose()

    with _database_errors(settings):
        beat = asyncio.run(_last())
    if beat is None:
        _fail(f"no worker on {hostname} has sent a heartbeat", UNAVAILABLE)
    age = (utcnow() - beat).total_seconds()
    if age > settings.worker_lease_seconds:
        _fail(f"the last heartbeat of a worker on {hostname} is {age:.0f} s old", UNAVAILABLE)
    click.echo(f"worker on {hostname} alive (heartbeat {age:.1f} s ago)")


@main.command()
@click.option(
    "--output", type=click.Path(dir_okay=False), default=None, help="File (default: stdout)."
)
def openapi(output: str | None) -> None:
    """Print the OpenAPI document the server serves at /openapi.json (for the web
    dashboard's generated client)."""
    import json

    from botskis.app import create_app

    document = create_app(_load_settings()).openapi()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.option("--downgrade", is_flag=True, help="Downgrade to --revision instead of upgrading.")
def migrate(revision: str, downgrade: bool) -> None:
    """Apply database migrations (alembic upgrade head)."""
    from botskis.database import migrate as migrations
    from botskis.database.readiness import location, prepare_sqlite_directory

    settings = _load_settings()
    with _database_errors(settings):
        prepare_sqlite_directory(settings.database_url)
        if downgrade:
            migrations.downgrade(settings.database_url, revision)
        else:
            migrations.upgrade(settings.database_url, revision)
    target = "revision " + revision if downgrade else revision
    click.echo(f"database at {target}: {location(settings.database_url)}")


@main.command("create-user")
@click.option("--email", required=True, help="Email address (login name).")
@click.option("--full-name", default="Administrator", show_default=True)
@click.option("--company", default=None)
@click.option("--superuser", is_flag=True, help="Grant administrator rights.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input, not a prompt."
)
def create_user(
    email: str, full_name: str, company: str | None, superuser: bool, password_stdin: bool
) -> None:
    """Create an account (an operator's superuser, say)."""
    from botskis.core.security import PasswordHasher
    from botskis.database.connection import Database
    from botskis.users import schemas, service
    from botskis.users.errors import EmailTaken

    settings = _load_settings()
    _require_schema(settings)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    try:
        body = schemas.UserCreate(
            email=email, password=password, full_name=full_name, company=company
        )
    except ValidationError as exc:
        _fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))

    async def _create() -> str:
        database = Database(settings)
        try:
            async with database.transaction() as session:
                user = await service.create_user(
                    session,
                    PasswordHasher(settings.bcrypt_rounds),
                    email=body.email,
                    password=body.password,
                    full_name=body.full_name,
                    company=body.company,
                    is_superuser=superuser,
                    # The operator vouches for the address.
                    email_verified=True,
                )
                return str(user.id)
        finally:
            await database.dispose()

    try:
        with _database_errors(settings):
            user_id = asyncio.run(_create())
    except EmailTaken:
        _fail(f"an account with email {body.email} already exists")
    click.echo(f"created {'superuser' if superuser else 'user'} {body.email} ({user_id})")


ROTATE_ATTEMPTS = 5


@main.command("rotate-credentials")
def rotate_credentials() -> None:
    """Re-encrypt stored credentials under CREDENTIALS_KEY (after a key rotation)."""
    from sqlalchemy.exc import OperationalError

    from botskis.credentials.errors import CredentialUndecryptable
    from botskis.credentials.service import reencrypt_credentials
    from botskis.credentials.vault import UndecryptableSecret, Vault
    from botskis.database import models  # noqa: F401  (every table, for foreign key types)
    from botskis.database.connection import Database
    from botskis.mail.service import reencrypt_queued_mail
    from botskis.users.two_factor import reencrypt_secrets

    settings = _load_settings()
    vault = Vault.from_settings(settings)
    _require_schema(settings)

    async def _rotate() -> tuple[int, int, int]:
        """Everything the vault key seals, in one transaction: all moved, or none."""
        database = Database(settings)
        try:
            for attempt in range(ROTATE_ATTEMPTS):
                try:
                    async with database.transaction() as session:
                        return (
                            await reencrypt_credentials(session, vault),
                            await reencrypt_secrets(session, vault),
                            await reencrypt_queued_mail(session, vault),
                        )
                except OperationalError:
                    # SQLite has one writer: a running server may hold the lock or move
                    # the snapshot under us. The batch is atomic, so trying again is safe.
                    if attempt == ROTATE_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise AssertionError("unreachable")
        finally:
            await database.dispose()

    try:
        with _database_errors(settings):
            credentials, two_factor, mail = asyncio.run(_rotate())
    except CredentialUndecryptable as exc:
        _fail(f"{exc.detail}; nothing was changed")
    except UndecryptableSecret as exc:
        _fail(f"a stored two-factor or mail {exc}; nothing was changed")
    click.echo(f"re-encrypted {credentials} credential(s) under key '{vault.current_key_id}'")
    click.echo(f"re-encrypted {two_factor} two-factor secret(s) and {mail} queued mail(s)")


if __name__ == "__main__":
    main()
