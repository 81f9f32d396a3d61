"""create_app(): settings, logging, database, middleware, routers, lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from botskis import __version__
from botskis.api import health, websocket
from botskis.api.dashboard import install_dashboard
from botskis.api.docs import install_docs
from botskis.api.middleware import install_middleware
from botskis.api.openapi import document_errors
from botskis.api.router import include_api
from botskis.billing.stripe_api import create_stripe_api
from botskis.config import Settings, get_settings
from botskis.core import metrics
from botskis.core.errors import install_error_handlers
from botskis.core.logging import setup_logging
from botskis.core.ratelimit import RateLimiter
from botskis.core.security import PasswordHasher
from botskis.database.connection import Database
from botskis.marketplace.catalog import get_catalog
from botskis.queue.worker import RunWorker
from botskis.realtime.lifespan import start_realtime, stop_realtime
from botskis.users.lockout import CodeLockout
from botskis.users.token_cache import TokenCache


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    setup_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await app.state.token_cache.start()
        await start_realtime(app, settings, app.state.database)
        worker = RunWorker(app.state.database, settings) if settings.worker_embedded else None
        if worker is not None:
            await worker.start()
        # What start-up built (routes, schemas, the template catalog, ~260,000
        # objects) lives as long as the app: the collector stops walking it on
        # every full collection, which otherwise costs a list request more than
        # its queries. Unfrozen at shutdown, so a stopped app can be collected.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if worker is not None:
                await worker.stop()
            await stop_realtime(app)
            await app.state.database.dispose()
            app.state.hasher.close()
            await app.state.rate_limiter.close()
            await app.state.token_cache.stop()
            await app.state.code_lockout.close()
            if app.state.stripe is not None:
                await app.state.stripe.close()
            metrics.process_exited()

    app = FastAPI(
        title="Botskis",
        version=__version__,
        description="Self-hostable platform for AI automation agents.",
        lifespan=lifespan,
        # Prometheus (/metrics) and loguru are this service's telemetry; FastAPI's
        # OpenTelemetry hooks would only look for providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # Swagger UI and ReDoc come from install_docs, with their assets served here.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.hasher = PasswordHasher(settings.bcrypt_rounds)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.token_cache = TokenCache(settings, app.state.database)
    app.state.code_lockout = CodeLockout(settings, app.state.database)
    app.state.stripe = create_stripe_api(settings)
    # Every template is checked here: a broken file stops start-up naming file and reason.
    app.state.catalog = get_catalog()

    install_error_handlers(app)
    install_middleware(app, settings, app.state.rate_limiter, app.state.token_cache)
    include_api(app)
    app.include_router(websocket.router)
    app.include_router(health.router)
    document_errors(app)
    install_docs(app)  # /docs, /docs/oauth2-redirect, /redoc and their assets
    install_dashboard(app, settings)  # a GET no route matched: the web dashboard
    return app
