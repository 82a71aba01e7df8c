"""Builds the ASGI app for a set of services (all of them in `croupier up`, one in `croupier serve --service`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

import croupier
from croupier.bootstrap import Platform, bootstrap, shutdown
from croupier.kit.config import Settings
from croupier.kit.http import GuardMiddleware, install_error_handlers, problem_response
from croupier.wallet import api as wallet_api

DESCRIPTION = """
The Croupier platform API.

* **Money** is always an integer number of minor units of the currency (EUR 12.34 is `1234`, JPY 500 is `500`,
  BTC 0.001 is `100000`). Floats and strings are refused for amounts.
* **Idempotency**: every command that moves money carries an `idempotency_key`. Repeating it with the same content
  returns the original response (`200`, header `Idempotent-Replayed: true`); with different content it is refused
  with `409 idempotency_conflict`.
* **Errors** are RFC 9457 `application/problem+json` documents with a stable `code`.
"""


def build_app(platform: Platform | None = None, settings: Settings | None = None, url: str | None = None) -> FastAPI:
    """An app around a running platform, or (with settings and url) one that bootstraps it in its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = None
        if app.state.platform is None:
            assert settings is not None
            assert url is not None
            started = await bootstrap(settings, url)
            _attach(app, started)
        try:
            yield
        finally:
            if started is not None:
                await shutdown(started)

    config = settings or (platform.settings if platform else Settings())
    app = FastAPI(
        title="Croupier",
        version=croupier.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[{"name": "wallet", "description": "Double-entry ledger: accounts, transfers, holds."}],
    )
    app.state.platform = None
    if platform is not None:
        _attach(app, platform)
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, max_body_bytes=config.max_body_bytes)
    app.include_router(wallet_api.router)

    @app.get("/health/live", tags=["health"], summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], summary="The database is reachable", response_model=None)
    async def ready() -> Any:
        current: Platform | None = app.state.platform
        if current is None:
            return problem_response(503, "service_unavailable", "Not ready", "the platform is starting")
        try:
            async with current.db.connection() as connection:
                await connection.fetchval("SELECT 1")
        except Exception:
            return problem_response(503, "service_unavailable", "Not ready", "the database is not reachable")
        return {"status": "ready", "services": list(current.services)}

    return app


def _attach(app: FastAPI, platform: Platform) -> None:
    app.state.platform = platform
    app.state.wallet = platform.wallet
